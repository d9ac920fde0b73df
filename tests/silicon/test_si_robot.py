"""The image a technician flashes (railbot frozen in) on the emulated RP2040: main.py builds the robot from the PICO board data with the real drivers, and the host tools work over the firmware's real USB CDC path (port.Usb)."""

import time

import pytest
import serial
from si_support import run_cli

from railbot import config
from railbot_host import link as hostlink
from railbot_host import silicon
from railbot_host.link import Link
from railbot_host.silicon import EmulatedBoard, board_files


@pytest.fixture(scope="module")
def eb(frozen):
    with EmulatedBoard(frozen, files=board_files("PICO")) as board:
        board.wait_boot(1)
        yield board


def test_main_builds_the_robot_from_the_pico_board_data(eb):
    r = run_cli("status", "--port", eb.url)
    # no plant is wired to the pins yet (issue 13): open inputs read as tripped (fail-safe wiring)
    assert "ok <ALARM" in r.stdout and "raised" in r.stdout, r.stdout + r.stderr
    assert "(frozen, PICO)" in r.stdout and "same firmware as the host" in r.stdout
    assert eb.boots()[-1]["n"] == 1  # nothing rebooted it


def test_config_get_set_and_log_over_usb(eb):
    good = run_cli("config", "get", "x.v_max_mm_s", "--port", eb.url)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_cli("config", "set", "x.v_max_mm_s", "99999", "--port", eb.url)
    assert bad.returncode == 1 and "v_max_mm_s" in (bad.stdout + bad.stderr)
    again = run_cli("config", "get", "x.v_max_mm_s", "--port", eb.url)
    assert again.stdout == good.stdout  # the bad value changed nothing
    ok = run_cli("config", "set", "x.v_max_mm_s", "900", "--port", eb.url)
    assert ok.returncode == 0, ok.stdout + ok.stderr  # written to littlefs on the NOR model
    assert "900" in run_cli("config", "get", "x.v_max_mm_s", "--port", eb.url).stdout
    log = run_cli("log", "--port", eb.url)
    assert log.returncode == 0 and "alarm code=" in log.stdout


def test_console_session(eb):
    r = run_cli("console", "--port", eb.url, input="status\nalarms\n", timeout=120)
    assert "ok <ALARM" in r.stdout, r.stdout + r.stderr
    assert "WATCHDOG_RESET" in r.stdout  # the alarm table


def test_a_host_that_stops_reading(eb):
    """The host says hello, sends requests and stops reading: the board's USB IN transfers are
    NAKed once the host's tty buffer is full. The robot goes on (no reboot); when the host reads
    again the link answers."""
    stream = serial.serial_for_url(eb.url, baudrate=115200, timeout=0.02)
    try:
        link = Link(stream, timeout_s=5.0)
        link.hello()
        eb.host_reads(False)
        deadline = time.monotonic() + 120
        n = 0
        while eb.stats()["usb"]["inNaks"] == 0 and time.monotonic() < deadline:
            for _ in range(4):  # the alarm table: about 230 bytes a reply
                link._send(hostlink.REQUEST, 40000 + n, "alarms")
                n += 1
            time.sleep(1.0)
        st = eb.stats()
        assert st["usb"]["inNaks"] > 0, st["usb"]  # the host's 4 KB are full: the board is NAKed
        t_ns = st["nanos"]
        while eb.stats()["nanos"] - t_ns < 2.5e9 and time.monotonic() < deadline:  # > the watchdog's 2 s
            time.sleep(0.5)
        assert eb.stats()["nanos"] - t_ns >= 2.5e9
        eb.host_reads(True)
        assert link.request("status").startswith("ok <ALARM")
    finally:
        stream.close()
    assert eb.boots()[-1]["n"] == 1


def test_ctrl_c_stops_the_robot_and_pauses_the_watchdog(eb):
    """mpremote's Ctrl-C while main.py runs: a controlled stop, drivers off, the watchdog paused
    through its real register (CTRL.ENABLE, bit 30), and the prompt stays for 3 s of chip time."""
    assert run_cli("status", "--port", eb.url).stdout.startswith("> status\nok <")  # main.py serves
    with eb.connect() as c:
        c.write(b"\r\x03")
        head = c.read_until(b">>> ", timeout=60)
        assert b"railbot: KeyboardInterrupt: axes stopped, drivers off" in head
        c.enter_raw()
        _, pins = config.load_board(str(silicon.BOARDS / "PICO"))  # the firmware's own reading of pins.csv
        enable = {n: g for n, g in pins.items() if n.endswith("_enable")}
        out, err = c.exec("import machine, time\n"
                          "t = time.ticks_ms()\n"
                          "time.sleep_ms(3000)\n"
                          "print(machine.mem32[0x40058000] >> 30 & 1, time.ticks_diff(time.ticks_ms(), t),"
                          + ",".join(f"machine.Pin({g!r}).value()" for g in enable.values()) + ")",
                          timeout=120)
        assert err == ""
        wd, ms, *levels = map(int, out.split())
        assert wd == 0 and ms >= 3000
        assert levels == [1] * len(enable)  # drivers off: TMC2209 EN is active low
    assert eb.boots()[-1]["n"] == 1
    # back to work for the tests after this one
    with eb.connect() as c:
        c.write(b"\x04")  # soft reset: main.py runs again


def _interrupt_and_run(eb, code: str, boot: int) -> str:
    """Ctrl-C main.py, start `code` in the raw REPL, and the cause of the boot it leads to."""
    with eb.connect() as c:
        c.write(b"\r\x03")
        c.read_until(b">>> ", timeout=60)
        c.enter_raw()
        c.start_exec(code)
        return eb.wait_boot(boot, timeout=120)["cause"]


def test_an_unexpected_watchdog_timeout_and_a_reset(frozen):
    with EmulatedBoard(frozen, files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        # build the robot at the REPL (it arms the watchdog) and leave it unfed: a hang
        assert _interrupt_and_run(eb, "import main\nr = main.build()\nwhile True: pass", 2) == "watchdog"
        r = run_cli("status", "--port", eb.url)
        assert "|alarm:6|" in r.stdout, r.stdout + r.stderr  # 6 WATCHDOG_RESET, firmware/railbot/alarms.py
        assert _interrupt_and_run(eb, "import machine\nmachine.reset()", 3) == "force"
        r = run_cli("status", "--port", eb.url)
        assert "|alarm:6|" not in r.stdout and "ok <ALARM" in r.stdout, r.stdout + r.stderr
