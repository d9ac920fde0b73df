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
by up to 128 half steps with small-int arithmetic only (`railbot.plan`). Cruise runs at the exact rational
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
import array
import math
import time
from micropython import const
from railbot.hal import RING
from railbot.hal.pio import PERIOD_OVERHEAD, STEPS_MAX, LOW_MAX
from railbot.native import plan as _plan

plan_words = _plan.plan_words
isqrt = _plan.isqrt  # railbot.scurve's and the tests'

# per-word start/end positions for the following error: room for every word not yet pulled (the
# ring's RING - 1 plus the FIFO's 8) and the one executing
_RING = RING + 8
_SAG_BUDGET = const(90)  # cycles (0.72 us at 125 MHz) of chord sag + rounding, words of 1..2 steps
_SAG_BUDGET_RUN = const(45)  # for longer words: their error would show in the acceleration
_N_RAMP = const(64)
LEAD_US = const(80000)  # keep this much motion queued ahead of the step program
MAX_WORDS_PER_FEED = const(20)  # a ramp needs up to 16 a 10 ms tick; 20 cost the RP2040 about 0.7 ms
_SMALL_INT = const(0x3FFFFFFF)
_UNTRACKED = array.array("i", [0])  # the starts/ends of an axis without a measuring system: never written

_DONE = const(0)
_ACCEL = const(1)
_PEAK = const(2)
_CRUISE = const(3)
_DECEL = const(4)


def encode_word(direction, n, low):
    """A step word: n steps (1..128) in `direction` (+1/-1), each after low + h + 5 cycles."""
    return (low << 8) | ((n - 1) << 1) | (1 if direction > 0 else 0)


def _sag_table(d2, cyc, n_max):
    """p_max[n]: the longest step period (us) at which a ramp word of n steps stays in the budget.
    Built once per axis (init may use big ints; the table holds small ones)."""
    table = array.array("i", [0x3FFFFFFF] * (n_max + 1))
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
        self.s_now = 0  # S(j2) in cycles at the curve point (railbot.plan keeps it)
        self.first = True
        self.lag = 0  # cycles: emitted time of the last queued step minus its ideal time
        self.n = 1
        self.v_cap = self.v_max
        self.n_chunk = STEPS_MAX
        self.v = 0  # step rate of the last queued word, steps/s
        self.p0 = 0  # where the move began (cut() finds the curve point from it)
        self.guard = 0  # move_to/stop/feed under way (nested: a handler's stop inside a feed): a cut waits
        self.cut_due = 0  # 0, or 1 + decel: a cut asked for while guarded
        # execution bookkeeping
        # commanded position at the start and end of each queued word, for following_error(); an axis
        # without a measuring system (track=False: the lift) keeps none
        self.track = track
        self.ring = _RING
        self.starts = array.array("i", [0] * _RING) if track else _UNTRACKED
        self.ends = array.array("i", [0] * _RING) if track else _UNTRACKED
        self.queued = 0  # words put since the start of the move
        self.words_total = 0
        self.t_end = 0  # ticks_us when the queued words run out (when fed without underrun)
        self.t_frac = 0  # cycles not yet counted into t_end
        self.tail_us = 0  # duration of the last word queued
        self.words_us = 0  # what the last call of plan_words queued, in us (t_end's share)
        self.work = _plan.new_work()  # plan_words's scratch
        self.words = array.array("i", [0] * MAX_WORDS_PER_FEED)  # what one plan_words call planned
        self.batch = hasattr(out, "put_words")
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
        self.guard += 1
        self._move_to(target, v_cap_mm_s)
        self._unguard()

    def _move_to(self, target, v_cap_mm_s):
        self.p0 = self.pos
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
        self.j2 = self.tau = self.r = self.s_now = 0
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
        """Controlled stop: after what is queued, ramp down from the planned speed (hold, alarms).
        Unguarded: a cut in its middle leaves the ramp the cut planned (the fields it sets agree)."""
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

    def cut(self, decel):
        """Stop now, not after the queued words (the e-stop, a hard limit; docs/motion.md, "Cutting
        the queue"). With decel (stop category 1) the ramp down from the speed of now is planned
        first, from the curve point of the word being made (where it began, in starts: a tracked
        axis only; with the move's start, end and acceleration length it gives the trapezoid's speed
        there), and its first word replaces every queued word and the rest of the one being made
        with no gap in the steps (StepOutput.swap); the words after it are queued at once, as a feed
        does (the next tick may be 10 ms away), and the tick's feeds go on from there. Without decel
        (category 0: the step program already stopped) the queue is dropped. An untracked axis or an
        S-curve one ramps down after its queue instead (stop()). Called from a scheduled handler,
        never a hard one (it waits on the DMA; the curve point may need big ints); a cut asked for
        while move_to or feed runs is made when they end (guard: a scheduled handler runs between
        any two bytecodes)."""
        if self.guard:
            self.cut_due = 2 if decel else 1
            return
        self.cut_due = 0
        if decel and not self.track:
            self.stop()
            return
        out = self.out
        q = self.queued
        k = q - out.pending()  # words the program has taken
        p = self.pos
        if self.track and q:  # where the word being made began (or the next, if none is)
            p = self.starts[(k - 1 if k > 0 else k) % self.ring]
        dr = self.dir
        a = 2 * (p - self.p0) * dr
        j2 = 2 * (self.pos + dr * self.left - p) * dr  # to the move's end
        if a < j2:
            j2 = a
        if j2 > self.acc_end2:
            j2 = self.acc_end2
        self.tail_us = 0
        self.queued = k
        self.pos = p
        if not decel or j2 < 2 or self.phase == _DONE:
            out.cut()
            self.abort()
            return
        if j2 != self.j2:  # the curve point there (at the top speed it is the plan's own: no big ints)
            v = j2 * self.d2
            tau = isqrt_big(v)
            r = v - tau * tau
            self.j2 = j2
            self.tau = tau
            self.r = r
            cyc = self.cyc
            f = (r << 7) // tau if r < 0x400000 else r // (tau >> 7)  # S(j2) in cycles, as railbot.plan
            self.s_now = tau * cyc + ((f * cyc + 128) >> 8)
        self.left = j2 >> 1
        self.lag = 0
        self.phase = _DECEL
        self.t_end = time.ticks_us()
        self.t_frac = 0
        if plan_words(self, 1, 0, LEAD_US):
            out.swap(self.words[0])
            self.t_end = time.ticks_add(self.t_end, self.words_us)
            self._queue(time.ticks_us())  # the ramp's next words while the first is made: the tick may
            out.commit()  # be 10 ms away, the first word lasts about 1.4 ms at full speed
        else:
            out.cut()

    def _unguard(self):
        self.guard -= 1
        if self.cut_due and not self.guard:
            self.cut(self.cut_due == 2)

    # --- feeding -------------------------------------------------------------------------------------
    def feed(self):
        """Queue words until about LEAD_US of motion is ahead of the program, never blocking."""
        out = self.out
        if self.phase == _DONE:
            return
        self.guard += 1
        now = time.ticks_us()
        if out.pending() == 0 or time.ticks_diff(self.t_end, now) < 0:
            self.t_end = now  # nothing queued (a start, or the feed fell behind): plan from now
            self.t_frac = 0
        self._queue(now)
        out.commit()
        self._unguard()

    def _queue(self, now):
        """Plan words while the ring has room (one slot kept), at most MAX_WORDS_PER_FEED, until
        LEAD_US is queued (railbot.plan's word loop, which keeps the plan's state), and hand them over."""
        k_max = self.out.space() - 1
        if k_max > MAX_WORDS_PER_FEED:
            k_max = MAX_WORDS_PER_FEED
        if k_max > 0:
            k = plan_words(self, k_max, time.ticks_diff(self.t_end, now), LEAD_US)
            if k and self.batch:  # _hand's batch branch, written out: the call cost the RP2040's tick
                self.t_end = time.ticks_add(self.t_end, self.words_us)  # 80 us on average (bench)
                self.out.put_words(self.words, k)
            elif k:
                self._hand(k)

    def _next_word(self):
        """Plan and put the move's next word (the tests' and the step-timing tools' single step)."""
        self._hand(plan_words(self, 1, 0, 1))

    def _hand(self, k):
        """The k words plan_words left in self.words to the step output, and their time to t_end."""
        if not k:
            return
        self.t_end = time.ticks_add(self.t_end, self.words_us)
        out = self.out
        if self.batch:
            out.put_words(self.words, k)
        else:  # an output with put() only (a test's recorder)
            words = self.words
            for i in range(k):
                out.put(words[i])

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


