"""The gripper's 1 kHz loop: jaws closed or opened by a hobby servo or a DC gear motor (board data)."""
import asyncio
import time
from micropython import const
from railbot import alarms
from railbot.hal import grip_drive

RUN = const(0)
DONE = const(1)
STALL = const(2)
_TIMEOUT = const(3)
_ABORT = const(4)


def gripper(g, pins, hw, sup):
    """The gripper of the board data's kind (docs/gripper.md)."""
    if g["kind"] == "dc":
        from railbot.grip_dc import DcGripper  # only DC boards pay for it

        return DcGripper(g, pins, hw, sup)
    return Gripper(g, pins, hw, sup)


class Gripper:
    """Owns the grip loop. `step()` is its body, one call a millisecond: small-integer arithmetic, no
    allocation. This class drives a hobby servo (done at the target's jaw switch); DcGripper adds
    the motor current: a grip confirmed by it, a stall cut in the step that sees it, one retry."""

    def __init__(self, g, pins, hw, sup):
        self.sup = sup  # its alarm aborts a move
        self.drv = grip_drive(g, pins)
        self.open_sw, self.closed_sw = hw.jaw_open_sw, hw.jaw_closed_sw
        self.timeout_ms = self.backoff_ms = g["move_timeout_ms"]
        self.pulse_us = (g.get("open_us"), g.get("closed_us"))
        self.steps = 0  # loop steps since boot (the bench's rate)
        self.close = False
        self.limit_ms = self.t0 = 0
        self.detail = ""

    def start(self, close, limit_ms):
        self.close = close
        self.limit_ms = limit_ms
        self.t0 = time.ticks_ms()
        self.drv.pulse_us(self.pulse_us[1 if close else 0])

    def step(self):
        """One loop step: RUN, or how the move ended."""
        self.steps += 1
        if self.sup.alarm:
            return _ABORT
        if (self.closed_sw if self.close else self.open_sw).value():
            return DONE
        return self.timed_out()

    def timed_out(self):
        return _TIMEOUT if time.ticks_diff(time.ticks_ms(), self.t0) >= self.limit_ms else RUN

    async def _run(self, close, limit_ms):
        self.start(close, limit_ms)
        t = time.ticks_ms()
        while True:
            r = self.step()
            if r:
                return r
            t = time.ticks_add(t, 1)  # on a 1 ms grid: the step's own cost is part of the period
            d = time.ticks_diff(t, time.ticks_ms())
            await asyncio.sleep_ms(d if d > 0 else 0)

    async def move(self, close):
        """Close or open the jaws: 0, or the alarm to raise (`detail` says why); the motor is off
        after any failure. A stall backs off and retries once. The caller checks its own alarm
        (an abort returns 0)."""
        for retry in (False, True):
            r = await self._run(close, self.timeout_ms)
            if r == DONE:
                return 0
            self.drv.off()
            if r == _ABORT:
                return 0
            if r == _TIMEOUT:
                if close and self.closed_sw.value():
                    self.detail = "jaws closed without holding current"
                else:
                    self.detail = "jaws did not close" if close else "jaws did not open"
                return alarms.GRIP_FAILED
            if not retry:
                await self._run(not close, self.backoff_ms)
                self.drv.off()
        self.detail = "jaws stalled twice"
        return alarms.GRIP_JAM
