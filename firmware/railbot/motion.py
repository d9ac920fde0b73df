"""Axis motion: a streaming trapezoidal planner in integer arithmetic that feeds step words to PIO.

The word format and its timing law are in railbot/hal/pio.py and docs/motion.md. In short: a word is
n steps (1..128), each one an interval of P cycles then a rising edge; between two words the interval
is P + 3. The planner's job is to choose n and P so that every edge lies within a fraction of a
microsecond of the ideal trapezoid's time for that step, with as few words as that allows.

The ideal ramp. Accelerating from rest at a steps/s^2, the position reaches k steps at
t = sqrt(2k/a) s; in microseconds and half steps j2 = 2k: S(j2) = sqrt(j2 * D2) with D2 = 10^12 / a.
Every ramp of a move is a piece of that one curve: acceleration runs it forward from 0, deceleration
backward to 0 (a controlled stop from any point runs it backward from where the move is). The planner
keeps the curve's point exactly, as integers: tau = floor(S(j2)) and r = j2 * D2 - tau^2, and moves it
by up to 128 half steps with small-int arithmetic only (`_curve_to`). Cruise runs at the exact rational
period pio_hz / v with a remainder. Every value stays below 2**30: MicroPython's small ints, so planning
a word allocates nothing, and nothing is a float (the RP2040 port's floats are single precision).

The edge error budget per ramp word: the chord of n equal intervals sags below the ideal curve by
n^2 p^3 / (8 D2) us (p = the step period in us), and rounding P to whole cycles moves the word's edges by
up to n/2 cycles; n is the largest with sag + n <= _SAG_BUDGET cycles (90: 0.72 us) for words of up to
2 steps, which set the word rate (n = 2 from about 1 900 steps/s), and _SAG_BUDGET_RUN (45) for longer
ones, whose error would otherwise show in the acceleration over 10 ms windows (1.8 % instead of 0.6 %).
Words end on their ideal times (rounded to the cycle), so nothing accumulates from word to word: `lag`
carries the remainder.
"""
import time
from micropython import const
from railbot.hal import RING
from railbot.hal.pio import WORD_OVERHEAD, PERIOD_OVERHEAD, STEPS_MAX, LOW_MAX

# per-word start/end positions for the following error: room for every word not yet pulled (the
# ring's RING - 1 plus the FIFO's 8) and the one executing
_RING = RING + 8
_SAG_BUDGET = const(90)  # cycles (0.72 us at 125 MHz) of chord sag + rounding, words of 1..2 steps
_SAG_BUDGET_RUN = const(45)  # for longer words: their error would show in the acceleration
_N_RAMP = const(64)
_LEAD_US = const(80000)  # keep this much motion queued ahead of the step program
_MAX_WORDS_PER_FEED = const(48)
_SMALL_INT = const(0x3FFFFFFF)

_DONE = const(0)
_ACCEL = const(1)
_PEAK = const(2)
_CRUISE = const(3)
_DECEL = const(4)


def encode_word(direction, n, low):
    """A step word: n steps (1..128) in `direction` (+1/-1), each after low + h + 5 cycles."""
    return (low << 8) | ((n - 1) << 1) | (1 if direction > 0 else 0)


