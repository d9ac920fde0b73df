"""Each fix the harness applies to rp2040js, shown on the stock MicroPython image: what the real port does with the fix, and what goes wrong without it (docs/silicon.md)."""

import pytest

from railbot_host.silicon import EmulatedBoard


def run(stock, code, *, no_fix=(), timeout=30.0, files=None):
    """`code` in the raw REPL of a freshly booted stock image: (stdout, stderr, board stats)."""
    with EmulatedBoard(stock, no_fix=no_fix, files=files if files is not None else {"hello.txt": b"hi"}) as eb:
        eb.wait_boot(1)
        with eb.connect() as c:
            c.enter_raw()
            out, err = c.exec(code, timeout)
        return out, err, eb.stats()


def hangs(stock, code, *, no_fix, timeout=8.0):
    with pytest.raises((TimeoutError, EOFError)):
        run(stock, code, no_fix=no_fix, timeout=timeout)


FLASH = """
import os, machine
print(sorted(os.listdir('/')), machine.unique_id().hex())
with open('/saved.txt', 'w') as f:
    f.write('x' * 5000)
os.sync() if hasattr(os, 'sync') else None
print(os.stat('/saved.txt')[6])
"""


def test_flash_mounts_littlefs_and_keeps_writes(stock):
    out, err, st = run(stock, FLASH)
    assert err == ""
    names, uid, size = out.split("]")[0] + "]", out.split("]")[1].split()[0], out.split()[-1]
    assert names == "['hello.txt']" and uid == "e6613852834a2b2c" and size == "5000"
    assert st["flash_erases"] >= 2 and st["flash_programs"] >= 20  # 5000 bytes: 20 pages and more
    # a program takes its datasheet time on the emulated clock: the CPU waits for it
    assert st["flash_busy_ns"] >= st["flash_erases"] * 45_000_000


def _kept_after_power_cycle(stock, no_fix=()):
    with EmulatedBoard(stock, files={}, no_fix=no_fix) as eb:
        eb.wait_boot(1)
        with eb.connect() as c:
            c.enter_raw()
            out, err = c.exec("import machine\nprint(machine.unique_id().hex())\n"
                              "open('/kept.txt','w').write('still here')")
        eb.power_cycle()
        eb.wait_boot(2)
        with eb.connect() as c:
            c.enter_raw()
            return out.strip(), c.exec("import os\nprint('kept.txt' in os.listdir('/'))")[0].strip()


def test_a_write_survives_a_power_cycle(stock):
    assert _kept_after_power_cycle(stock) == ("e6613852834a2b2c", "True")


def test_without_the_flash_fix_writes_vanish_and_the_id_is_zero(stock):
    # littlefs still mounts (reads are XIP, straight from the array) but no program reaches it
    assert _kept_after_power_cycle(stock, ("flash",)) == ("0000000000000000", "False")


UART = """
import machine, time
u = machine.UART(0, 9600, tx=machine.Pin(0), rx=machine.Pin(1))
t = time.ticks_us()
u.write(b'0123456789' * 8)
u.flush()
print(time.ticks_diff(time.ticks_us(), t), u.txdone())
"""


def test_uart_sends_at_its_baud_rate(stock):
    out, err, _ = run(stock, UART)
    assert err == ""
    us, done = out.split()
    # 80 bytes of 10 bits at 9600 baud: 83.3 ms; the last byte ends after the FIFO drains
    assert done == "True" and 80_000 <= int(us) <= 86_000


def test_without_the_uart_fix_its_handler_never_returns(stock):
    hangs(stock, UART, no_fix=("uart",))


GPIO = """
from machine import Pin
o = Pin(15, Pin.OUT, value=1)
print(o.value(), Pin(16, Pin.IN, Pin.PULL_UP).value(), Pin(17, Pin.IN, Pin.PULL_DOWN).value())
"""


def test_a_pin_reads_its_pad(stock):
    assert run(stock, GPIO)[0].split() == ["1", "1", "0"]


def test_without_the_gpio_fix_an_output_and_a_pull_up_read_0(stock):
    assert run(stock, GPIO, no_fix=("gpio_in",))[0].split() == ["0", "0", "0"]


