"""The hardware layer: the only firmware code that imports `machine` and `rp2`; drivers by pin name."""
import machine
import rp2
from railbot.hal.pio import step_pulses, quadrature, READ_COUNT

STEP_FIFO_DEPTH = 8  # TX FIFO joined


class StepOutput:
    """One axis's step/dir pulses from the step program; `put` is only called when `space()` > 0."""

    def __init__(self, sm_id, step_pin, dir_pin, enable_pin):
        self.sm = rp2.StateMachine(sm_id, step_pulses, freq=1000000, sideset_base=step_pin, out_base=dir_pin)
        self.enable_pin = enable_pin
        enable_pin.value(1)
        self.sm.active(1)

    def space(self):
        return STEP_FIFO_DEPTH - self.sm.tx_fifo()

    def pending(self):
        return self.sm.tx_fifo()

    def put(self, word):
        self.sm.put(word)

    def enable(self, on):
        self.enable_pin.value(0 if on else 1)  # TMC2209 EN is active low

    def enabled(self):
        return self.enable_pin.value() == 0


class Encoder:
    """Measuring-wheel counts from the quadrature program; no Python per edge.

    The program keeps the count in X and pushes nothing; count() executes READ_COUNT (`in x, 32`) on
    the state machine, autopush puts X into the RX FIFO, and get() takes it: always the newest count.
    """

    def __init__(self, sm_id, a_pin, b_pin):
        self.sm = rp2.StateMachine(sm_id, quadrature, freq=10000000, in_base=a_pin, jmp_pin=b_pin)
        self.sm.active(1)
        self.offset = 0
        self.last = 0

    def count(self):
        sm = self.sm
        while sm.rx_fifo():  # nothing else pushes; a word left by an interrupted read is stale
            sm.get()
        sm.exec(READ_COUNT)
        raw = sm.get()
        # a comparison with a big constant does not box, `raw & 0x80000000` does
        self.last = raw if raw < 0x80000000 else raw - 0x100000000
        return self.last - self.offset

    def zero(self):
        self.count()
        self.offset = self.last


class MarkerReader:
    """Station marker tags from the reader on a UART: lines `T<id>` as a tag enters the window."""

    def __init__(self, uart):
        self.uart = uart
        self.buf = bytearray(16)
        self.line = bytearray(8)
        self.n = 0
        self.last_tag = -1

    def poll(self):
        """Read pending bytes; return the last complete tag id seen so far (-1 if none)."""
        uart = self.uart
        if not uart.any():
            return self.last_tag
        k = uart.readinto(self.buf) or 0
        for i in range(k):
            c = self.buf[i]
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


class Hardware:
    """Every driver of the robot, built from the board's pin map (name -> pin id)."""

    def __init__(self, pins, watchdog_ms):
        def inp(name):
            return machine.Pin(pins[name], machine.Pin.IN, machine.Pin.PULL_UP)

        def out(name, v=0):
            return machine.Pin(pins[name], machine.Pin.OUT, value=v)

        self.x_step = StepOutput(0, out("x_step"), out("x_dir"), out("x_enable", 1))
        self.z_step = StepOutput(1, out("z_step"), out("z_dir"), out("z_enable", 1))
        self.encoder = Encoder(2, inp("enc_a"), inp("enc_b"))
        self.marker = MarkerReader(machine.UART(0, 9600, rx=machine.Pin(pins["marker_rx"])))
        self.home_sw = inp("home_sw")
        self.limit_min = inp("limit_min")
        self.limit_max = inp("limit_max")
        self.x_diag = inp("x_diag")
        self.estop_in = inp("estop_in")
        self.z_stow_sw = inp("z_stow_sw")
        self.jaw_open_sw = inp("jaw_open_sw")
        self.jaw_closed_sw = inp("jaw_closed_sw")
        self.unit_present_sw = inp("unit_present_sw")
        self.holster_sw = inp("holster_sw")
        self.port_latched_sw = inp("port_latched_sw")
        self.port_occupied_sw = inp("port_occupied_sw")
        self.side_sel = out("side_sel")
        self.unlatch = out("unlatch")
        self.grip = Servo(machine.Pin(pins["grip_pwm"]))
        self.cp_adc = machine.ADC(machine.Pin(pins["cp_adc"]))
        self.wdt = machine.WDT(timeout=watchdog_ms)
        self.reset_by_watchdog = machine.reset_cause() == machine.WDT_RESET
