"""The DC gripper's loop under MicroPython, for `railbot bench` (driven by bench.mjs: `steps(argv)`,
`BENCH name value` lines):

    bench_grip.py alloc|rate ...

  alloc  grip_loop_alloc_bytes and upy_grip_heap_lock_ok: the loop's steps
         (simboard.rig.grip_loop_steps), allocation by mem_alloc around each step, then the same
         moves with every step under heap_lock;
  rate   grip_loop_rate_hz with the loop's cost charged to the simulated clock (grip_rate).
charged_grip_rate also runs under CPython, for the tests. MicroPython subset.

Not a phase of bench_upy.py: every line a script of the day's run holds (its names and constants,
interned when it is compiled) moves where the interpreter's string pools fill up, and so how much
of a pool's allocation falls inside the day's heap reading (upy_heap_growth_day_bytes moved by 64
to 300 bytes with this code, or only a call of it, in the day's script).
"""
import sys

from benchlib import GC, clock_cost, now_ms, note, out, parse_args, run, step, time_empty  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_grip.py alloc|rate ..."

# The real rp2 port's figures (TESTING.md section 5: MicroPython v1.28's rp2 port on an emulated
# RP2040, PICO board data, frozen image), the yardstick that turns a cost measured here into the cost
# on a board: `for i in range(1000): pass` inside a function, and a control tick at rest.
RP2_EMPTY_LOOP_1000_US = 3300
RP2_TICK_AT_REST_US = 310  # (270..310 us measured: the top of the range)
GRIP_TIMED_RUNS = 5  # timed passes over the grip moves; the cheapest pass is taken, as for the tick


def _grip_step_cost():
    """(us of one DC loop step, mean over the moves of simboard.rig.grip_loop_steps, cheapest of
    GRIP_TIMED_RUNS passes; us of the reference loop `for _ in range(1000): pass`, cheapest of as
    many), both under this interpreter and with the clock read's own cost taken out."""
    from simboard.rig import Rig, DC_GRIPPER, grip_loop_steps

    clock_ms = clock_cost()
    best_step = best_ref = 1e9
    for _ in range(GRIP_TIMED_RUNS):
        rig = Rig(home=False, gripper=DC_GRIPPER)
        g = rig.robot.gripper
        real = g.step
        acc = [0.0, 0]

        def timed():
            t0 = now_ms()
            r = real()
            acc[0] += now_ms() - t0 - clock_ms
            acc[1] += 1
            return r

        g.step = timed  # an instance attribute: the loop's own `self.step()` finds it
        grip_loop_steps(rig, lock=False)
        if acc[1]:
            best_step = min(best_step, acc[0] * 1000 / acc[1])
        best_ref = min(best_ref, (time_empty() - clock_ms) * 1000)
    return best_step, best_ref


def charged_grip_rate(rig, step_us, tick_us):
    """A close then an open of rig's gripper (Robot.grip: the firmware's own loop on its 1 ms grid)
    with step_us charged to the virtual clock after every loop step and tick_us after every control
    tick: ([steps a second of each move, between its first and last step's start], the longest
    period between two steps in us). Runs under CPython and MicroPython."""
    from simboard import vtime
    from simboard.rig import run_task

    robot = rig.robot
    g = robot.gripper
    real_step, real_tick = g.step, robot.tick
    starts = []

    def charged_step():
        starts.append(vtime.ticks_us())
        r = real_step()
        vtime.sleep_us(step_us)
        return r

    def charged_tick():
        real_tick()
        vtime.sleep_us(tick_us)

    g.step, robot.tick = charged_step, charged_tick  # instance attributes: the tasks' self.x() find them
    rates = []
    gap_max = 0
    for close in (True, False):
        del starts[:]
        run_task(rig, robot.grip(close), 10)
        for i in range(len(starts) - 1):
            gap = vtime.ticks_diff(starts[i + 1], starts[i])
            if gap > gap_max:
                gap_max = gap
        span = vtime.ticks_diff(starts[-1], starts[0]) if len(starts) > 1 else 0
        rates.append((len(starts) - 1) * 1000000 / span if span > 0 else 0.0)
    g.step, robot.tick = real_step, real_tick
    return rates, gap_max


