"""Step timing of the planner's words against an independent closed-form trapezoid (issue 3).

The words come from the firmware planner (railbot.motion.Axis), their edge times from the step
program's law, which tests/host/test_pio.py proves cycle by cycle in the emulator. The ideal is
written here from v and a alone. Every figure is machine-independent (cycles, simulated time), so
the bounds are asserted; `make bench` reports the same figures (railbot_host.steptiming).
"""
import math

import pytest
from hypothesis import given, settings, strategies as st

from railbot_host import steptiming

HZ = 125_000_000


def ideal_times(n, v, a):
    """t_k (s) at which a rest-to-rest trapezoid of n steps, v steps/s, a steps/s^2 reaches step k."""
    t_acc = v / a
    d_acc = a * t_acc * t_acc / 2
    if 2 * d_acc > n:  # a triangle: it turns at n/2
        t_acc = math.sqrt(n / a)
        d_acc = n / 2
    t_cruise = (n - 2 * d_acc) / v if 2 * d_acc < n else 0.0
    total = 2 * t_acc + t_cruise
    out = []
    for k in range(1, n + 1):
        if k <= d_acc:
            out.append(math.sqrt(2 * k / a))
        elif k <= n - d_acc:
            out.append(t_acc + (k - d_acc) / v)
        else:
            out.append(total - math.sqrt(2 * (n - k) / a))
    return out


def worst_error_us(spec, n):
    words, h = steptiming.plan(spec, n)
    edges = steptiming.edges(words, h)
    assert len(edges) == n
    ideal = ideal_times(n, spec.v, spec.a)
    # the move's time origin is its first step
    return max(abs((edges[k] - edges[0]) / HZ - (ideal[k] - ideal[0])) for k in range(n)) * 1e6, words


@pytest.fixture(scope="module")
def figures():
    return steptiming.measure()


def test_the_bench_ideal_is_the_closed_form():
    for n, v, a in ((52000, 20000, 10000), (3001, 20000, 10000), (7, 4000, 16000), (6400, 4000, 16000)):
        assert max(abs(x - y) for x, y in zip(ideal_times(n, v, a), steptiming.trapezoid_times(n, v, a))) < 1e-12


def test_full_rail_move_edges_within_a_microsecond_of_the_ideal():
    spec = steptiming.sim_x()
    err, words = worst_error_us(spec, steptiming.sim_travel_steps())
    assert err <= 1.0, err
    assert all(0 <= w < 1 << 30 for w in words)  # small ints on the board


def test_figures_within_the_issue_bounds(figures):
    assert figures["pio_step_timing_max_err_us"] <= 1.0
    assert figures["step_words_per_s_max"] <= 2000
    assert figures["feed_min_lead_ms"] >= 20 and figures["feed_underrun"] is False
    assert figures["pio_max_step_rate_hz"] >= 200000
    for m in ("60m", "2600mm"):
        assert 0.9995 <= figures["move_time_ratio_vs_optimal_" + m] <= 1.02
        assert figures["peak_speed_ratio_" + m] <= 1.005
        assert figures["peak_accel_ratio_" + m] <= 1.02


def test_speed_profile_of_the_ideal_is_exact():
    # the 10 ms window measure itself: the ideal trapezoid reads a and v exactly
    spec = steptiming.sim_x()
    ideal = ideal_times(52000, spec.v, spec.a)
    v, acc = steptiming.speed_profile([t * HZ for t in ideal], HZ // 1_000_000)
    assert abs(max(v) / spec.v - 1) < 1e-6
    assert abs(max(abs(x) for x in acc) / spec.a - 1) < 1e-6


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40000), steps_per_mm=st.sampled_from([5, 20, 40, 80]),
       v_mm_s=st.integers(20, 400), a_mm_s2=st.integers(100, 2000))
def test_any_move_any_axis_stays_within_a_microsecond(n, steps_per_mm, v_mm_s, a_mm_s2):
    v, a = v_mm_s * steps_per_mm, a_mm_s2 * steps_per_mm
    if v > 32767 or a < 2000 or v < 40:
        return  # outside the planner's configured range (railbot.config)
    spec = steptiming.AxisSpec(steps_per_mm, v_mm_s, a_mm_s2)
    err, words = worst_error_us(spec, n)
    if (v * v) % (2 * a) == 0:  # the ramp reaches v on a whole step: the planner is exact
        assert err <= 1.0, err
    else:
        # The ramp stops at the whole step below v^2/2a and the cruise starts at exactly v: the ideal
        # reaches v a fraction of a step later. That offsets the cruise and the deceleration by less
        # than one step period (docs/motion.md, "Limits").
        assert err <= 1e6 / v + 1.0, err
    assert all(0 <= w < 1 << 30 for w in words)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 60000), j=st.integers(1, 2000), a=st.sampled_from([2000, 10000, 16000, 50000]))
def test_any_move_whole_step_ramps_stay_within_a_microsecond(n, j, a):
    # v with v^2/2a a whole number of steps: v = sqrt(2aj) whole when 2aj is a square
    v = int(math.isqrt(2 * a * j))
    if v * v != 2 * a * j or v > 32767 or v < 40:
        v = 2 * a  # v^2 / 2a = 2a: whole
        if v > 32767:
            return
    err, words = worst_error_us(steptiming.AxisSpec(1, v, a), n)
    assert err <= 1.0, (err, v, a, n)