def _reboot(stock, code, no_fix=(), timeout=20.0):
    with EmulatedBoard(stock, files={}, no_fix=no_fix) as eb:
        eb.wait_boot(1)
        c = eb.connect()
        c.enter_raw()
        c.start_exec(code)
        boot = eb.wait_boot(2, timeout=timeout)
        c.close()
        with eb.connect() as c2:
            c2.enter_raw()
            out = c2.exec("import machine\nprint(machine.reset_cause() == machine.WDT_RESET, "
                          "hex(machine.mem32[0x40058008]))")[0].split()
        return boot["cause"], out


def test_a_watchdog_timeout_reboots_the_chip_with_its_reason(stock):
    cause, (wdt, reason) = _reboot(stock, "import machine, time\nw = machine.WDT(timeout=200)\ntime.sleep(2)")
    assert cause == "watchdog" and wdt == "True" and reason == "0x1"  # REASON.TIMER


def test_machine_reset_reboots_the_chip(stock):
    cause, (_, reason) = _reboot(stock, "import machine\nmachine.reset()")
    assert cause == "force" and reason == "0x2"  # REASON.FORCE: not a timeout


def test_without_the_reboot_fix_machine_reset_never_comes_back(stock):
    with pytest.raises(TimeoutError):
        _reboot(stock, "import machine\nmachine.reset()", no_fix=("reboot",), timeout=8)


LONG = "n = 0\n" + "n += 1\n" * 400 + "print(n)"  # about 2800 bytes in one go


def test_usb_takes_a_long_paste_and_sleeps_when_idle(stock):
    with EmulatedBoard(stock, files={}) as eb:
        eb.wait_boot(1)
        with eb.connect() as c:
            c.enter_raw()
            assert c.exec(LONG)[0].strip() == "400"
            st0 = eb.stats()
            c.exec("import time\ntime.sleep_ms(500)")
        st = eb.stats()
    # nothing to send: the host NAKs, so the board's CPU sleeps instead of taking empty packets
    assert st["usb"]["outEmptyPackets"] == st0["usb"]["outEmptyPackets"] == 0


def test_without_the_usb_fix_a_long_paste_loses_bytes(stock):
    with EmulatedBoard(stock, files={}, no_fix=("usb",)) as eb:
        eb.wait_boot(1)
        with eb.connect() as c:
            c.enter_raw()
            c.write(LONG.encode() + b"\x04")
            with pytest.raises(TimeoutError):  # the raw REPL never ran it as sent
                c.read_until(b"OK400\r\n\x04", timeout=8)


PIO = """
import rp2, time
@rp2.asm_pio()
def down():
    label('top')
    jmp(x_dec, 'top') [31]    # 32 PIO cycles a turn, X one less each

sm = rp2.StateMachine(0, down, freq=2_000_000)   # CLKDIV 62.5: 16 us a turn
sm.exec('set(x, 0)')
t = time.ticks_us()
sm.active(1)
time.sleep_ms(3)
sm.active(0)
t = time.ticks_diff(time.ticks_us(), t)
sm.exec('in_(x, 32)')
sm.exec('push()')
print(t, (-sm.get()) & 0xffffffff)
"""


def test_the_pio_runs_at_its_clock_divider_with_its_delays(stock):
    us, turns = map(int, run(stock, PIO)[0].split())
    assert abs(turns - us / 16) <= 2, (us, turns)


def test_without_lockstep_the_pio_ignores_divider_and_delays(stock):
    us, turns = map(int, run(stock, PIO, no_fix=("pio",))[0].split())
    assert abs(turns - us / 16) > 2, (us, turns)


DMA_WHILE_ASLEEP = """
import rp2, time
@rp2.asm_pio()
def sink():
    pull(block) [31]          # one word every 32 PIO cycles: 16 us at 2 MHz
sm = rp2.StateMachine(0, sink, freq=2_000_000)
words = bytearray(256)
d = rp2.DMA()
d.config(read=words, write=sm, count=64, ctrl=d.pack_ctrl(inc_write=False, treq_sel=0), trigger=True)
sm.active(1)
time.sleep_ms(5)   # the core sleeps; the PIO's DREQ asks for each next word meanwhile
print(d.count, d.active())
"""


def test_a_dma_transfer_due_while_the_core_sleeps_runs(stock):
    """rp2040js says 0 ns to the next alarm both when none is set and when one is due now (a DMA
    transfer the PIO's DREQ asks for while the core sleeps): the board took both for "idle,
    nothing scheduled" and froze the chip's time."""
    out, err, _ = run(stock, DMA_WHILE_ASLEEP, timeout=30)
    assert err == "" and out.split() == ["0", "False"], err
