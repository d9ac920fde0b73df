"""The DC gear-motor gripper's driver: H-bridge PWM and direction, motor current on an ADC."""
import machine


class GripMotor:
    """A DC gear motor on an H-bridge (PWM + direction) with its current on an ADC. The PWM's duty is
    set in ns (no 16-bit duty scaling: no product past 2**30 when it changes)."""

    def __init__(self, pins, hz):
        self.pwm = machine.PWM(machine.Pin(pins["grip_pwm"]), freq=hz, duty_ns=0)
        self.dir = machine.Pin(pins["grip_dir"], machine.Pin.OUT, value=0)
        self.adc = machine.ADC(machine.Pin(pins["grip_isense"]))
        self.period_ns = 1000000000 // hz

    def drive(self, close, duty_ns):
        self.dir.value(close)
        self.pwm.duty_ns(duty_ns)

    def off(self):
        self.pwm.duty_ns(0)
