"""The S-curve option of the planner (railbot.scurve, board data `jerk_mm_s3`), both tiers.

Timing, acceleration and jerk measured from the step law are in tests/host/test_step_timing.py.
"""
from railbot.scurve import JerkAxis, muldiv, REM
from simboard.rig import Rig
from test_planner import Words, HZ, HIGH, plan_locked

JERK = 10000  # mm/s^3: 200 000 steps/s^3 on the SIM carriage (20 steps/mm)


def x_axis(out):
    return JerkAxis(out, 20, 1000, 500, JERK, HZ, HIGH, HIGH)


def plan(ax, out, steps, stop_at=-1):
    ax.move_to(steps)
    k = 0
    while ax.queued_motion():
        if k == stop_at:
            ax.stop()
        ax._next_word()
        k += 1
    total = 0
    for i in range(out.count):
        total += out.n[i]
        assert ax.p_min <= out.p[i] <= ax.p_max
    return total


def test_muldiv_is_exact():
    for a, b, c in ((0, 5, 7), (125000000, 2000, 130000000), (6250, 11999999, 12000000),
                    (1073741823, 1, 536870911), (123456, 654321, 99991)):
        q = muldiv(a, b, c)
        r = REM[0]
        assert q * c + r == a * b and 0 <= r < c


def test_every_move_is_exactly_its_steps():
    for steps in (1, 2, 7, 100, 3001, 52000):
        out = Words(6000)
        ax = x_axis(out)
        assert plan(ax, out, steps) == steps and ax.pos == steps


def test_planning_allocates_nothing():
    plan_locked(x_axis(Words(6000)), 52000)


def test_stop_in_cruise_ramps_down_over_the_ramp_length():
    out = Words(6000)
    ax = x_axis(out)
    ax.move_to(1200000)
    while ax.phase != 23:  # cruising (railbot.scurve._J_CRUISE)
        ax._next_word()
    ax._next_word()
    before = ax.pos
    ax.stop()
    first = out.count
    while ax.queued_motion():
        ax._next_word()
    assert ax.pos - before == ax.d_int  # the S-curve ramp's length, 21 000 steps at 1 m/s
    for i in range(first + 1, out.count):  # slowing down all the way
        assert out.p[i] >= out.p[i - 1] - 1


def test_stop_during_the_ramp_up_turns_back_over_it():
    for at in (1, 3, 50, 400):
        out = Words(6000)
        ax = x_axis(out)
        ax.move_to(1200000)
        for _ in range(at):
            ax._next_word()
        x0 = ax.pos
        ax.stop()
        while ax.queued_motion():
            ax._next_word()
        assert x0 <= ax.pos <= 2 * x0 + 1  # at most as far again as the ramp had come


def test_a_mission_runs_with_jerk_limited_moves():
    rig = Rig(units=[(1, "D24L")], x_jerk_mm_s3=JERK)
    assert rig.cmd("charge 3").startswith("ok")
    rig.until(lambda: rig.unit_port_name(1) != "D24L" and rig.robot.state == "IDLE" and not rig.robot.jobs, 300)
    assert rig.plant.violations == [] and not rig.robot.alarm
