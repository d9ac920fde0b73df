"""The simulated board's `machine` module: the parts of MicroPython's API the firmware uses, wired to the plant."""
from simboard import vclock
from simboard.vasyncio import Halt

_board = [None]  # the SimBoard these objects are wired to (simboard.board sets it)
_usb = None  # the board's USB CDC for the host link (railbot.port): none, unless the virtual board sets one

PWRON_RESET = 1
WDT_RESET = 3


class BoardReset(Halt):
    """Raised out of the event loop when the board resets (watchdog, machine.reset(), bootloader(),
    a power cut) or the interpreter soft-resets (cause SOFT_RESET); SimBoard.reboot(cause) follows.
    A BaseException (vasyncio.Halt), so no firmware `except Exception` swallows what a board would do."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


GPIO_COUNT = 30  # RP2040: GPIO0..GPIO29


def _gpio_of(pin_id):
    """The GPIO number of a Pin id as the rp2 port takes it: an int 0..29, a board name of the
    board's pin_names (railbot.config.PIN_TABLES: "GP23" is none on a Pico), or a CPU name "GPIO23"
    (every rp2 build has those). Anything else raises ValueError, as on the board."""
    if isinstance(pin_id, int):
        if 0 <= pin_id < GPIO_COUNT:
            return pin_id
        raise ValueError("invalid pin")
    n = -1
    if isinstance(pin_id, str):
        cpu = pin_id[:4] == "GPIO"
        digits = pin_id[4:] if cpu else pin_id[2:] if pin_id[:2] == "GP" else ""
        if digits.isdigit() and str(int(digits)) == digits:
            n = int(digits)
            if not cpu and n not in _board[0].pin_table:
                n = -1
    if 0 <= n < GPIO_COUNT:
        return n
    raise ValueError('unknown named pin "%s"' % (pin_id,))


def _name(pin_id):
    # the plant signal wired to a pin (None: nothing is connected to it)
    if isinstance(pin_id, Pin):
        return pin_id.name
    return _board[0].wiring.get("GP%d" % _gpio_of(pin_id))


class Pin:
    """A GPIO as the rp2 port's Pin. An input reads the plant signal wired to it; with nothing
    driving it (no signal wired, or plant.open_wire(name)) it reads its pad's pull: PULL_UP 1,
    PULL_DOWN 0, both (the pad's bus keeper) the last level it read, none: a floating input, a
    seeded random bit each read (noise). The pad's pull is the board's (SimBoard.pad_pulls): set
    by Pin(id, mode, pull) (no pull given: none, as the port), kept by Pin(id) alone; after a reset
    every pad has its pull-down (the RP2040's reset state)."""
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.gpio = pin_id.gpio if isinstance(pin_id, Pin) else _gpio_of(pin_id)
        self.name = _name(pin_id)
        self.id = pin_id
        plant = _board[0].plant
        self._plant = plant
        self._readers = plant.readers
        self._read = plant.readers.get(self.name) and self._sense
        self._mode = -1
        self._kept = 0
        self._out = 0
        self._handler = None
        self._trigger = 0
        self._last = 0
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.value(value)
        if mode != -1:
            self._mode = mode
        _board[0].pad_pulls[self.gpio] = 0 if pull is None or pull == -1 else pull

    def _sense(self):
        v = self._readers[self.name]()  # looked up each time: a test may stick a sensor or open its wire
        if v < 0:
            return self._open()
        self._kept = v
        return v

    def _open(self):
        pull = _board[0].pad_pulls[self.gpio]
        if pull == Pin.PULL_UP:
            return 1
        if pull == Pin.PULL_DOWN:
            return 0
        if pull:
            return self._kept
        return _board[0].pad_rng.below(2)

    def value(self, v=None):
        if v is None:
            if self._read is not None:
                return self._read()
            if self._mode == Pin.IN:
                return self._open()
            return self._out
        self._out = 1 if v else 0
        if self.name is not None:
            self._plant.write(self.name, self._out)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        irq_pins = self._plant.irq_pins
        if self in irq_pins:
            irq_pins.remove(self)
        self._handler = handler
        self._trigger = trigger
        if handler is not None:
            self._last = self.value()
            irq_pins.append(self)

    def check_irq(self):
        v = self.value()
        if v != self._last:
            self._last = v
            if self._trigger & (Pin.IRQ_RISING if v else Pin.IRQ_FALLING):
                self._handler(self)


class PWM:
    def __init__(self, pin, freq=50, duty_u16=0, duty_ns=0):
        self.name = pin.name if isinstance(pin, Pin) else _name(pin)
        self._plant = _board[0].plant
        self._freq = freq
        self._ns = 0
        if duty_ns:
            self.duty_ns(duty_ns)
        elif duty_u16:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_ns(self, ns=None):
        if ns is None:
            return self._ns
        self._ns = ns
        self._plant.pwm(self.name, ns, self._freq)

    def duty_u16(self, d=None):
        period_ns = 1000000000 // self._freq
        if d is None:
            return self._ns * 65535 // period_ns
        self.duty_ns(d * period_ns // 65535)

    def deinit(self):
        self.duty_ns(0)


class ADC:
    def __init__(self, pin):
        self.name = pin.name if isinstance(pin, Pin) else _name(pin)
        plant = _board[0].plant
        if self.name == "cp_adc":
            self._read = plant.cp_raw
        elif self.name == "grip_isense":
            self._read = plant.grip_isense
        else:
            raise ValueError("no analog signal on %s" % self.name)

    def read_u16(self):
        return self._read()


class UART:
    """A UART as MicroPython's rp2 port runs it (ports/rp2/machine_uart.c), its waits on the virtual
    clock: read()/readinto() wait up to `timeout` ms for the first byte and then up to `timeout_char`
    ms (at least 13000/baud + 1) for each next one, until the buffer is full: a read of more than
    any() bytes stalls the caller. write() puts what fits in the `txbuf` ring at once; the rest
    waits, a byte time each, as the line drains (at 10 bits a byte the wait never reaches
    timeout_char, so the whole write blocks). txdone(): nothing left to send."""

    def __init__(self, uart_id, baudrate=9600, tx=None, rx=None, timeout=0, timeout_char=0, txbuf=256, rxbuf=256,
                 **kw):
        name = rx.name if isinstance(rx, Pin) else _name(rx) if rx is not None else None
        b = _board[0]
        self._out = None
        if name == "marker_rx":
            self._buf = b.plant.marker_rx
        elif name == "link_rx":  # the host link's UART: the board's link_in / link_out byte pipes
            self._buf = b.link_in
            self._out = b.link_out
        else:
            raise ValueError("UART(%r): rx must be marker_rx or link_rx on the simulated board" % (uart_id,))
        self._baud = baudrate
        self._timeout = timeout
        self._timeout_char = max(timeout_char, 13000 // baudrate + 1)
        self._txbuf = txbuf
        self._byte_us = 10000000 // baudrate
        self._tx_end_us = 0  # when the last byte written will have left the line

    def any(self):
        return len(self._buf)

    def _wait_byte(self, start, timeout):
        """Wait (blocking: the plant moves, nothing else runs) for a byte; False after `timeout` ms."""
        clock = vclock._current[0]
        while not self._buf:
            if clock.now_ms - start > timeout:
                return False
            clock.advance_to(clock.now_ms + 1)
        return True

    def read(self, n=-1):
        buf = bytearray(len(self._buf) if n < 0 else n)
        k = self.readinto(buf) if len(buf) else 0
        return bytes(buf[:k]) if k else None

    def readinto(self, buf, nbytes=-1):
        want = len(buf) if nbytes < 0 else nbytes
        clock = vclock._current[0]
        start, timeout = clock.now_ms, self._timeout
        i = 0
        while i < want:
            if not self._wait_byte(start, timeout):
                return i if i else None
            buf[i] = self._buf[0]
            self._buf[:1] = b""
            i += 1
            start, timeout = clock.now_ms, self._timeout_char
        return want

    def _now_us(self):
        from simboard import vtime
        return vclock._current[0].now_ms * 1000 + vtime.sub_us()

    def _queued(self):
        left = self._tx_end_us - self._now_us()
        return (left + self._byte_us - 1) // self._byte_us if left > 0 else 0

    def write(self, data):
        n = len(data)
        if self._out is not None:
            self._out.extend(data)
        now = self._now_us()
        if self._tx_end_us < now:
            self._tx_end_us = now
        over = self._queued() + n - self._txbuf
        self._tx_end_us += n * self._byte_us
        if over > 0:  # the bytes beyond the ring go in as the line frees room, a byte time each
            clock = vclock._current[0]
            clock.advance_to(clock.now_ms + (over * self._byte_us + 999) // 1000)
        return n

    def txdone(self):
        return self._tx_end_us <= self._now_us()


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, tid=-1, mode=PERIODIC, period=-1, callback=None, freq=-1):
        self._task = None
        if callback is not None:
            self.init(mode=mode, period=period, callback=callback, freq=freq)

    def init(self, mode=PERIODIC, period=-1, callback=None, freq=-1):
        from simboard import vasyncio as asyncio  # the board's virtual-time event loop
        self.deinit()
        if freq > 0:
            period = 1000 // freq
        self._task = asyncio.get_event_loop().create_task(self._run(mode, period, callback))

    async def _run(self, mode, period, callback):
        from simboard import vasyncio as asyncio
        while True:
            await asyncio.sleep_ms(period)
            callback(self)
            if mode == Timer.ONE_SHOT:
                return

    def deinit(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


class WDT:
    """machine.WDT as the rp2 port's: pico-sdk watchdog_enable() marks SCRATCH4 (0x6ab73121) and
    starts the countdown; the board resets when it runs out (SimBoard._advance: REASON = TIMER)."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if timeout > WDT_TIMEOUT_MAX_MS:
            raise ValueError("timeout exceeds %d" % WDT_TIMEOUT_MAX_MS)
        board = _board[0]
        board.wdt_scratch[4] = SDK_WDT_MAGIC
        self.timeout_ms = timeout
        board.wdt = self
        self.feed()

    def feed(self):
        # one watchdog in the chip: any WDT object's feed reloads it (a paused one stays paused)
        now = vclock._current[0].now_ms
        self.last_feed_ms = now
        w = _board[0].wdt
        if w is not None:
            w.last_feed_ms = now


# The watchdog's registers (RP2040 datasheet 4.7, WATCHDOG_BASE 0x40058000): REASON (+0x08, read
# only: bit 0 TIMER, bit 1 FORCE; both 0 after a power-on or RUN-pin reset) and SCRATCH0..7
# (+0x0C..+0x28). Only a power-on (or RUN-pin) reset clears them: they survive the watchdog's own
# resets and, as everything else of the chip, MicroPython's soft reset. Their state is the
# SimBoard's (wdt_reason, wdt_scratch), so it survives SimBoard.reboot(); a power cut clears it.
WDT_BASE = 0x40058000
WDT_REASON = WDT_BASE + 0x08
WDT_SCRATCH0 = WDT_BASE + 0x0C
REASON_TIMER = 1
REASON_FORCE = 2
WDT_TIMEOUT_MAX_MS = 8388  # 0xffffff / 2 / 1000 (ports/rp2/machine_wdt.c)
SDK_WDT_MAGIC = 0x6AB73121  # pico-sdk watchdog_enable(): SCRATCH4 (watchdog_enable_caused_reboot)
BOOT_VECTOR_MAGIC = 0xB007C0D3  # watchdog_reboot(pc != 0): SCRATCH4, the bootrom jumps to SCRATCH7
_SRAM_END = 0x20042000
_ROM_USB_BOOT_PC = 0x000025A1  # stand-in for the bootrom's USB-boot entry (thumb bit set); any ROM address
SOFT_RESET = 0  # BoardReset cause of soft_reset(): RAM lost, the chip (registers, watchdog) runs on


def _watchdog_reboot(board, pc, delay_ms):
    # pico-sdk/bootrom watchdog_reboot(pc, SRAM_END, delay_ms); the countdown (delay_ms > 0) ends in
    # REASON = TIMER, a delay of 0 sets CTRL.TRIGGER: REASON = FORCE.
    s = board.wdt_scratch
    if pc:
        s[4] = BOOT_VECTOR_MAGIC
        s[5] = pc ^ (-BOOT_VECTOR_MAGIC & 0xFFFFFFFF)
        s[6] = _SRAM_END
        s[7] = pc
    else:
        s[4] = 0
    board.wdt = None
    board.wdt_reason = REASON_TIMER if delay_ms else REASON_FORCE


def reset():
    """mp_machine_reset(): watchdog_reboot(0, SRAM_END, 0)."""
    _watchdog_reboot(_board[0], 0, 0)
    raise BoardReset(WDT_RESET)


def bootloader():
    """mp_machine_bootloader() -> the bootrom's reset_usb_boot(0, 0): SCRATCH0 and 1 = its two
    arguments, then watchdog_reboot(USB-boot entry, SRAM_END, 10): the chip resets into the USB
    bootloader. The board waits there until a UF2 image is copied to it (SimBoard.flash_uf2())."""
    b = _board[0]
    b.wdt_scratch[0] = 0
    b.wdt_scratch[1] = 0
    _watchdog_reboot(b, _ROM_USB_BOOT_PC, 10)
    raise BoardReset(WDT_RESET)


def soft_reset():
    """MicroPython's soft reset: the interpreter starts over (RAM lost); the chip is not reset, so
    the watchdog registers stay and a running watchdog keeps counting (SimBoard.reboot(SOFT_RESET))."""
    raise BoardReset(SOFT_RESET)


def reset_cause():
    """As the rp2 port (modmachine.c): WDT_RESET if REASON has any bit set (watchdog_caused_reboot()),
    else PWRON_RESET; so also after reset(), after the bootloader and a UF2 copy, and after a soft reset."""
    return WDT_RESET if _board[0].wdt_reason else PWRON_RESET


def freq(hz=None):
    return 125000000


def unique_id():
    return b"SIMBOARD"


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def idle():
    pass


# machine.mem32: the registers the firmware touches, each modelled by a handler registered at its
# address (register_mem32); anything else raises, so firmware that pokes an unmodelled register fails
# here instead of passing untested. The RP2040's atomic aliases (+0x1000 XOR, +0x2000 SET, +0x3000
# CLR) are addresses of their own: a peripheral registers the ones the firmware uses.
_MEM32_READ = {}
_MEM32_WRITE = {}


def register_mem32(addr, read=None, write=None):
    """Model the 32-bit register at `addr`: read() -> int, write(value)."""
    if read is not None:
        _MEM32_READ[addr] = read
    if write is not None:
        _MEM32_WRITE[addr] = write


class _Mem32:
    def __setitem__(self, addr, value):
        fn = _MEM32_WRITE.get(addr)
        if fn is None:
            raise RuntimeError("the simulated board models no register at 0x%08x" % addr)
        fn(value)

    def __getitem__(self, addr):
        fn = _MEM32_READ.get(addr)
        if fn is None:
            raise RuntimeError("the simulated board models no register read at 0x%08x" % addr)
        return fn()


mem32 = _Mem32()

_DMA_CHAN_ABORT = 0x50000444
_WDT_CTRL_CLR = 0x4005B000  # the watchdog's CTRL, atomic bit-clear alias
_WDT_ENABLE = 0x40000000


def _wdt_ctrl_clr(value):
    if value & _WDT_ENABLE:
        _board[0].wdt = None  # paused: it no longer resets the board


def _dma_abort(value):
    chans = _board[0].dma_channels  # claimed by the simulated rp2.DMA, index = channel
    for ch in range(len(chans)):
        if value >> ch & 1 and chans[ch] is not None:
            chans[ch]._abort()


def _scratch_register(i):
    def read():
        return _board[0].wdt_scratch[i]

    def write(value):
        _board[0].wdt_scratch[i] = value & 0xFFFFFFFF

    return read, write


def _ignore(value):
    pass


register_mem32(_WDT_CTRL_CLR, write=_wdt_ctrl_clr)
register_mem32(WDT_REASON, read=lambda: _board[0].wdt_reason, write=_ignore)  # read only on the chip: a write does nothing
for _i in range(8):
    _r, _w = _scratch_register(_i)
    register_mem32(WDT_SCRATCH0 + 4 * _i, read=_r, write=_w)
register_mem32(_DMA_CHAN_ABORT, read=lambda: 0, write=_dma_abort)  # an abort completes at once here