def grip_rate():
    """grip_loop_rate_hz with the loop's cost charged to the simulated clock.

    The simulated clock charges no CPU time, so a loop on a 1 ms grid reads 1000 steps a second
    whatever it costs. Here the DC loop step's cost is measured under MicroPython against the
    reference loop (grip_step_cost_ref_ratio), scaled by the reference loop's time on the real rp2
    port (RP2_EMPTY_LOOP_1000_US) to grip_step_rp2_us, and every step of a close and an open
    (Robot.grip, the firmware's own asyncio loop) then charges that many us to the virtual clock
    (time.sleep_us: blocking, as CPU time is), and every control tick meanwhile charges
    RP2_TICK_AT_REST_US. The rate is the loop steps a second between the first and the last step's
    start, the slower of the two moves; grip_step_period_max_us is the longest gap between two
    steps. The simulated hardware the step calls (the ADC read computing the plant's current) is
    Python here and C on a board, so the charge errs on the slow side."""
    from simboard.rig import Rig, DC_GRIPPER

    step_us, ref_us = _grip_step_cost()
    ratio = step_us / ref_us if ref_us > 0 else 0.0
    charge_us = int(ratio * RP2_EMPTY_LOOP_1000_US + 0.5)
    out("grip_step_us", step_us)
    out("grip_step_empty_loop_1000_us", ref_us)
    out("grip_step_cost_ref_ratio", ratio)
    out("grip_step_rp2_us", charge_us)
    # its own charges (the step's, estimated; the tick's), not the board's table as well
    rates, gap_max = charged_grip_rate(Rig(home=False, gripper=DC_GRIPPER, cpu_costs=False), charge_us,
                                       RP2_TICK_AT_REST_US)
    out("grip_loop_rate_hz", int(min(rates) * 10) / 10)
    out("grip_step_period_max_us", gap_max)
    note("grip rate, cost charged: a step %.1f us here (reference loop %.1f us: ratio %.4f) -> %d us on the rp2 "
         "port, ticks %d us; close %.1f Hz, open %.1f Hz, longest step period %d us" % (
             step_us, ref_us, ratio, charge_us, RP2_TICK_AT_REST_US, rates[0], rates[1], gap_max))


def phase_alloc():
    """The DC gripper's loop, step by step (simboard.rig.grip_loop_steps): allocation by mem_alloc
    around each step, then the same moves with every step under heap_lock."""
    from simboard.rig import Rig, DC_GRIPPER, grip_loop_steps

    rig = Rig(home=False, gripper=DC_GRIPPER)
    alloc, n, ends = grip_loop_steps(rig, lock=False)
    out("grip_loop_alloc_bytes", alloc)
    note("grip: %d steps, moves ended %r (2 stall, 1 done)" % (n, ends))
    ok = False
    rig = Rig(home=False, gripper=DC_GRIPPER)  # the same moves from open jaws
    try:
        _, n, ends = grip_loop_steps(rig, lock=True)
        ok = ends == [2, 1, 1]
        note("grip: under heap_lock %d steps, moves ended %r" % (n, ends))
    except MemoryError:
        note("grip: MemoryError under heap_lock")
    out("upy_grip_heap_lock_ok", ok)


def steps(argv):
    """The script as a generator of top-level steps (bench.mjs); sets RC."""
    global RC
    args = parse_args(argv, {}, ("alloc", "rate"))
    if args is None:
        print(USAGE)
        RC = 2
        return
    import simboard

    simboard.install()
    for p in args[1]:
        yield GC
        if p == "alloc":
            phase_alloc()
        else:
            grip_rate()
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython: the steps in one go (the step cost is then CPython's)
    run(steps(sys.argv[1:]))
    sys.exit(RC)
