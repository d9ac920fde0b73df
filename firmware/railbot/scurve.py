"""Jerk-limited moves: the S-curve option of the planner (board data `jerk_mm_s3` > 0).

A ramp raises the acceleration by `da` steps/s^2 every 1 ms slice up to a_max, holds it, and lowers
it again (the mirror image): jerk j = 1000 * da steps/s^3. On that 1 ms grid the motion is exact
in integers: speed in 1/2000 steps/s and position in U = 1/12 000 000 step make one slice's cubic
an integer (dx = 6 v + 6 a + 2 s da, s the jerk's sign), so the ramp ends exactly where the
closed form says: d = v T / 2 (T the ramp's duration). Deceleration replays the acceleration's
slices backward (the same integers, reversed), so it mirrors it exactly.

Steps are the crossings of whole positions; within a slice a crossing's time is interpolated
linearly, which is exact at constant speed and off by about a dt^2 / (8 v) at low speed (a few
microseconds on the first steps of a ramp; sub-microsecond above a few hundred steps/s). One word
carries all the steps of one slice, so a ramp costs at most 1000 words/s. Cruise is the trapezoid
planner's: exactly v_c, the ramp's top speed, a whole multiple of da / 1000 steps/s at or below v.

A stop during cruise runs the ramp down as in a full move. A stop during the ramp up replays that
ramp backward from where it is: the speed is continuous but the acceleration changes sign at once
(the one place the jerk limit does not hold).

Small ints only (every value below 2**30), no allocation per word, no float.
"""
import time
from micropython import const
from railbot.hal.pio import WORD_OVERHEAD, PERIOD_OVERHEAD
from railbot.motion import Axis, isqrt, encode_word, LEAD_US, MAX_WORDS_PER_FEED

_U = const(12000000)  # position unit: 1/12e6 step
_DONE = const(0)
_J_ACCEL = const(21)  # forward over the ramp's slices
_J_CRUISE = const(23)
_J_DECEL = const(24)  # backward over them


REM = [0]  # the remainder of the last muldiv (a list slot: returning a tuple would allocate)


def muldiv(a, b, c):
    """floor(a*b/c), its remainder in REM[0], for 0 <= a, b < 2**30 and 0 < c < 2**29, small ints
    only: binary long multiplication over b's bits with the remainder kept below 2c."""
    q1 = a // c
    a -= q1 * c
    q = 0
    r = 0
    bit = 1
    while bit <= b:
        bit <<= 1
    bit >>= 1
    while bit:
        q <<= 1
        r <<= 1
        if r >= c:
            r -= c
            q += 1
        if b & bit:
            r += a
            if r >= c:
                r -= c
                q += 1
        bit >>= 1
    REM[0] = r
    return q1 * b + q


