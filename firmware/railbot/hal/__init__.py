"""The hardware layer: the only firmware code that imports `machine` and `rp2`; drivers by pin name."""
import array
import machine
import rp2
import uctypes
from micropython import const
from railbot.pinmap import uart_of_rx
from railbot.native import plan
from micropython import schedule
from railbot.hal.pio import step_pulses, quadrature, READ_COUNT, PULL_BLOCK, MOV_ISR_OSR, HIGH_OVERHEAD, \
    SET_X_4, MOV_X_REVERSE_X, COUNT_MID

# Step words reach the step program through a DMA ring: RING words in a 4*RING-byte aligned window of
# a buffer twice that size, read with the DMA's address wrap (RING_BITS) and paced by the SM's TX DREQ.
RING = 128
_RING_BITS = const(9)  # 2**9 bytes = RING words
_DMA_ABORT = const(0x50000444)  # DMA CHAN_ABORT (RP2040 datasheet 2.5.7): write 1 << channel
_DMA_CTRL_TRIG = const(0x5000000C)  # channel n's CTRL_TRIG at + n * 0x40
_DMA_BUSY = const(0x1000000)  # CTRL_TRIG.BUSY (bit 24)
# The watchdog's CTRL (WATCHDOG_BASE 0x40058000) through its atomic bit-clear alias (+0x3000):
# clearing ENABLE (bit 30) pauses the countdown. MicroPython's machine.WDT has no off switch.
_WDT_CTRL_CLR = const(0x4005B000)
_WDT_ENABLE = const(0x40000000)
# Why the chip last reset (docs/safety.md, "Reset cause"): REASON (read only; bit 0 TIMER: a countdown
# ran out) and SCRATCH4, which machine.WDT sets to the SDK's magic and machine.reset(), the bootloader
# and the bootrom's reboot after a UF2 copy overwrite. SCRATCH3 is railbot's: _ARMED from arming the
# watchdog until watchdog_off() pauses it, so a timeout is railbot's watchdog, and a soft reset after
# Ctrl-C does not report the timeout still in REASON again.
_WDT_REASON = const(0x40058008)
_WDT_SCRATCH3 = const(0x40058018)
_WDT_SCRATCH4 = const(0x4005801C)
_REASON_TIMER = const(1)
_SDK_WDT_MAGIC = const(0x6AB73121)
_ARMED = const(0x2A11B07)
_DREQ_PIO0_TX0 = const(0)
_PIO0_SM0_ADDR = const(0x502000D4)  # SMx_ADDR, the program counter (RP2040 datasheet 3.7), + 0x18 * x
# To drop the step queue (StepOutput.swap and cut), on the step program: `pull noblock` takes a word out of
# the FIFO (dropped), and `jmp <the program's first instruction>` (_JMP_ALWAYS | address, side-set 0:
# STEP low) drops the rest of the word being executed (RP2040 datasheet 3.4.2, 3.4.7).
_PULL_NOBLOCK = const(0x8080)
_JMP_ALWAYS = const(0x0000)
# Hardware.safety[0]'s bits: latched by the interrupt handlers, cleared by reset (the supervisor's
# copies: railbot.supervisor)
_ESTOP_SEEN = const(1)
_LIMIT_SEEN = const(2)


def dma_ctrl_trig(channel):
    """The address of a DMA channel's CTRL_TRIG: computed once by its user (above 2**30 it is a boxed
    int, allocated)."""
    return _DMA_CTRL_TRIG + 0x40 * channel


def dma_abort(abort_bit, ctrl_trig):
    """Stop a DMA channel as the SDK's dma_channel_abort does: CHAN_ABORT (it stops the channel and
    clears its count, RP2040 datasheet 2.5.5.3), then wait for the channel's BUSY to fall. Not
    CHAN_ABORT itself: by erratum RP2040-E13 it can read clear while a read is still in flight,
    which then lands, moving READ_ADDR on and pushing its word. Allocates nothing."""
    mem = machine.mem32
    mem[_DMA_ABORT] = abort_bit
    while mem[ctrl_trig] & _DMA_BUSY:
        pass


