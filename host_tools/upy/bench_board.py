"""The figures of the simulated board's faithfulness to the rp2 port (issue 11), for `railbot bench`:
`steps(argv)` with `BENCH name value` lines, as bench_upy.py. MicroPython subset.

Phases:
  left     (MicroPython) upy_alloc_per_tick_left_of_start_bytes: bench_upy.py's tick measurement
           (real ticks recorded at the machine/rp2 level, replayed under heap_lock) on a board that
           powered up at the rail's far end, so the whole traverse is left of where the measuring
           wheel's count started;
  crash    (CPython) task_crash_cases, task_crash_uncontrolled: simboard.rig.task_crash_campaign.
(sim_tick_late_max_ms comes from bench_upy.py's days: railbot_host.bench.derive.)

A script of its own, not phases of bench_upy.py: a line added there moves that script's day heap
reading (see bench_grip.py).
"""
import sys

from benchlib import GC, UPY, out, note, step  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_board.py --board DIR [--seed N] left|crash ..."
START_X_MM = 59000  # the power-up place for `left`: right of every station


def phase_left(folder, seed):
    """bench_upy's tick phase on a board that started at START_X_MM; its figures renamed."""
    import bench_upy
    from simboard.board import SimBoard
    from railbot import config

    names = {"upy_alloc_per_tick_bytes": "upy_alloc_per_tick_left_of_start_bytes",
             "upy_tick_heap_lock_ok": "upy_tick_left_of_start_heap_lock_ok",
             "tick_replay_faithful": "tick_left_of_start_replay_faithful"}

    def renamed(name, value):
        if name in names:
            out(names[name], value)

    bench_upy.out = renamed
    bench_upy.note = lambda text: note("left of start: " + text)
    board = SimBoard(folder, seed=seed, start_x_mm=START_X_MM)
    cfg, pins = config.load_board(folder)
    from railbot.robot import Robot
    robot = Robot(cfg, pins)
    robot.start()
    robot.command("home")
    if not bench_upy.run_until(board, lambda: robot.homed, 600000):
        note("left of start: homing did not finish: %s" % robot.command("status"))
        out("upy_alloc_per_tick_left_of_start_bytes", -1)
        return
    yield GC
    bench_upy.phase_tick(board, robot)
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
    folder, seed, phases = None, 1, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--board", "--seed") and i + 1 < len(argv):
            if a == "--board":
                folder = argv[i + 1]
            else:
                seed = int(argv[i + 1])
            i += 1
        else:
            phases.append(a)
        i += 1
    if folder is None or not phases or [p for p in phases if p not in ("left", "crash")]:
        print(USAGE)
        RC = 2
        return
    import simboard
    simboard.install()
    for p in phases:
        if p == "left":
            if not UPY:
                print("ERROR left: needs MicroPython (heap_lock, gc.mem_alloc)")
                continue
            yield from phase_left(folder, seed)
        else:
            phase_crash()
        yield GC
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython: the steps in one go
    g = steps(sys.argv[1:])
    while step(g):
        pass
    sys.exit(RC)
