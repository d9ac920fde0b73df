"""The simulated board's `machine` module: the parts of MicroPython's API the firmware uses, wired to the plant."""
from simboard import vclock
from simboard.vasyncio import Halt

_board = [None]  # the SimBoard these objects are wired to (simboard.board sets it)
_usb = None  # the board's USB CDC for the host link (railbot.port): none, unless the virtual board sets one

PWRON_RESET = 1
WDT_RESET = 3


class BoardReset(Halt):
    """Raised out of the event loop when the board resets (watchdog, machine.reset(), a power cut):
    a BaseException, so no firmware `except Exception` can swallow a reset a real board would make."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


def _name(pin_id):
    b = _board[0]
    if isinstance(pin_id, Pin):
        return pin_id.name
    name = b.wiring.get(pin_id if isinstance(pin_id, str) else "GP%d" % pin_id)
    if name is None:
        raise ValueError("invalid pin %r: not wired on the simulated board" % (pin_id,))
    return name


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.name = _name(pin_id)
        self.id = pin_id
        plant = _board[0].plant
        self._plant = plant
        self._readers = plant.readers
        self._read = plant.readers.get(self.name) and self._sense
        self._out = 0
        self._handler = None
        self._trigger = 0
        self._last = 0
        if value is not None:
            self.value(value)

    def _sense(self):
        return self._readers[self.name]()  # looked up each time: a test may stick a sensor

    def value(self, v=None):
        if v is None:
            return self._read() if self._read is not None else self._out
        self._out = 1 if v else 0
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
        v = self._read()
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
    def __init__(self, id=0, timeout=5000):
        board = _board[0]
        self.timeout_ms = timeout
        board.wdt = self
        self.feed()

    def feed(self):
        self.last_feed_ms = vclock._current[0].now_ms


def reset():
    raise BoardReset(PWRON_RESET)


def soft_reset():
    raise BoardReset(PWRON_RESET)


def reset_cause():
    return _board[0].reset_cause


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


register_mem32(_WDT_CTRL_CLR, write=_wdt_ctrl_clr)
register_mem32(_DMA_CHAN_ABORT, read=lambda: 0, write=_dma_abort)  # an abort completes at once here