class StepOutput:
    """One axis's step/dir pulses: words go into a ring in RAM; DMA moves them into the step program's
    TX FIFO as it empties. Nothing here blocks: `put` is only called while `space()` > 0.

    `commit()` hands the words written since the last call to the DMA: it aborts the running transfer,
    waits for the channel's BUSY to fall (RP2040-E13), reads from READ_ADDR where it had got to, and
    re-arms one transfer for the words left plus the new ones (the 8 words in the FIFO keep the program
    busy meanwhile). So the queue ahead of the program is everything in the ring, however the feeding
    ticks fall (docs/motion.md, "Feeding").
    """

    def __init__(self, sm_id, step_pin, dir_pin, enable_pin, pio_hz, high_cycles):
        sm = rp2.StateMachine(sm_id, step_pulses, freq=pio_hz, sideset_base=step_pin, out_base=dir_pin)
        self.sm = sm
        # ISR = h (STEP high h + 2 cycles), loaded once while the state machine is stopped
        sm.put(high_cycles - HIGH_OVERHEAD)
        sm.exec(PULL_BLOCK)
        sm.exec(MOV_ISR_OSR)
        self.enable_pin = enable_pin
        enable_pin.value(1)
        buf = array.array("I", bytes(8 * RING))
        addr = uctypes.addressof(buf)
        self.base = (addr + 4 * RING - 1) & ~(4 * RING - 1)
        self.off = (self.base - addr) >> 2
        self.buf = buf
        self.dma = dma = rp2.DMA()
        self.ctrl = dma.pack_ctrl(size=2, inc_read=True, inc_write=False, ring_size=_RING_BITS,
                                  ring_sel=False, treq_sel=_DREQ_PIO0_TX0 + sm_id)
        self.abort_bit = 1 << dma.channel
        self.ctrl_trig = dma_ctrl_trig(dma.channel)
        self.w = 0  # next ring index to write
        self.armed_end = 0  # ring index where the armed transfer ends
        self.armed = False  # the channel has been given a transfer (its READ_ADDR is ours)
        self.dirty = False  # words written since the ring was last zeroed
        sm.active(1)
        # the program waits in its first instruction (`pull`, nothing queued): where swap() sends it back
        self.start_pc = machine.mem32[_PIO0_SM0_ADDR + 0x18 * sm_id]

    def _unarmed(self):
        return (self.w - self.armed_end) % RING

    def space(self):
        return RING - 1 - self.dma.count - self._unarmed()

    def pending(self):
        """Words not yet pulled by the step program (ring and FIFO)."""
        ring = self.dma.count + self._unarmed()
        if ring == 0 and self.dirty:
            self._clear()
        return ring + self.sm.tx_fifo()

    def _clear(self):
        # Every word has been read: zero the ring. MicroPython's GC scans an array's data like any
        # other block, so a stale word equal to the address of a heap block would keep that block
        # (and all it points to) alive for as long as the robot stands still.
        buf = self.buf
        for i in range(self.off, self.off + RING):
            buf[i] = 0
        self.dirty = False

    def put(self, word):
        self.buf[self.off + self.w] = word
        self.w = (self.w + 1) % RING
        self.dirty = True

    def put_words(self, words, k):
        """words[0:k], as k put()s (the planner's batch: railbot.plan.ring_copy, native on the board)."""
        self.w = plan.ring_copy(words, k, self.buf, self.off, self.w, RING - 1)
        self.dirty = True

    def commit(self):
        new = self._unarmed()
        if not new:
            return
        dma = self.dma
        start = self.armed_end
        if self.armed:
            # after the abort READ_ADDR points at the next word the channel would have read
            dma_abort(self.abort_bit, self.ctrl_trig)
            start = ((dma.read - self.base) >> 2) % RING
        count = (self.armed_end - start) % RING + new
        dma.config(read=self.base + 4 * start, write=self.sm, count=count, ctrl=self.ctrl, trigger=True)
        self.armed = True
        self.armed_end = self.w

    def cut(self):
        """Drop every queued word and the rest of the one being executed, now (the program stopped
        first: a hard limit's handler did that): DMA aborted, ring and FIFO emptied, the program back
        at its `pull`; steps already made stay made. Returns the words dropped that the program had
        not begun (ring and FIFO). The machine runs again, waiting for the next word."""
        self.sm.active(0)
        n = self.swap(-1)
        self.sm.active(1)
        return n

    def swap(self, word):
        """Replace every queued word and the rest of the one being made by `word` (-1: none), with
        no gap in the steps: the DMA aborted (its landing read waited for), the FIFO emptied with
        `pull noblock` while the program runs (its OSR, the current word's low count, takes a queued
        word's: neighbours' periods differ by a few cycles), the program sent back to its `pull` (a
        step whose pulse was high is cut short) and `word` put straight into the FIFO, which it pulls
        at once. Words put next go out by commit() as ever. Returns the words dropped. For a
        scheduled handler, not a hard one."""
        sm = self.sm
        ring = self._unarmed()
        if self.armed:
            dma_abort(self.abort_bit, self.ctrl_trig)
            ring += (self.armed_end - ((self.dma.read - self.base) >> 2)) % RING
        fifo = 0
        while sm.tx_fifo() and fifo < 16:  # (a word landing late is taken too)
            sm.exec(_PULL_NOBLOCK)
            fifo += 1
        sm.exec(_JMP_ALWAYS | self.start_pc)
        if word >= 0:
            sm.put(word)
        self.armed = False
        self.armed_end = self.w
        return ring + fifo

    def enable(self, on):
        self.enable_pin.value(0 if on else 1)  # TMC2209 EN is active low

    def enabled(self):
        return self.enable_pin.value() == 0


