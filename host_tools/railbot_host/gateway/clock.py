"""Time in the gateway: milliseconds of one clock (the simulator's virtual one, or the wall's), and OCPP timestamps."""

from __future__ import annotations

import datetime as dt
import time

#: Virtual t = 0 of a simulated day: OCPP timestamps need a calendar.
SIM_EPOCH = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)


class WallClock:
    def __init__(self):
        self.t0 = time.monotonic()
        self.epoch = dt.datetime.now(dt.timezone.utc)

    def now_ms(self) -> int:
        return int((time.monotonic() - self.t0) * 1000)


class SimClock:
    """The simulated robot's clock: t_ms since the board booted, dated from SIM_EPOCH."""

    epoch = SIM_EPOCH

    def __init__(self, now_ms):
        self.now_ms = now_ms


def iso(clock, t_ms: int) -> str:
    """An OCPP timestamp (UTC, ISO 8601, ms) for t_ms on `clock`."""
    t = clock.epoch + dt.timedelta(milliseconds=t_ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
