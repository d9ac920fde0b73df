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
        # Three attributes: on the board a Pin is a static C object (no heap at all), and the bench
        # counts what the firmware's Pin objects hold as firmware heap. The pad's state is the
        # board's (SimBoard.pad_*), made with the board, as the chip's pads are.
        self.gpio = pin_id.gpio if isinstance(pin_id, Pin) else _gpio_of(pin_id)
        self.name = _name(pin_id)
        self._wired = self.name in _board[0].plant.readers
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        b = _board[0]
        if value is not None:
            self.value(value)
        if mode != -1:
            b.pad_mode[self.gpio] = mode
        b.pad_pulls[self.gpio] = 0 if pull is None or pull == -1 else pull

    def _sense(self):
        v = _board[0].plant.readers[self.name]()  # looked up each time: a test may stick a sensor or open its wire
        if v < 0:
            return self._open()
        _board[0].pad_kept[self.gpio] = v
        return v

    def _open(self):
        b = _board[0]
        pull = b.pad_pulls[self.gpio]
        if pull == Pin.PULL_UP:
            return 1
        if pull == Pin.PULL_DOWN:
            return 0
        if pull:
            return b.pad_kept[self.gpio]
        return b.pad_rng.below(2)

    def value(self, v=None):
        b = _board[0]
        if v is None:
            if self._wired:
                return self._sense()
            if b.pad_mode[self.gpio] == Pin.IN:
                return self._open()
            return b.pad_out[self.gpio]
        out = 1 if v else 0
        b.pad_out[self.gpio] = out
        if self.name is not None:
            b.plant.write(self.name, out)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        b = _board[0]
        irq_pins = b.plant.irq_pins
        for p in [p for p in irq_pins if p.gpio == self.gpio]:
            irq_pins.remove(p)
        if handler is not None:
            b.pad_irq[self.gpio] = [handler, trigger, self.value()]
            irq_pins.append(self)

    def check_irq(self):
        st = _board[0].pad_irq[self.gpio]
        v = self.value()
        if v != st[2]:
            st[2] = v
            if st[1] & (Pin.IRQ_RISING if v else Pin.IRQ_FALLING):
                st[0](self)
                vclock._current[0].poke()


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
        self.ainsel = _ainsel(pin)
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
        n = pin_id.gpio
    else:
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
        return (clock.now_ms - self.t0_ms) * 1000 + clock.now_us - self.t0_us

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
        clock = vclock._current[0]
        self.result = r = self._convert(clock.now_ms, clock.now_us)
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
            clock = vclock._current[0]
            self.t0_ms = clock.now_ms
            self.t0_us = clock.now_us
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
            clock = vclock._current[0]
            self.t0_ms = clock.now_ms
            self.t0_us = clock.now_us
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
        clock = vclock._current[0]
        return clock.now_ms * 1000 + clock.now_us

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

_DMA_BASE = 0x50000000  # channel n's registers at n * 0x40: READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL_TRIG
_DMA_CHAN_ABORT = 0x50000444
_PIO0_BASE = 0x50200000
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


def _ctrl_trig(ch):
    def read():
        c = _board[0].dma_channels[ch]
        return 0 if c is None else c._ctrl_trig()

    return read


register_mem32(_WDT_CTRL_CLR, write=_wdt_ctrl_clr)
register_mem32(WDT_REASON, read=lambda: _board[0].wdt_reason, write=_ignore)  # read only on the chip: a write does nothing
for _i in range(8):
    _r, _w = _scratch_register(_i)
    register_mem32(WDT_SCRATCH0 + 4 * _i, read=_r, write=_w)
# CHAN_ABORT reads clear at once, even while a read is still in flight (erratum RP2040-E13): the
# channel's BUSY (CTRL_TRIG bit 24) says when it has retired
register_mem32(_DMA_CHAN_ABORT, read=lambda: 0, write=_dma_abort)


def _sm_addr(i):
    def read():
        m = _board[0].state_machines.get(i)
        if m is None or not hasattr(m, "addr"):
            raise RuntimeError("the simulated board models SMx_ADDR only for the step program's machines")
        return m.addr()
    return read


for _i in range(4):  # PIO0's SMx_ADDR (RP2040 datasheet 3.7: 0x0d4 + 0x18 * x): the program counter
    register_mem32(_PIO0_BASE + 0x0D4 + 0x18 * _i, read=_sm_addr(_i))
for _ch in range(12):
    register_mem32(_DMA_BASE + 0x40 * _ch + 0x0C, read=_ctrl_trig(_ch))  # CTRL_TRIG (read only here)
register_mem32(_ADC_CS, read=lambda: _adc_hw().read_cs(), write=lambda v: _adc_hw().write_cs(v))
register_mem32(_ADC_RESULT, read=lambda: _adc_hw().read_result())
register_mem32(_ADC_FCS, read=lambda: _adc_hw().read_fcs(), write=lambda v: _adc_hw().write_fcs(v))
register_mem32(ADC_FIFO_ADDR, read=lambda: _adc_hw().read_fifo())
register_mem32(_ADC_DIV, read=lambda: _adc_hw().div, write=lambda v: _adc_hw().write_div(v))
