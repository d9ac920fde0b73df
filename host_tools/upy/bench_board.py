"""The figures of the simulated board's faithfulness to the rp2 port (issue 11), for `railbot bench`:
`steps(argv)` with `BENCH name value` lines, as bench_upy.py. MicroPython subset.

Phases:
  left     (MicroPython) upy_alloc_per_tick_left_of_start_bytes: bench_tick.py's measurement
           (real ticks recorded at the machine/rp2 level, replayed under heap_lock) on a board that
           powered up at the rail's far end, so the whole traverse is left of where the measuring
           wheel's count started;
  crash    (CPython) task_crash_cases, task_crash_uncontrolled: simboard.rig.task_crash_campaign.
(sim_tick_late_max_ms comes from bench_day.py's days: railbot_host.bench.derive.)

A script of its own, not phases of bench_upy.py: a line added to the day's run moves its heap
reading (see bench_grip.py).
"""
import sys

from benchlib import GC, UPY, note, out, parse_args, renamed, run, step  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_board.py --board DIR [--seed N] left|crash ..."
START_X_MM = 59000  # the power-up place for `left`: right of every station


def phase_left(folder, seed):
    """bench_tick.py's measurement on a board that started at START_X_MM; its figures renamed."""
    import bench_tick
    from benchsim import run_until
    from simboard.board import SimBoard
    from railbot import config

    board = SimBoard(folder, seed=seed, start_x_mm=START_X_MM)
    cfg, pins = config.load_board(folder)
    from railbot.robot import Robot
    robot = Robot(cfg, pins)
    robot.start()
    robot.command("home")
    if not run_until(board, lambda: robot.homed, 600000):
        note("left of start: homing did not finish: %s" % robot.command("status"))
        out("upy_alloc_per_tick_left_of_start_bytes", -1)
        return
    yield GC
    renamed({"upy_alloc_per_tick_bytes": "upy_alloc_per_tick_left_of_start_bytes",
             "upy_tick_heap_lock_ok": "upy_tick_left_of_start_heap_lock_ok",
             "tick_replay_faithful": "tick_left_of_start_replay_faithful"}, "left of start: ")
    try:
        bench_tick.phase_tick(board, robot)
    finally:
        renamed(None)
    note("left of start: the carriage ran at x < %d mm, the count's start (encoder last %d counts)"
         % (START_X_MM, robot.hw.encoder.last))


def phase_crash():
    from simboard.rig import task_crash_campaign
    cases, failed, bad = task_crash_campaign()
    out("task_crash_cases", cases)
    out("task_crash_uncontrolled", failed)
    for b in bad:
        print("ERROR task crash: " + b)


def steps(argv):
    global RC
    args = parse_args(argv, {"board": "", "seed": 1}, ("left", "crash"))
    if args is None or not args[0]["board"]:
        print(USAGE)
        RC = 2
        return
    (opts, phases) = args
    import simboard
    simboard.install()
    for p in phases:
        if p == "left":
            if not UPY:
                print("ERROR left: needs MicroPython (heap_lock, gc.mem_alloc)")
                continue
            yield from phase_left(opts["board"], opts["seed"])
        else:
            phase_crash()
        yield GC
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython: the steps in one go
    run(steps(sys.argv[1:]))
    sys.exit(RC)
