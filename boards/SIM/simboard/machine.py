"""The simulated board's `machine` module: the parts of MicroPython's API the firmware uses, wired to the plant."""
from simboard import vclock

_board = [None]  # the SimBoard these objects are wired to (simboard.board sets it)
_usb = None  # the board's USB CDC for the host link (railbot.port): none, unless the virtual board sets one

PWRON_RESET = 1
WDT_RESET = 3


class BoardReset(Exception):
    """Raised out of the event loop when the board resets (watchdog or machine.reset())."""

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
    """One ADC input, as MicroPython's rp2 port gives it: read_u16() selects the input, converts once
    and scales the 12-bit result to 16 bits. `read_us` is what one read costs on the virtual clock
    (0: free; the real port spends about 37 us a sample in a Python loop around it, docs/safety.md)."""

    read_us = 0

    def __init__(self, pin):
        self.name = pin.name if isinstance(pin, Pin) else _name(pin)
        self.ainsel = _ainsel(pin.id if isinstance(pin, Pin) else pin)
        if self.name not in _ANALOG:
            raise ValueError("no analog signal on %s" % self.name)
        _adc_hw()  # the ADC's registers exist once an input is set up (MicroPython powers it here)

    def read_u16(self):
        hw = _adc_hw()
        hw.sync()
        if hw.cs & _CS_START_MANY:
            raise RuntimeError("simulated ADC: read_u16() while the ADC runs free (CS.START_MANY): on the board "
                               "it would switch the running capture to input %d" % self.ainsel)
        if self.read_us:
            from simboard import vtime
            vtime.sleep_us(self.read_us)
        hw.cs = (hw.cs & ~_CS_AINSEL) | self.ainsel << 12  # adc_select_input
        if self.name == "grip_isense":  # the gripper's motor current, kept at the plant's 16 bits
            return _board[0].plant.grip_isense()
        r = hw.convert_now()
        return r << 4 | r >> 8


_ANALOG = ("cp_adc", "grip_isense")


def _ainsel(pin_id):
    """The ADC input of a pin: GP26..GP29 are inputs 0..3."""
    if isinstance(pin_id, Pin):
        pin_id = pin_id.id
    n = pin_id if isinstance(pin_id, int) else int(pin_id[2:]) if pin_id[:2] == "GP" and pin_id[2:].isdigit() else -1
    if not 26 <= n <= 29:
        raise ValueError("%r is not an ADC pin GP26..GP29" % (pin_id,))
    return n - 26


# The RP2040 ADC (datasheet 4.9; SDK hardware/regs/adc.h): a 12-bit SAR clocked at 48 MHz, 96 cycles
# a conversion; CS.START_MANY converts free-running, one conversion every 1 + DIV.INT + DIV.FRAC/256
# cycles (never under 96); results go into a 4-deep FIFO (FCS.EN) that asserts DREQ_ADC (36) while it
# holds at least FCS.THRESH results (FCS.DREQ_EN). A result made with the FIFO full is dropped (OVER).
ADC_BASE = 0x4004C000
ADC_FIFO_ADDR = ADC_BASE + 0x0C
DREQ_ADC = 36
_ADC_CS = ADC_BASE
_ADC_RESULT = ADC_BASE + 0x04
_ADC_FCS = ADC_BASE + 0x08
_ADC_DIV = ADC_BASE + 0x10
_CS_EN = 0x1
_CS_TS_EN = 0x2
_CS_START_ONCE = 0x4
_CS_START_MANY = 0x8
_CS_READY = 0x100
_CS_AINSEL = 0x7000
_CS_RROBIN = 0x1F0000
_FCS_EN = 0x1
_FCS_SHIFT = 0x2
_FCS_ERR = 0x4
_FCS_DREQ_EN = 0x8
_FCS_EMPTY = 0x100
_FCS_FULL = 0x200
_FCS_UNDER = 0x400
_FCS_OVER = 0x800
_FCS_THRESH = 0xF000000
_FCS_RW = _FCS_EN | _FCS_SHIFT | _FCS_ERR | _FCS_DREQ_EN | _FCS_THRESH
_ADC_FIFO_DEPTH = 4
_CONV_CYCLES = 96
_UNIT = 256 * 48  # 1/256 cycles of the 48 MHz clock in one us