class JerkAxis(Axis):
    """Axis with jerk-limited ramps; the rest (feeding, busy, following error) is Axis's."""

    def __init__(self, out, steps_per_mm, v_max_mm_s, a_max_mm_s2, jerk_mm_s3, pio_hz=125000000,
                 high_cycles=125, dir_setup_cycles=125, track=True):
        Axis.__init__(self, out, steps_per_mm, v_max_mm_s, a_max_mm_s2, pio_hz, high_cycles, dir_setup_cycles,
                      track)
        j = jerk_mm_s3 * steps_per_mm
        self.da = j // 1000 if j >= 1000 else 1  # steps/s^2 gained per 1 ms slice
        self.m_full = self.a // self.da  # slices of jerk from 0 to a_max (a_max rounded down to da)
        if self.m_full < 1:
            self.m_full = 1
        self.slice = self.cyc * 1000  # cycles per slice
        self.m1 = 0  # slices of rising acceleration (and of falling, at the ramp's end)
        self.m2 = 0  # slices at constant acceleration
        self.d_int = 0  # the ramp's length: d_int + d_frac / U steps
        self.d_frac = 0
        self.gk = 0  # the slice boundary the grid state is at
        self.gvq = 0  # speed, 1/2000 steps/s
        self.ga = 0  # acceleration, steps/s^2
        self.gxi = 0  # position on the ramp: gxi + gxf / U steps
        self.gxf = 0
        self.goff = 0  # steps happen where the ramp position crosses m + goff / U (m whole)
        self.since = 0  # cycles from the last queued step's ideal time to the grid's boundary
        self.tail = 0  # cycles from the last cruise step to the start of the ramp down
        self.extra = 0  # cycles added to the next cruise word's span
        self.gap_u = 0

    # --- the ramp's shape ------------------------------------------------------------------------
    def _sign(self, k):
        return 1 if k < self.m1 else (0 if k < self.m1 + self.m2 else -1)

    def _ramp_length(self, m1, m2):
        """(whole steps, U) of a ramp of m1 jerk slices and m2 constant ones: d = v T / 2."""
        vq = 2 * self.da * m1 * (m1 + m2)
        t = 2 * m1 + m2
        q1 = vq // 4000
        r1 = vq - q1 * 4000
        whole = q1 * t
        steps = whole // 1000
        frac = (whole - steps * 1000) * 12000 + 3 * r1 * t
        c = frac // _U
        return steps + c, frac - c * _U

    def _fits(self, m1, m2, n):
        d, f = self._ramp_length(m1, m2)
        room = n - 2 * d  # 2 d <= n
        if room < 0:
            return False
        return room >= 2 or 2 * f <= room * _U

    def _shape(self, v, n):
        """The largest ramp (m1, m2) with top speed <= v (steps/s) and two ramps within n steps."""
        da, mf = self.da, self.m_full
        m2 = v * 1000 // (da * mf) - mf
        if m2 >= 0:
            m1 = mf
        else:
            m1, m2 = isqrt(v * 1000 // da), 0
            if m1 > mf:
                m1 = mf
        if self._fits(m1, m2, n):
            return m1, m2
        if m2 > 0 and self._fits(m1, 0, n):
            lo, hi = 0, m2  # lo fits, hi does not
            while hi - lo > 1:
                mid = (lo + hi) >> 1
                if self._fits(m1, mid, n):
                    lo = mid
                else:
                    hi = mid
            return m1, lo
        lo, hi = 0, m1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if self._fits(mid, 0, n):
                lo = mid
            else:
                hi = mid
        return lo, 0

    # --- planning a move -------------------------------------------------------------------------
    def _move_to(self, target, v_cap_mm_s):
        """(Axis.move_to guards it whole: a cut waits for the S-curve's set-up too.)"""
        Axis._move_to(self, target, v_cap_mm_s)  # direction, speed cap, counters, a plain cruise
        n = self.left
        if n == 0:
            return
        m1, m2 = self._shape(self.v_cap, n)
        self.m1, self.m2 = m1, m2
        self.gk = self.gvq = self.ga = self.gxi = self.gxf = self.goff = 0
        self.since = self.extra = self.tail = 0
        if m1 == 0:  # no ramp fits (or the speed is below one slice's gain): cruise from the first step
            self.phase = _J_CRUISE
            self.cruise = n
            return
        d, f = self._ramp_length(m1, m2)
        self.d_int, self.d_frac = d, f
        vq = 2 * self.da * m1 * (m1 + m2)
        self.cp = muldiv(self.hz, 2000, vq)  # cruise period hz / v_c: cp + crem / cv
        self.crem = REM[0]
        self.cv = vq
        self.cacc = 0
        up = d  # crossings of 1..d on the way up
        down = d + (1 if f else 0)  # of 0..ceil(d)-1 on the way down
        self.cruise = n - up - down
        self.gap_u = (n - 2 * d) * _U - 2 * f  # what separates the ramps when no cruise step does
        # from the last cruise step to the start of the ramp down: (ceil(d) - d) periods
        self.tail = muldiv(self.cp, (_U - f) % _U, _U)
        self.phase = _J_ACCEL

    def stop(self):
        ph = self.phase
        if ph == _J_CRUISE and self.m1:
            # ramp down from the last queued step: its crossings are at m + d_frac on the ramp
            self._top()
            self.goff = self.d_frac
            self.since = 0
            self.left = self.d_int
            self.cruise = 0
            self.phase = _J_DECEL
        elif ph == _J_CRUISE:
            self.phase = _DONE
            self.left = 0
        elif ph == _J_ACCEL:
            # replay the ramp up backward from here: position p on the rail is ramp position 2x - p
            x2 = 2 * self.gxf
            self.goff = x2 - (x2 // _U) * _U
            self.left = self.gxi + (1 if self.gxf > self.goff else 0)  # thresholds in [0, x)
            self.cruise = 0
            self.phase = _J_DECEL

    def cut(self, decel):
        """Axis.cut finds the curve point of a trapezoid: an S-curve axis ramps down after its queue
        instead (category 1), or drops it (category 0)."""
        if decel:
            self.stop()
            return
        self.out.cut()
        self.phase = _DONE
        self.left = 0
        self.tail_us = 0

    def _top(self):
        """The grid at the ramp's end (a = 0, the top speed, position d)."""
        self.gk = 2 * self.m1 + self.m2
        self.gvq = 2 * self.da * self.m1 * (self.m1 + self.m2)
        self.ga = 0
        self.gxi, self.gxf = self.d_int, self.d_frac

    # --- words: planned one at a time in bytecode (railbot.plan's loop is the trapezoid's) ----------
    def _queue(self, now):
        """Axis._queue's rule, a word at a time: a call of _next_word may queue two words (the first
        step)."""
        out = self.out
        k = 0
        while self.phase != _DONE and out.space() > 1 and k < MAX_WORDS_PER_FEED \
                and time.ticks_diff(self.t_end, now) < LEAD_US:
            self._next_word()
            k += 1

    def _next_word(self):
        ph = self.phase
        if ph == _J_ACCEL or ph == _J_DECEL:
            self._grid_word(ph == _J_ACCEL)
        elif ph == _J_CRUISE:
            self._cruise_word()
        if self.left <= 0:
            self.phase = _DONE

    def _cruise_word(self):
        if self.first:
            self._emit(1, 0)
            self.cruise -= 1
            self.left -= 1
        else:
            n = self._cruise_n()
            if n > 0:
                self._emit(n, self._cruise_span(n) + self.extra)
                self.extra = 0
                self.left -= n
        if self.cruise <= 0 and self.left > 0:
            self._top()
            self.since = self.tail
            self.goff = 0
            self.phase = _J_DECEL

    def _grid_word(self, forward):
        """Run slices until one holds crossings; one word for them (two for a move's first step)."""
        sl = self.slice
        da, U = self.da, _U
        while True:
            k = self.gk
            if forward:
                if k >= 2 * self.m1 + self.m2:
                    self._ramp_done()
                    return
                s = self._sign(k)
                a0 = self.ga
                a1 = a0 + s * da
                vq0 = self.gvq
                dx = 6 * vq0 + 6 * a0 + 2 * s * da
                # the first threshold above the position, and how far it is (U)
                need = (U if self.gxf >= self.goff else 0) + self.goff - self.gxf
            else:
                if k <= 0:
                    self.phase = _DONE
                    self.left = 0
                    return
                s = self._sign(k - 1)
                a1 = self.ga
                a0 = a1 - s * da
                vq0 = self.gvq - a0 - a1
                dx = 6 * vq0 + 6 * a0 + 2 * s * da
                need = self.gxf - self.goff + (0 if self.gxf > self.goff else U)
                if self.gxi == 0 and self.gxf <= self.goff:
                    need = dx + 1  # nothing left to cross below
            count = 0 if dx < need else 1 + (dx - need) // U
            # advance the grid over the slice
            if forward:
                f = self.gxf + dx
                c = f // U
                self.gxi += c
                self.gxf = f - c * U
                self.gvq = vq0 + a0 + a1
                self.ga = a1
                self.gk = k + 1
            else:
                f = self.gxf - dx
                c = f // U  # <= 0
                self.gxi += c
                self.gxf = f - c * U
                self.gvq = vq0
                self.ga = a0
                self.gk = k - 1
            if count == 0:
                self.since += sl
                continue
            if count > self.left:
                count = self.left
            last = need + (count - 1) * U
            t_last = muldiv(sl, last, dx)
            if self.first:
                t_first = muldiv(sl, need, dx)
                self._emit(1, 0)
                self.left -= 1
                if count > 1:
                    self._emit(count - 1, t_last - t_first)
                    self.left -= count - 1
            else:
                self._emit(count, self.since + t_last)
                self.left -= count
            self.since = sl - t_last
            return

    def _ramp_done(self):
        """The ramp up is over: on to cruise, or straight to the ramp down across the gap."""
        if self.cruise > 0:
            # the first cruise step is at the next whole position beyond d
            need = _U - self.d_frac if self.d_frac else _U
            self.extra = self.since + muldiv(self.cp, need, _U) - self.cp
            self.phase = _J_CRUISE
            return
        # no step between the ramps: the gap n - 2d (under 2 steps) takes that many periods
        self.since += muldiv(self.cp, self.gap_u, _U)
        self.goff = 0
        self.phase = _J_DECEL

    # --- a word out: the step program's period law and the axis's bookkeeping, as railbot.plan's --------
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
            i = self.queued % self.ring
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