class Encoder:
    """Measuring-wheel counts from the quadrature program; no Python per edge.

    The program keeps the count in X and pushes nothing; count() executes READ_COUNT (`in x, 32`) on
    the state machine, autopush puts X into the RX FIFO, and get() takes it: always the newest count.
    X is preloaded with COUNT_MID before the program starts, so every read is a small int.
    """

    def __init__(self, sm_id, a_pin, b_pin):
        self.sm = sm = rp2.StateMachine(sm_id, quadrature, freq=10000000, in_base=a_pin, jmp_pin=b_pin)
        sm.exec(SET_X_4)
        sm.exec(MOV_X_REVERSE_X)
        sm.active(1)
        self.offset = 0
        self.last = 0

    def count(self):
        sm = self.sm
        while sm.rx_fifo():  # nothing else pushes; a word left by an interrupted read is stale
            sm.get()
        sm.exec(READ_COUNT)
        self.last = sm.get() - COUNT_MID
        return self.last - self.offset

    def zero(self):
        self.count()
        self.offset = self.last


class MarkerReader:
    """Station marker tags from the reader on a UART: lines `T<id>` as a tag enters the window.

    poll() reads only what any() says has arrived: the rp2 port's readinto(buf) would wait for the
    buffer to fill, each next byte up to the inter-character timeout (13000/baud + 1 ms, 3 ms at
    9600 baud), and a tag line would stall the control tick by several ms (docs/motion.md)."""

    def __init__(self, uart):
        self.uart = uart
        self.buf = bytearray(16)
        self.line = bytearray(8)
        self.n = 0
        self.last_tag = -1

    def poll(self):
        """Read pending bytes; return the last complete tag id seen so far (-1 if none)."""
        uart = self.uart
        k = uart.any()
        if not k:
            return self.last_tag
        buf = self.buf
        if k > len(buf):
            k = len(buf)
        k = uart.readinto(buf, k) or 0
        for i in range(k):
            c = buf[i]
            if c == 10:  # end of line
                if self.n >= 2 and self.line[0] == 84:  # 'T'
                    v = 0
                    for j in range(1, self.n):
                        v = v * 10 + self.line[j] - 48
                    self.last_tag = v
                self.n = 0
            elif self.n < len(self.line):
                self.line[self.n] = c
                self.n += 1
        return self.last_tag

    def forget(self):
        self.last_tag = -1


class Servo:
    def __init__(self, pin):
        self.pwm = machine.PWM(pin, freq=50)

    def pulse_us(self, us):
        self.pwm.duty_ns(us * 1000)

    def off(self):
        self.pwm.duty_ns(0)  # no pulses: the servo goes limp


def grip_drive(g, pins):
    """The gripper's driver from its board data: a hobby servo, or a DC gear motor with current sense."""
    if g["kind"] == "dc":
        from railbot.hal.dc import GripMotor  # only DC boards pay for it

        return GripMotor(pins, g["pwm_hz"])
    return Servo(machine.Pin(pins["grip_pwm"]))


