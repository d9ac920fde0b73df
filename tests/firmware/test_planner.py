"""The step planner (railbot.motion) on its own: exact integer maths, no allocation, stops.

Runs under CPython and real MicroPython; under MicroPython `heap_lock` is real, so a planner that
allocates (a big int, a tuple) raises MemoryError there. Step timing against the closed-form
trapezoid is in tests/host/test_step_timing.py.
"""
import micropython
from railbot.motion import Axis, isqrt

HZ = 125000000
HIGH = 125  # 1 us pulses
BIG = 0x3FFFFFFF


class Words:
    """A step output that keeps (n, period) of each word, in preallocated lists."""

    def __init__(self, size):
        self.n = [0] * size
        self.p = [0] * size
        self.count = 0
        self.h = HIGH - 2

    def space(self):
        return 1

    def pending(self):
        return 0

    def put(self, w):
        i = self.count
        self.n[i] = ((w >> 1) & 0x7F) + 1
        self.p[i] = (w >> 8) + self.h + 5
        self.count = i + 1

    def commit(self):
        pass


def x_axis(out):
    return Axis(out, 20, 1000, 500, HZ, HIGH, HIGH)  # the SIM carriage


def test_isqrt_is_exact_on_small_ints():
    for n in (0, 1, 2, 3, 4, 15, 16, 17, 99, 100, 101, 65535, 65536, 1000000000, BIG):
        r = isqrt(n)
        assert r * r <= n and (r + 1) * (r + 1) > n, n
    n = 7
    while n < BIG:
        r = isqrt(n)
        assert r * r <= n and (r + 1) * (r + 1) > n, n
        n = n * 3 + 1


def test_a_move_is_exactly_its_steps_in_small_int_words():
    for steps in (1, 2, 3, 7, 400, 3001, 40000, 52000):
        out = Words(6000)
        ax = x_axis(out)
        ax.move_to(steps)
        while ax.queued_motion():
            ax._next_word()
        total = 0
        for i in range(out.count):
            total += out.n[i]
            assert ax.p_min <= out.p[i] <= ax.p_max
        assert total == steps and ax.pos == steps


def plan_locked(ax, steps):
    """Plan a whole move under heap_lock (MemoryError on MicroPython if a word allocates)."""
    ax.move_to(steps)
    ax._next_word()
    micropython.heap_lock()
    try:
        while ax.queued_motion():
            ax._next_word()
    finally:
        micropython.heap_unlock()
    assert ax.pos == steps


def test_planning_allocates_nothing():
    plan_locked(x_axis(Words(4000)), 52000)  # 2.6 m: the ramp up, cruise and the ramp down


def test_stop_ramps_down_from_any_point_at_the_configured_rate():
    for at in (1, 5, 40, 300, 900):  # words into a 60 m move: the ramp up, near and at full speed
        out = Words(6000)
        ax = x_axis(out)
        ax.move_to(1200000)
        for _ in range(at):
            ax._next_word()
        before, j = ax.pos, ax.j2 >> 1
        ax.stop()
        first = out.count
        while ax.queued_motion():
            ax._next_word()
        # exactly the steps the ramp needs from that speed (v^2 / 2a), every period longer than the last
        assert ax.pos - before == j
        for i in range(first + 1, out.count):
            assert out.p[i] >= out.p[i - 1]
        # and the last step is the ramp's slowest, sqrt(2/a) s: 14.1 ms at 10 000 steps/s^2
        assert 14100 * 125 <= out.p[out.count - 1] <= 14200 * 125


def test_low_speed_moves_cruise_from_the_first_step():
    out = Words(100)
    ax = x_axis(out)
    ax.move_to(-50, 5)  # 5 mm/s: 100 steps/s, below the ramp's first step
    while ax.queued_motion():
        ax._next_word()
    assert ax.pos == -50
    for i in range(1, out.count):  # one step a word: each interval is the word's period + 3 (the law)
        assert out.n[i] == 1 and out.p[i] + 3 == HZ // 100
