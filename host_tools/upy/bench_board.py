"""The figures of the simulated board's faithfulness to the rp2 port (issue 11), for `railbot bench`:
`steps(argv)` with `BENCH name value` lines, as bench_upy.py. MicroPython subset.

Phases:
  left     (MicroPython) upy_alloc_per_tick_left_of_start_bytes: bench_upy.py's tick measurement
           (real ticks recorded at the machine/rp2 level, replayed under heap_lock) on a board that
           powered up at the rail's far end, so the whole traverse is left of where the measuring
           wheel's count started;
  crash    (CPython) task_crash_cases, task_crash_uncontrolled: simboard.rig.task_crash_campaign;
  late     (CPython) sim_tick_late_max_ms: the longest a control tick of a move came late
           (Robot.tick_late_max_ms) over the bench's own seeded day, with its flash erases, marker
           bytes at their baud rate and the link's events.

A script of its own, not phases of bench_upy.py: a line added there moves that script's day heap
reading (see bench_grip.py).
"""
import sys

from benchlib import GC, UPY, out, note, step  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_board.py --board DIR [--seed N] [--hours H] left|crash|late ..."
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


def phase_late(folder, seed, hours):
    """The bench's day (bench_upy.py's: plan_day(seed, hours), 12 h more for the evening's cars)."""
    from simboard.board import SimBoard
    from simboard.day import Day, plan_day

    board = SimBoard(folder, seed=seed)
    robot = board.robot()
    cars = plan_day(seed, hours=hours)
    end_ms = (hours + 12) * 3600000
    if cars and cars[-1].leave_ms + 600000 > end_ms:
        end_ms = max(c.leave_ms for c in cars) + 600000
    day = Day(board, robot, cars, log=None)
    day.start()
    day.run(end_ms)
    s = day.summary()
    out("sim_tick_late_max_ms", robot.tick_late_max_ms)
    out("sim_day_flash_erases", board.flash.erases)
    out("sim_day_flash_busy_ms", board.flash.busy_ms)
    note("late: %d requests, %d served, %d alarms; the longest control tick delay while moving %d ms; "
         "%d flash erases, %d ms of flash time" % (s["requests"], s["served"], s["alarms"], robot.tick_late_max_ms,
                                                    board.flash.erases, board.flash.busy_ms))
    if s["served"] != s["requests"] or s["alarms"]:
        print("ERROR late: the day served %d of %d with %d alarms" % (s["served"], s["requests"], s["alarms"]))


def steps(argv):
    global RC
    folder, seed, hours, phases = None, 1, 24, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--board", "--seed", "--hours") and i + 1 < len(argv):
            if a == "--board":
                folder = argv[i + 1]
            elif a == "--seed":
                seed = int(argv[i + 1])
            else:
                hours = int(argv[i + 1])
            i += 1
        else:
            phases.append(a)
        i += 1
    if folder is None or not phases or [p for p in phases if p not in ("left", "crash", "late")]:
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
        elif p == "crash":
            phase_crash()
        else:
            phase_late(folder, seed, hours)
        yield GC
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython: the steps in one go
    g = steps(sys.argv[1:])
    while step(g):
        pass
    sys.exit(RC)