# --- the S-curve option (railbot.scurve) -----------------------------------------------------------

def scurve_times(n, m1, m2, jerk):
    """t_k (s) of a rest-to-rest S-curve: jerk for m1 ms, constant acceleration m2 ms, jerk down m1 ms,
    cruise, and the mirror image; position k found by bisection on the closed-form cubic."""
    t1, t2 = m1 / 1000, m2 / 1000
    acc = jerk * t1
    x1, v1 = jerk * t1 ** 3 / 6, jerk * t1 ** 2 / 2
    x2, v2 = x1 + v1 * t2 + acc * t2 * t2 / 2, v1 + acc * t2
    ramp = 2 * t1 + t2
    v = v2 + acc * t1 - jerk * t1 * t1 / 2
    d = v * ramp / 2

    def x(t):
        if t <= t1:
            return jerk * t ** 3 / 6
        if t <= t1 + t2:
            u = t - t1
            return x1 + v1 * u + acc * u * u / 2
        u = t - t1 - t2
        return x2 + v2 * u + acc * u * u / 2 - jerk * u ** 3 / 6

    def when(pos):
        lo, hi = 0.0, ramp
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if x(mid) < pos else (lo, mid)
        return (lo + hi) / 2

    end = 2 * ramp + (n - 2 * d) / v
    return [when(k) if k <= d else (ramp + (k - d) / v if k < n - d else end - when(n - k)) for k in range(1, n + 1)]


def test_s_curve_moves_keep_jerk_acceleration_speed_and_timing():
    from railbot.scurve import JerkAxis

    jerk_mm, spec = 10000, steptiming.sim_x()
    for n in (3000, 52000):
        out = steptiming.LawOutput(spec.cycles(spec.pulse_ns) - 2)
        ax = JerkAxis(out, spec.steps_per_mm, spec.v_max_mm_s, spec.a_max_mm_s2, jerk_mm, spec.pio_hz,
                      spec.cycles(spec.pulse_ns), spec.cycles(spec.dir_setup_ns))
        ax.move_to(n)
        while ax.queued_motion():
            ax._next_word()
        edges = steptiming.edges(out.words, ax.h)
        assert len(edges) == n
        jerk = jerk_mm * spec.steps_per_mm
        ideal = scurve_times(n, ax.m1, ax.m2, jerk)
        err = max(abs((edges[k] - edges[0]) / HZ - (ideal[k] - ideal[0])) for k in range(n)) * 1e6
        assert err <= 10.0, err  # linear interpolation within 1 ms slices (docs/motion.md)
        v, acc = steptiming.speed_profile(edges, HZ // 1_000_000)
        jerks = [(acc[i + 1] - acc[i]) / 0.01 for i in range(len(acc) - 1)]
        assert max(v) <= spec.v * 1.001
        assert max(abs(a) for a in acc) <= spec.a * 1.01
        assert max(abs(j) for j in jerks) <= jerk * 1.1  # 10 ms windows: a few % of measuring noise
        # the trapezoid at the same a_max jumps its acceleration: the measured jerk is many times more
    words, h = steptiming.plan(spec, 52000)
    v, acc = steptiming.speed_profile(steptiming.edges(words, h), HZ // 1_000_000)
    assert max(abs(acc[i + 1] - acc[i]) / 0.01 for i in range(len(acc) - 1)) > 3 * jerk


def test_max_step_rate_is_measured_in_the_emulator(monkeypatch):
    """pio_max_step_rate_hz comes from the PIO emulator running the shipped program, not from a
    formula: 3 delay cycles added to the program's last instruction (`jmp y-- step`) slow every
    period by 3 cycles, and the figure follows; the widths seen are the configured 1 us pulse."""
    from railbot.hal import pio as shipped

    spec = steptiming.sim_x()
    fig = steptiming.emulated_max_step_rate(spec)
    high = spec.cycles(spec.pulse_ns)
    assert fig["pio_burst_steps"] == 2 * steptiming.BURST_STEPS and fig["pio_burst_isr_h"] == high - 2
    assert fig["pio_step_period_min_cycles"] == 2 * high  # 250 cycles inside a word
    assert fig["pio_max_step_rate_hz"] == spec.pio_hz // (2 * high + 3)  # P + 3 across the word boundary
    assert fig["pio_step_high_min_ns"] >= spec.pulse_ns and fig["pio_step_low_min_ns"] >= spec.pulse_ns
    assert not steptiming.errors(fig, spec)
    words = list(shipped.step_pulses.words)
    words[-1] |= 3 << 8  # [3] on `jmp y-- step side 0`: the delay field under the side-set bit
    monkeypatch.setattr(shipped.step_pulses, "words", words)
    slow = steptiming.emulated_max_step_rate(spec)
    assert slow["pio_step_period_min_cycles"] == 2 * high + 3
    assert slow["pio_max_step_rate_hz"] == spec.pio_hz // (2 * high + 6)


def test_a_step_pulse_shorter_than_configured_is_an_error():
    spec = steptiming.sim_x()
    fig = {"pio_burst_steps": 2 * steptiming.BURST_STEPS, "pio_step_high_min_ns": 1000, "pio_step_low_min_ns": 24}
    assert steptiming.errors(fig, spec) == ["PIO emulator: pio_step_low_min_ns = 24, under the configured step pulse of 1000 ns"]
