"""The MicroPython side of `railbot bench` on the SIM board: runs the phases asked, each from the
module of what it measures. MicroPython subset.

    bench_upy.py --board DIR [--seed N] [--hours H] [--short N] PHASE...

  heap     the firmware's heap once built and homed (bench_heap.py)
  tick     allocation and cost of one control tick mid-traverse, on replayed hardware
           (bench_tick.py, benchreplay.py); reuses the robot of `heap`
  segment  cost, allocation and heap_lock proof of planning one step word (bench_planner.py)
  day      heap growth over a simulated day, and its wall time (bench_day.py); the only phase
           CPython runs too (`python bench_upy.py --board DIR day`)
Runs under MicroPython's WebAssembly port, driven step by step by host_tools/upy/bench.mjs, with
the firmware imported from .mpy files. Output: one `BENCH name value` line per figure and `NOTE ...`
lines for the reader; anything else on stdout is ignored by the host (railbot_host.bench).

The port collects garbage only at the top level (gc.collect() just asks for it), so the script
is a generator, `steps(argv)`: bench.mjs calls `step()` once per top-level call and a step that
yields GC has gc.collect() done when it returns. Heap figures are read at the start of the next
step; allocation figures are mem_alloc() differences inside one step, where nothing is freed.
A phase's module is imported only when it is asked for: every name a module holds is interned
when it is compiled, which moves where the string pools fill up, and so the day's heap reading.
"""
import sys

from benchlib import GC, UPY, parse_args, run, step  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_upy.py --board DIR [--seed N] [--hours H] [--short N] heap|tick|segment|day ..."


def steps(argv):
    """The phases asked, as one generator of top-level steps (see the module doc); sets RC."""
    global RC
    args = parse_args(argv, {"board": "", "seed": 1, "hours": 24, "short": 0}, ("heap", "tick", "segment", "day"))
    if args is None or not args[0]["board"]:
        print(USAGE)
        RC = 2
        return
    (opts, phases) = args
    folder, seed = opts["board"], opts["seed"]
    if not UPY and [p for p in phases if p != "day"]:
        print("bench_upy.py: heap, tick and segment need MicroPython; CPython runs `day` only")
        RC = 2
        return
    import simboard

    simboard.install()
    board = robot = None
    for p in phases:
        if p == "heap" or (p == "tick" and robot is None):
            import bench_heap

            board, robot = yield from bench_heap.phase_heap(folder, seed)
        if p == "tick":
            import bench_tick

            bench_tick.phase_tick(board, robot)
        elif p == "segment":
            import bench_planner

            bench_planner.phase_segment(folder)
        elif p == "day":
            import bench_day

            board = robot = None
            yield GC
            yield from bench_day.phase_day(folder, seed, opts["hours"], opts["short"])
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython (or MicroPython's unix port): the steps in one go
    run(steps(sys.argv[1:]))
    sys.exit(RC)