class Hardware:
    """Every driver of the robot, built from the board's pin map (name -> pin id)."""

    def __init__(self, pins, watchdog_ms, pio_hz=125000000, x_high_cycles=125, z_high_cycles=125, side=0,
                 marker_baud=9600):
        def inp(name, pull=machine.Pin.PULL_UP):
            return machine.Pin(pins[name], machine.Pin.IN, pull)

        def out(name, v=0):
            return machine.Pin(pins[name], machine.Pin.OUT, value=v)

        self.x_step = StepOutput(0, out("x_step"), out("x_dir"), out("x_enable", 1), pio_hz, x_high_cycles)
        self.z_step = StepOutput(1, out("z_step"), out("z_dir"), out("z_enable", 1), pio_hz, z_high_cycles)
        self.encoder = Encoder(2, inp("enc_a"), inp("enc_b"))
        marker_uart = uart_of_rx(pins["marker_rx"])  # the UART whose RX that pin is (config checked it)
        self.marker = MarkerReader(machine.UART(marker_uart, marker_baud, rx=machine.Pin(pins["marker_rx"])))
        self.home_sw = inp("home_sw")
        self.limit_min = inp("limit_min")
        self.limit_max = inp("limit_max")
        self.x_diag = inp("x_diag")
        # the chain drives 1 while closed: a broken wire must read as the chain open (fail-safe),
        # the other safety inputs read 1 for a fault and keep the pull-up
        self.estop_in = inp("estop_in", machine.Pin.PULL_DOWN)
        self.z_stow_sw = inp("z_stow_sw")
        self.jaw_open_sw = inp("jaw_open_sw")
        self.jaw_closed_sw = inp("jaw_closed_sw")
        self.unit_present_sw = inp("unit_present_sw")
        self.holster_sw = inp("holster_sw")
        self.port_latched_sw = inp("port_latched_sw")
        self.port_occupied_sw = inp("port_occupied_sw")
        self.side_sel = out("side_sel", side)  # as before a reset: never turn the head with the lift up
        self.unlatch = out("unlatch")
        from railbot.hal.pilot import PilotCapture
        self.pilot = PilotCapture(pins["cp_adc"])  # the control pilot, captured by ADC and DMA
        self.safety = bytearray(2)  # [0]: ESTOP_SEEN | LIMIT_SEEN, latched (arm_safety); [1]: soft asked for
        self.reset_by_watchdog = watchdog_timed_out()  # before arming: machine.WDT rewrites SCRATCH4
        machine.mem32[_WDT_SCRATCH3] = _ARMED
        self.wdt = machine.WDT(timeout=watchdog_ms)

    def arm_safety(self, soft):
        """The e-stop chain and the hard limit switches on hard interrupts (docs/safety.md, "E-stop
        and limits"): the chain opening (falling: it drives 1 while closed; a broken wire reads 0)
        and a limit switch tripping (rising; a broken wire reads 1). The handlers allocate nothing:
        they latch a bit in `safety[0]` and ask, once until reset clears it (a bouncing contact's
        further edges change nothing), for `soft` (the supervisor's,
        run by micropython.schedule at the next bytecode boundary: it cuts the step queue and starts
        the ramp-down, then raises the alarm). A limit switch also stops both step programs and
        switches the drivers off here and now (stop category 0)."""
        self._soft = soft
        x, z = self.x_step, self.z_step
        self._x_stop, self._z_stop = x.sm.active, z.sm.active  # bound once: calling them allocates nothing
        self._x_off, self._z_off = x.enable_pin.value, z.enable_pin.value
        self.estop_in.irq(self._on_estop, machine.Pin.IRQ_FALLING, hard=True)
        self.limit_min.irq(self._on_limit, machine.Pin.IRQ_RISING, hard=True)
        self.limit_max.irq(self._on_limit, machine.Pin.IRQ_RISING, hard=True)

    def _on_estop(self, pin):
        s = self.safety
        if s[0] & _ESTOP_SEEN:  # latched already: a bouncing contact's next edges change nothing
            return
        s[0] |= _ESTOP_SEEN
        if not s[1]:
            s[1] = 1
            schedule(self._soft, 0)

    def _on_limit(self, pin):
        self._x_stop(0)
        self._z_stop(0)
        self._x_off(1)  # TMC2209 EN is active low: off
        self._z_off(1)
        s = self.safety
        if s[0] & _LIMIT_SEEN:
            return
        s[0] |= _LIMIT_SEEN
        if not s[1]:
            s[1] = 1
            schedule(self._soft, 0)

    def watchdog_off(self):
        """Pause the watchdog (main.py, after Ctrl-C: the REPL must not be reset under the technician)."""
        machine.mem32[_WDT_CTRL_CLR] = _WDT_ENABLE
        machine.mem32[_WDT_SCRATCH3] = 0


def watchdog_timed_out():
    """True if the chip's last reset was a timeout of the watchdog railbot armed, and railbot has not
    paused that watchdog since (a soft reset after Ctrl-C does not report it again).
    machine.reset_cause() cannot tell: it says WDT_RESET for any REASON bit, so also after
    machine.reset(), after the bootloader and a UF2 copy, and after every soft reset that follows."""
    mem = machine.mem32
    return bool(mem[_WDT_REASON] & _REASON_TIMER) and mem[_WDT_SCRATCH4] == _SDK_WDT_MAGIC \
        and mem[_WDT_SCRATCH3] == _ARMED
