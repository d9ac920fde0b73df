"""Axis motion v0: a trapezoidal planner in integer steps that streams step words to the step program."""
import time
from micropython import const

_CHUNK_MS = const(10)  # each word covers about this much time
_RING = const(16)  # > FIFO depth + the word in execution
_MAX_N = const(16384)
_MIN_PERIOD = const(3)
_MAX_PERIOD = const(32770)


def encode_word(direction, n, period_us):
    """A step word: n steps (1..16384) in `direction` (+1/-1), one every period_us (3..32770)."""
    return ((period_us - 3) << 15) | ((n - 1) << 1) | (1 if direction > 0 else 0)


class Axis:
    """Commanded position in steps; `feed()` is called every control tick and allocates nothing."""

    def __init__(self, out, steps_per_mm, v_max_mm_s, a_max_mm_s2):
        self.out = out
        self.steps_per_mm = steps_per_mm
        self.v_max = v_max_mm_s * steps_per_mm
        self.a = a_max_mm_s2 * steps_per_mm
        self.dv = self.a * _CHUNK_MS // 1000
        self.v_min = self.dv if self.dv > 31 else 31
        self.pos = 0  # steps, at the end of the last queued word
        self.dir = 1
        self.v = 0
        self.v_cap = self.v_max
        self.v_floor = self.v_min
        self.remaining = 0
        self.ends = [0] * _RING  # commanded position at the end of each queued word
        self.starts = [0] * _RING
        self.queued = 0  # words put since the start of the move
        self.tail_us = 0  # duration of the last word queued
        self.drained_at = -1  # ticks_us when the FIFO was first seen empty

    def busy(self):
        """True until the last word has been executed, not only pulled from the FIFO."""
        if self.remaining > 0 or self.out.pending() > 0:
            self.drained_at = -1
            return True
        if self.tail_us == 0:
            return False
        now = time.ticks_us()
        if self.drained_at < 0:
            self.drained_at = now
        if time.ticks_diff(now, self.drained_at) < self.tail_us:
            return True
        self.tail_us = 0  # done: no stale tick arithmetic once idle
        return False

    def queued_motion(self):
        return self.remaining > 0

    def set_position(self, steps):
        self.pos = steps

    def move_to(self, target, v_cap_mm_s=0):
        d = target - self.pos
        self.dir = 1 if d >= 0 else -1
        self.remaining = d if d >= 0 else -d
        v_cap = v_cap_mm_s * self.steps_per_mm if v_cap_mm_s else self.v_max
        self.v_cap = v_cap if v_cap < self.v_max else self.v_max
        self.v_floor = self.v_min if self.v_min < self.v_cap else self.v_cap
        self.v = 0
        self.queued = 0

    def stop(self):
        """Controlled stop: ramp down from the planned speed after what is already queued."""
        d = self._stop_steps(self.v)
        if d < self.remaining:
            self.remaining = d

    def abort(self):
        self.remaining = 0

    def _stop_steps(self, v):
        t_ms = v * 1000 // self.a
        return v * t_ms // 2000

    def feed(self):
        out = self.out
        while self.remaining > 0 and out.space() > 0:
            self._next_word()

    def _next_word(self):
        v = self.v
        cruise = v * _CHUNK_MS // 1000
        if self.remaining - cruise <= self._stop_steps(v):
            v_new = v - self.dv
        elif v < self.v_cap:
            v_new = v + self.dv
            if v_new > self.v_cap:
                v_new = self.v_cap
        else:
            v_new = v
        if v_new < self.v_floor:
            v_new = self.v_floor
        v_mid = (v + v_new) >> 1
        if v_mid < self.v_floor:
            v_mid = self.v_floor
        n = v_mid * _CHUNK_MS // 1000
        if n < 1:
            n = 1
        if n > self.remaining:
            n = self.remaining
        if n > _MAX_N:
            n = _MAX_N
        period = 1000000 // v_mid
        if period < _MIN_PERIOD:
            period = _MIN_PERIOD
        elif period > _MAX_PERIOD:
            period = _MAX_PERIOD
        i = self.queued % _RING
        self.starts[i] = self.pos
        self.out.put(encode_word(self.dir, n, period))
        self.tail_us = 4 + n * period
        self.pos += self.dir * n
        self.ends[i] = self.pos
        self.queued += 1
        self.remaining -= n
        self.v = v_new

    def following_error(self, measured):
        """Steps by which `measured` lies outside the span of the word being executed (0 inside)."""
        pending = self.out.pending()
        if self.queued == 0 or pending >= self.queued:
            lo = hi = self.pos
        else:
            i = (self.queued - pending - 1) % _RING
            lo, hi = self.starts[i], self.ends[i]
            if lo > hi:
                lo, hi = hi, lo
        if measured < lo:
            return lo - measured
        if measured > hi:
            return measured - hi
        return 0
