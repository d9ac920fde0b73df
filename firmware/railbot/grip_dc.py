"""The DC gear-motor gripper: the grip loop with the motor current, sampled every step (docs/gripper.md)."""
import time
from micropython import const
from railbot.grip import Gripper, RUN, DONE, STALL

_CONFIRM = const(3)  # samples in a row of holding current, jaw-closed switch made


class DcGripper(Gripper):
    """Grip confirmed by the jaw-closed switch and the clamp current; a stall (current over stall_ma
    for stall_ms before the target switch) cuts the motor in the step that sees it."""

    def __init__(self, g, pins, hw, sup):
        Gripper.__init__(self, g, pins, hw, sup)
        per = self.drv.period_ns
        self.run_ns = per * g["duty_pct"] // 100
        self.hold_ns = per * g["hold_duty_pct"] // 100
        self.stall_raw = g["stall_ma"] * 65535 // g["isense_ma_fs"]
        self.hold_raw = g["hold_min_ma"] * 65535 // g["isense_ma_fs"]
        self.stall_ms = g["stall_ms"]
        self.backoff_ms = g["backoff_ms"]
        self.over = False
        self.over_t0 = self.confirm = self.raw = 0

    def start(self, close, limit_ms):
        self.close = close
        self.limit_ms = limit_ms
        self.t0 = time.ticks_ms()
        self.over = False
        self.confirm = 0
        self.drv.drive(close, self.run_ns)

    def step(self):
        r = Gripper.step(self)
        if r != RUN and r != DONE:
            return r
        drv = self.drv
        raw = drv.adc.read_u16()
        self.raw = raw
        now = time.ticks_ms()
        if r == DONE and not self.close:
            drv.off()
            return DONE
        if r == DONE:  # jaws on the handle: the clamp's current (past the start's) confirms the grip
            ok = raw >= self.hold_raw and time.ticks_diff(now, self.t0) > self.stall_ms
            self.confirm = self.confirm + 1 if ok else 0
            self.over = False
            if self.confirm < _CONFIRM:
                return self.timed_out()
            drv.drive(1, self.hold_ns)
            return DONE
        if raw < self.stall_raw:
            self.over = False
        elif not self.over:
            self.over = True
            self.over_t0 = now
        elif time.ticks_diff(now, self.over_t0) >= self.stall_ms:
            drv.off()
            return STALL
        return r