class _AdcHw:
    """The ADC's registers and its free-running conversions, computed lazily: each register access
    (and the DMA channel's) first makes every conversion whose result is due by now, each sampled at
    its own instant (start + i * period) from the plant."""

    def __init__(self, board):
        self.board = board
        self.ram = board.ram  # a reboot gives the board new RAM, and with it a reset ADC
        self.cs = 0
        self.fcs = 0
        self.div = 0
        self.result = 0
        self.fifo = [0] * _ADC_FIFO_DEPTH
        self.head = 0
        self.level = 0
        self.t0_ms = 0  # the instant START_MANY was set (ms, us into it)
        self.t0_us = 0
        self.next_i = 0  # the next free-running conversion

    def _period(self):
        p = 256 + self.div  # (1 + INT) * 256 + FRAC
        return p if self.div and p > _CONV_CYCLES * 256 else _CONV_CYCLES * 256

    def _elapsed_us(self):
        clock = vclock._current[0]
        from simboard import vtime
        return (clock.now_ms - self.t0_ms) * 1000 + vtime.sub_us() - self.t0_us

    def _convert(self, t_ms, t_us):
        """A conversion of the selected input sampled at t_ms ms + t_us us: 12 bits."""
        name = self.board.wiring.get("GP%d" % (26 + (self.cs >> 12 & 7)))
        plant = self.board.plant
        if name == "cp_adc":
            return plant.cp_code_at(t_ms, t_us)
        if name == "grip_isense":
            return plant.grip_isense() >> 4
        raise RuntimeError("simulated ADC: input %d (CS.AINSEL) has no analog signal wired" % (self.cs >> 12 & 7))

    def convert_now(self):
        from simboard import vtime
        self.result = r = self._convert(vclock._current[0].now_ms, vtime.sub_us())
        if self.fcs & _FCS_EN:
            self._push(r)
        return r

    def _push(self, r):
        if self.level == _ADC_FIFO_DEPTH:
            self.fcs |= _FCS_OVER  # the result is dropped
            return
        if self.fcs & _FCS_SHIFT:
            r >>= 4
        self.fifo[(self.head + self.level) % _ADC_FIFO_DEPTH] = r
        self.level += 1

    def pop(self):
        if not self.level:
            self.fcs |= _FCS_UNDER
            return 0
        r = self.fifo[self.head]
        self.head = (self.head + 1) % _ADC_FIFO_DEPTH
        self.level -= 1
        return r

    def _dma(self):
        for ch in self.board.dma_channels:
            if ch is not None and ch._adc_paced():
                return ch
        return None

    def _drain(self):
        """DREQ_ADC: a channel paced by it takes results while the FIFO holds FCS.THRESH of them."""
        if not self.fcs & _FCS_DREQ_EN:
            return
        ch = self._dma()
        if ch is None:
            return
        thresh = self.fcs >> 24 & 0xF
        if thresh == 0:
            ch._busy = False  # the capture is void; the error is raised once
            raise RuntimeError("simulated ADC: FCS.THRESH 0 asserts DREQ_ADC with the FIFO empty: the DMA would "
                               "read garbage (use 1)")
        if ch._dst_size == 1 and not self.fcs & _FCS_SHIFT:
            ch._busy = False
            raise RuntimeError("simulated ADC: byte transfers of 12-bit results need FCS.SHIFT")
        while self.level >= thresh and ch._adc_paced():
            ch._put_sample(self.pop())

    def sync(self):
        """Make every free-running conversion due by now, in order, and let the DMA take them."""
        if self.cs & (_CS_START_MANY | _CS_EN) == _CS_START_MANY | _CS_EN:
            now = self._elapsed_us() * _UNIT
            p = self._period()
            conv = _CONV_CYCLES * 256
            while self.next_i * p + conv <= now:
                if not self.fcs & _FCS_EN or self.level == _ADC_FIFO_DEPTH and not self._takes():
                    # nothing reaches RAM any more: the results until now only pass through RESULT
                    if self.fcs & _FCS_EN:
                        self.fcs |= _FCS_OVER
                    last = (now - conv) // p
                    self.result = self._convert(self.t0_ms, self.t0_us + last * p // _UNIT)
                    self.next_i = last + 1
                    break
                i = self.next_i
                self.result = r = self._convert(self.t0_ms, self.t0_us + i * p // _UNIT)
                self.next_i = i + 1
                self._push(r)
                self._drain()
        self._drain()

    def _takes(self):
        """True while a DMA channel takes results from the FIFO."""
        return self.fcs & _FCS_DREQ_EN and self._dma() is not None

    def _converting(self):
        return self.cs & _CS_START_MANY and self.next_i * self._period() <= self._elapsed_us() * _UNIT

    def read_cs(self):
        self.sync()
        return self.cs | (0 if self._converting() else _CS_READY)

    def write_cs(self, v):
        self.sync()
        if v & _CS_RROBIN:
            raise RuntimeError("simulated ADC: round-robin sampling (CS.RROBIN) is not modelled")
        was = self.cs
        self.cs = v & (_CS_EN | _CS_TS_EN | _CS_START_MANY | _CS_AINSEL)
        if was & _CS_START_MANY and not v & _CS_START_MANY and self._converting_since(was):
            self.convert_now()  # the conversion under way finishes (2 us: before the firmware looks again)
        if v & _CS_START_MANY and not was & _CS_START_MANY:
            from simboard import vtime
            self.t0_ms = vclock._current[0].now_ms
            self.t0_us = vtime.sub_us()
            self.next_i = 0
        elif v & _CS_START_ONCE and not v & _CS_START_MANY:
            self.convert_now()
        self._drain()

    def _converting_since(self, was):
        cs, self.cs = self.cs, was
        busy = self._converting()
        self.cs = cs
        return busy

    def read_fcs(self):
        self.sync()
        v = self.fcs | self.level << 16
        if self.level == 0:
            v |= _FCS_EMPTY
        if self.level == _ADC_FIFO_DEPTH:
            v |= _FCS_FULL
        return v

    def write_fcs(self, v):
        self.sync()
        sticky = self.fcs & (_FCS_OVER | _FCS_UNDER) & ~v  # write 1 to clear
        self.fcs = (v & _FCS_RW) | sticky
        self._drain()

    def read_fifo(self):
        self.sync()
        return self.pop()

    def read_result(self):
        self.sync()
        return self.result

    def write_div(self, v):
        self.sync()
        self.div = v & 0xFFFFFF
        if self.cs & _CS_START_MANY:  # the divider restarts when written
            from simboard import vtime
            self.t0_ms = vclock._current[0].now_ms
            self.t0_us = vtime.sub_us()
            self.next_i = 0


_adc = [None]


def _adc_hw():
    hw = _adc[0]
    b = _board[0]
    if hw is None or hw.board is not b or hw.ram is not b.ram:
        hw = _adc[0] = _AdcHw(b)
    return hw


def _adc_sync():
    _adc_hw().sync()


class UART:
    def __init__(self, uart_id, baudrate=9600, tx=None, rx=None, **kw):
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

    def any(self):
        return len(self._buf)

    def read(self, n=-1):
        if not self._buf:
            return None
        n = len(self._buf) if n < 0 or n > len(self._buf) else n
        out = bytes(self._buf[:n])
        self._buf[:n] = b""
        return out

    def readinto(self, buf, nbytes=-1):
        n = len(self._buf)
        if not n:
            return None
        m = len(buf) if nbytes < 0 else nbytes
        if n > m:
            n = m
        for i in range(n):
            buf[i] = self._buf[i]
        self._buf[:n] = b""
        return n

    def write(self, data):
        if self._out is not None:
            self._out.extend(data)
        return len(data)


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

_DMA_BASE = 0x50000000  # channel n's registers at n * 0x40: READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL_TRIG
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


def _ctrl_trig(ch):
    def read():
        c = _board[0].dma_channels[ch]
        return 0 if c is None else c._ctrl_trig()

    return read


register_mem32(_WDT_CTRL_CLR, write=_wdt_ctrl_clr)
# CHAN_ABORT reads clear at once, even while a read is still in flight (erratum RP2040-E13): the
# channel's BUSY (CTRL_TRIG bit 24) says when it has retired
register_mem32(_DMA_CHAN_ABORT, read=lambda: 0, write=_dma_abort)
for _ch in range(12):
    register_mem32(_DMA_BASE + 0x40 * _ch + 0x0C, read=_ctrl_trig(_ch))  # CTRL_TRIG (read only here)
register_mem32(_ADC_CS, read=lambda: _adc_hw().read_cs(), write=lambda v: _adc_hw().write_cs(v))
register_mem32(_ADC_RESULT, read=lambda: _adc_hw().read_result())
register_mem32(_ADC_FCS, read=lambda: _adc_hw().read_fcs(), write=lambda v: _adc_hw().write_fcs(v))
register_mem32(ADC_FIFO_ADDR, read=lambda: _adc_hw().read_fifo())
register_mem32(_ADC_DIV, read=lambda: _adc_hw().div, write=lambda v: _adc_hw().write_div(v))