def isqrt_big(n):
    """floor(sqrt(n)) for any n >= 0 (big ints too: not for the tick). A float's square root is
    within a few units of it (single precision on the RP2040: 24 bits), then corrected exactly."""
    if n < 0x40000000:
        return isqrt(n)
    x = int(math.sqrt(n))
    while x * x > n:
        x -= 1
    while (x + 1) * (x + 1) <= n:
        x += 1
    return x


def cycles(ns, hz):
    """State-machine cycles covering ns nanoseconds at hz (at least 2: the step program's minimum)."""
    c = (ns * (hz // 1000000) + 999) // 1000
    return c if c > 2 else 2


def pulse_cycles(cfg):
    """The step pulse's high time in state-machine cycles of (x, z): the hardware needs them first."""
    hz = cfg["timing"]["pio_hz"]
    return cycles(cfg["x"]["step_pulse_ns"], hz), cycles(cfg["z"]["step_pulse_ns"], hz)


def axis_for(out, c, hz, high, track):
    """The planner for one axis from its board data `c`: trapezoidal, or S-curve with `jerk_mm_s3`;
    `track` keeps the per-word records following_error() needs (the carriage, not the lift)."""
    setup = cycles(c["dir_setup_ns"], hz)
    if c["jerk_mm_s3"]:
        from railbot.scurve import JerkAxis  # only boards that use it pay for the module

        return JerkAxis(out, c["steps_per_mm"], c["v_max_mm_s"], c["a_max_mm_s2"], c["jerk_mm_s3"], hz, high,
                        setup, track)
    return Axis(out, c["steps_per_mm"], c["v_max_mm_s"], c["a_max_mm_s2"], hz, high, setup, track)