def isqrt(n):
    """floor(sqrt(n)) for 0 <= n < 2**30, small ints only (no square above n is ever formed)."""
    if n <= 0:
        return 0
    x = 1
    k = n
    while k:  # x = 2**ceil(bits/2) >= sqrt(n)
        k >>= 2
        x <<= 1
    y = (x + n // x) >> 1
    while y < x:  # Newton from above ends on the floor
        x = y
        y = (x + n // x) >> 1
    return x


def _sag_table(d2, cyc, n_max):
    """p_max[n]: the longest step period (us) at which a ramp word of n steps stays in the budget.
    Built once per axis (init may use big ints; the table holds small ones)."""
    table = [0x3FFFFFFF] * (n_max + 1)
    for n in range(2, n_max + 1):
        lim = 8 * d2 * ((_SAG_BUDGET if n <= 2 else _SAG_BUDGET_RUN) - n) // (cyc * n * n)
        p = 0
        if lim > 0:
            step = 1 << 12
            while step:
                if (p + step) ** 3 <= lim:
                    p += step
                step >>= 1
        table[n] = p
    return table


class Axis:
    """Commanded position in steps; `feed()` runs every control tick and allocates nothing."""

    def __init__(self, out, steps_per_mm, v_max_mm_s, a_max_mm_s2, pio_hz=125000000, high_cycles=125,
                 dir_setup_cycles=125, track=True):
        self.out = out
        self.steps_per_mm = steps_per_mm
        self.v_max = v_max_mm_s * steps_per_mm
        self.a = a_max_mm_s2 * steps_per_mm
        self.hz = pio_hz
        self.cyc = pio_hz // 1000000
        self.h = high_cycles - 2  # the ISR value; STEP high for h + 2 cycles
        # shortest period: high and low both at least the configured pulse width
        self.p_min = 2 * high_cycles if 2 * high_cycles > self.h + PERIOD_OVERHEAD else self.h + PERIOD_OVERHEAD
        self.p_max = LOW_MAX + self.h + PERIOD_OVERHEAD
        self.v_min = (pio_hz + self.p_max - 1) // self.p_max
        # the first word of a move sets DIR L + 4 cycles before its edge (and keeps P >= p_min)
        low = self.p_min - self.h - PERIOD_OVERHEAD
        self.low_first = dir_setup_cycles - 4 if dir_setup_cycles - 4 > low else low
        self.d2 = 10 ** 12 // self.a
        self.small = _SMALL_INT // self.d2  # up to here S(j2) is computed directly
        self.p_of_n = _sag_table(self.d2, self.cyc, _N_RAMP)
        # the plan
        self.phase = _DONE
        self.dir = 1
        self.pos = 0  # steps, at the end of the last queued word
        self.left = 0  # steps of the move not yet queued
        self.acc_end2 = 0  # the curve point (half steps) where acceleration ends
        self.peak = False  # an odd triangle: one step over the half-step peak
        self.cruise = 0  # cruise steps not yet queued
        self.cp = 0  # cruise period in cycles: cp + crem / cv
        self.crem = 0
        self.cv = 1
        self.cacc = 0
        self.j2 = 0  # the curve point: tau = floor(S(j2)), r = j2 * d2 - tau^2
        self.tau = 0
        self.r = 0
        self.first = True
        self.lag = 0  # cycles: emitted time of the last queued step minus its ideal time
        self.n = 1
        self.v_cap = self.v_max
        self.n_chunk = STEPS_MAX
        self.v = 0  # step rate of the last queued word, steps/s
        # execution bookkeeping
        # commanded position at the start and end of each queued word, for following_error(); an axis
        # without a measuring system (track=False: the lift) keeps none
        self.track = track
        self.starts = [0] * _RING if track else None
        self.ends = [0] * _RING if track else None
        self.queued = 0  # words put since the start of the move
        self.words_total = 0
        self.t_end = 0  # ticks_us when the queued words run out (when fed without underrun)
        self.t_frac = 0  # cycles not yet counted into t_end
        self.tail_us = 0  # duration of the last word queued
        self.drained_at = -1

    # --- state -------------------------------------------------------------------------------------
    def planning(self):
        """True while words of the move are still to be planned and queued (the feed must come)."""
        return self.phase != _DONE

    def busy(self):
        """True until the last word has been executed, not only pulled from the FIFO."""
        if self.phase != _DONE or self.out.pending() > 0:
            self.drained_at = -1
            return True
        if self.tail_us == 0:
            return False
        now = time.ticks_us()
        if self.drained_at < 0:
            self.drained_at = now
        if time.ticks_diff(now, self.drained_at) < self.tail_us:
            return True
        self.tail_us = 0
        return False

    def queued_motion(self):
        return self.phase != _DONE

    def set_position(self, steps):
        self.pos = steps

    # --- planning a move ---------------------------------------------------------------------------
    def move_to(self, target, v_cap_mm_s=0):
        d = target - self.pos
        self.dir = 1 if d >= 0 else -1
        n = d if d >= 0 else -d
        v = v_cap_mm_s * self.steps_per_mm if v_cap_mm_s else self.v_max
        if v > self.v_max:
            v = self.v_max
        if v < self.v_min:
            v = self.v_min
        self.v_cap = v
        self.left = n
        self.queued = 0
        self.first = True
        self.lag = 0
        self.n = 1
        self.j2 = self.tau = self.r = 0
        self.cp = self.hz // v
        self.crem = self.hz - self.cp * v
        self.cv = v
        self.cacc = 0
        chunk = v // 100  # a cruise word lasts at most about 10 ms: a hold starts ramping soon
        self.n_chunk = chunk if 0 < chunk < STEPS_MAX else (1 if chunk <= 0 else STEPS_MAX)
        if n == 0:
            self.phase = _DONE
            return
        # steps to reach v from rest on the curve: floor(v^2 / 2a), v < 2**15 keeps v*v small
        j_cap = v * v // (2 * self.a)
        half = n >> 1
        acc = j_cap if j_cap < half else half
        self.acc_end2 = 2 * acc
        self.peak = j_cap > half and n & 1 == 1
        self.cruise = n - 2 * acc - (1 if self.peak else 0)
        self.phase = _ACCEL if acc else (_PEAK if self.peak else _CRUISE)

    def stop(self):
        """Controlled stop: after what is queued, ramp down from the planned speed (hold, alarms)."""
        ph = self.phase
        if ph == _ACCEL or ph == _CRUISE:
            if self.j2 == 0:  # at or below the curve's first speed: stop at once
                self.phase = _DONE
                self.left = 0
                return
            self.left = self.j2 >> 1
            self.cruise = 0
            self.phase = _DECEL
        elif ph == _PEAK:
            self.left = 1 + (self.j2 >> 1)

    def abort(self):
        self.phase = _DONE
        self.left = 0

    # --- feeding -------------------------------------------------------------------------------------
    def feed(self):
        """Queue words until about _LEAD_US of motion is ahead of the program, never blocking (a call
        of _next_word may queue two words: the S-curve's first step, see railbot.scurve)."""
        out = self.out
        if self.phase == _DONE:
            return
        now = time.ticks_us()
        if out.pending() == 0 or time.ticks_diff(self.t_end, now) < 0:
            self.t_end = now  # nothing queued (a start, or the feed fell behind): plan from now
            self.t_frac = 0
        k = 0
        while self.phase != _DONE and out.space() > 1 and k < _MAX_WORDS_PER_FEED \
                and time.ticks_diff(self.t_end, now) < _LEAD_US:
            self._next_word()
            k += 1
        out.commit()

    def _next_word(self):
        ph = self.phase
        if self.first:
            n = 1
            span = 0
            if ph == _ACCEL:
                self._curve_to(2)
            elif ph == _CRUISE:
                self.cruise -= 1
            else:  # a one-step triangle: the peak step
                self.peak = False
        elif ph == _ACCEL:
            n = self._ramp_n(self.d2 // self.tau)
            go = (self.acc_end2 - self.j2) >> 1
            if n > go:
                n = go
            s0 = self._s_cycles()
            self._curve_to(self.j2 + 2 * n)
            span = self._s_cycles() - s0
        elif ph == _PEAK:
            n = 1
            s0 = self._s_cycles()
            j2, tau, r = self.j2, self.tau, self.r
            self._curve_to(j2 + 1)
            span = 2 * (self._s_cycles() - s0)
            self.j2, self.tau, self.r = j2, tau, r
            self.peak = False
        elif ph == _CRUISE:
            n = self._cruise_n()
            span = self._cruise_span(n)
        else:  # _DECEL: the sag is set by the slow end of the word, about n periods nearer rest
            p = self.d2 // self.tau
            t_end = self.tau - self.n * p
            n = self._ramp_n(self.d2 // t_end if t_end > 0 else 0x3FFFFFFF)
            go = self.j2 >> 1
            if n > go:
                n = go
            s0 = self._s_cycles()
            j2, tau, r = self.j2, self.tau, self.r
            while True:
                self._curve_to(j2 - 2 * n)
                # the sag is set by the slow end of the word: check it there
                if n == 1 or self.tau == 0 or self.d2 // self.tau <= self.p_of_n[n]:
                    break
                n -= 1
                self.j2, self.tau, self.r = j2, tau, r
            self.n = n
            span = s0 - self._s_cycles()
        self._emit(n, span)
        self.left -= n
        # the next phase
        if self.phase == _ACCEL and self.j2 >= self.acc_end2:
            self.phase = _PEAK if self.peak else (_CRUISE if self.cruise > 0 else _DECEL)
        elif self.phase == _PEAK and not self.peak:
            self.phase = _DECEL if self.j2 > 0 else (_CRUISE if self.cruise > 0 else _DONE)
        elif self.phase == _CRUISE and self.cruise == 0:
            self.phase = _DECEL if self.j2 > 0 else _DONE
        if self.phase == _DECEL and self.j2 == 0:
            self.phase = _DONE
        if self.left <= 0:
            self.phase = _DONE

    def _emit(self, n, span):
        if self.first:
            self.first = False
            low = self.low_first
            p = low + self.h + PERIOD_OVERHEAD
            self.lag = 0
        else:
            want = span - self.lag - WORD_OVERHEAD
            p = (want + (n >> 1)) // n
            if p < self.p_min:
                p = self.p_min
            elif p > self.p_max:
                p = self.p_max
            self.lag += WORD_OVERHEAD + n * p - span
            low = p - self.h - PERIOD_OVERHEAD
        self.out.put(encode_word(self.dir, n, low))
        if self.track:
            i = self.queued % _RING
            self.starts[i] = self.pos
            self.ends[i] = self.pos + self.dir * n
        self.pos += self.dir * n
        self.queued += 1
        self.words_total += 1
        cycles = WORD_OVERHEAD + n * p + self.t_frac
        us = cycles // self.cyc
        self.t_frac = cycles - us * self.cyc
        self.t_end = time.ticks_add(self.t_end, us)
        self.tail_us = us + 1
        self.v = self.hz // p

    def _ramp_n(self, p):
        """The most steps a ramp word with step period p (us) may hold (the sag budget, small ints)."""
        tau = self.tau
        n = self.n
        table = self.p_of_n
        while n < _N_RAMP and p <= table[n + 1]:
            n += 1
        while n > 1 and p > table[n]:
            n -= 1
        self.n = n
        lim = 0x7FFFFFF // tau  # keeps dn * m below 2**29 in _curve_to
        return n if n <= lim else (lim if lim > 0 else 1)

    def _cruise_n(self):
        """Steps for the next cruise word: at most the cruise left, a chunk, and a period drift of 40
        cycles (equal whole-cycle periods drift off/cv cycles a step from the exact period)."""
        n = self.n_chunk
        rem = self.crem
        if rem:
            off = rem if rem + rem <= self.cv else self.cv - rem
            d = 40 * self.cv // off
            if d < n:
                n = d
        return n if n < self.cruise else self.cruise

    def _cruise_span(self, n):
        """Take n cruise steps: their ideal span in cycles, n exact periods pio_hz / v (Bresenham)."""
        self.cruise -= n
        c = self.cacc + n * self.crem
        q = c // self.cv
        self.cacc = c - q * self.cv
        return n * self.cp + q

    def _s_cycles(self):
        """S(j2) in cycles (deterministic in the curve state, so word spans telescope)."""
        tau = self.tau
        if tau == 0:
            return 0
        r = self.r
        frac = (r << 7) // tau if r < 0x400000 else r // (tau >> 7)  # r / (2 tau) in 1/256 us
        return tau * self.cyc + ((frac * self.cyc + 128) >> 8)

    def _curve_to(self, j2n):
        """Move the curve point to j2n half steps: tau = floor(sqrt(j2n * d2)), r the remainder."""
        d2 = self.d2
        if j2n <= self.small:
            v = j2n * d2
            t = isqrt(v)
            self.j2, self.tau, self.r = j2n, t, v - t * t
            return
        if self.j2 < self.small:
            v = self.small * d2
            t = isqrt(v)
            self.j2, self.tau, self.r = self.small, t, v - t * t
        dn = j2n - self.j2
        tau = self.tau
        u = tau + tau
        q = d2 // u
        m = d2 - q * u
        s = self.r + dn * m
        f = s // u
        rho = s - f * u
        base = dn * q + f
        # (tau + delta)^2 <= j2n * d2 with delta = base - d: remainder rho + u*d - (base - d)^2 >= 0
        b2 = base * base
        d = (b2 - rho) // (u + base + base)
        e = base - d
        while rho + u * d - e * e < 0:
            d += 1
            e -= 1
        while rho + u * (d - 1) - (e + 1) * (e + 1) >= 0:
            d -= 1
            e += 1
        self.j2 = j2n
        self.tau = tau + e
        self.r = rho + u * d - e * e

    # --- supervision ---------------------------------------------------------------------------------
    def following_error(self, measured):
        """Steps by which `measured` lies outside the span of the word being executed (0 inside)."""
        if not self.track:
            raise ValueError("following_error on an axis built with track=False")
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
