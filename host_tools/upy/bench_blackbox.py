"""The black box's figures (firmware/railbot/blackbox.py, docs/storage.md "The black box"), for
`railbot bench` (`BENCH name value` lines):

    bench_blackbox.py sim|heap ...

  sim   on the simulated board (simulated time: machine-independent; CPython, as `make bench` runs
        it): blackbox_events_after_reboot (350 events, a reboot, the events `log` pages back),
        blackbox_flash_bytes_max (the most flash its files took over a long day of the longest
        events), blackbox_writes_while_moving (flash write steps while an axis moved, over jobs
        with long traverses and a burst of events mid-traverse), blackbox_powercut_cases and
        _failed (a power cut at every flash step of a flush: littlefs and FAT, append and rotation);
  heap  under MicroPython: upy_blackbox_heap_bytes, the heap a black box holds once built (its
        buffer, its object, its numbers), after reading full files at boot, by gc.mem_alloc.
MicroPython subset; the scenarios are simboard/bbrig.py's, which tests/firmware/test_blackbox.py runs too.
"""
import sys

from benchlib import GC, note, out, parse_args, run, step  # noqa: F401  (bench.mjs calls step)

RC = 0  # exit status, read by bench.mjs
USAGE = "usage: bench_blackbox.py sim|heap ..."


def phase_sim():
    from simboard.rig import Rig
    from simboard import bbrig
    from railbot import blackbox as B

    rig = Rig(home=False)
    bbrig.fill(rig, 350, "test")
    robot = rig.reboot()
    got, _ = bbrig.page_all(robot.blackbox)
    seqs = [s for s, _ in got]
    in_order = seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kept = len([t for _, t in got if t.startswith("test ")])
    out("blackbox_events_after_reboot", kept if in_order else 0)
    note("blackbox: %d events emitted, a reboot, %d paged back (%d with the boots'), numbered %d..%d%s" % (
        350, kept, len(got), seqs[0] if seqs else 0, seqs[-1] if seqs else 0, "" if in_order else ", OUT OF ORDER"))

    worst, fewest = bbrig.long_day(Rig(home=False), 2000, B.TEXT_MAX)
    typical, _ = bbrig.long_day(Rig(home=False), 2000, 40)
    out("blackbox_flash_bytes_max", worst)
    out("blackbox_flash_bytes_typical", typical)
    out("blackbox_events_kept_min", fewest)
    note("blackbox: 2000 events of %d characters: at most %d bytes of flash, at least %d events kept; "
         "of 40 characters: at most %d bytes" % (B.TEXT_MAX, worst, fewest, typical))

    rig = Rig()
    moving, total = bbrig.traverse_with_events(rig)
    bb = rig.robot.blackbox
    out("blackbox_writes_while_moving", moving)
    note("blackbox: two jobs with long traverses and 14 events mid-traverse: %d flash write steps, %d while "
         "an axis moved; %d flushes, %d events dropped" % (total, moving, bb.flushes, bb.dropped))

    cases, bad = 0, []
    for fat in (False, True):
        for before in (20, B.PER_FILE):
            n, b = bbrig.cut_campaign(fat, before)
            cases += n
            bad += b
    out("blackbox_powercut_cases", cases)
    out("blackbox_powercut_failed", len(bad))
    for line in bad[:5]:
        note("blackbox power cut: " + line)


def phase_heap():
    """Generator: the heap a BlackBox holds, built over full files (as after a long day and a reboot)."""
    import gc
    from simboard.rig import Rig
    from simboard.board import RECORD
    from simboard import bbrig
    from railbot.store import Store
    from railbot.blackbox import BlackBox

    rig = Rig(home=False)
    bbrig.fill(rig, 400, "test")  # every file written, one begun again
    store = Store(rig.board.flash, RECORD)
    yield GC
    h0 = gc.mem_alloc()
    bb = BlackBox(rig.robot, store)  # a second box on the same files: it reads them all at boot
    yield GC
    h1 = gc.mem_alloc()
    out("upy_blackbox_heap_bytes", h1 - h0)
    note("blackbox: %d bytes of heap held (buffer %d bytes), %d events found on flash" % (
        h1 - h0, len(bb.buf), bb.seq))


def steps(argv):
    """The script as a generator of top-level steps (bench.mjs); sets RC."""
    global RC
    args = parse_args(argv, {}, ("sim", "heap"))
    if args is None:
        print(USAGE)
        RC = 2
        return
    import simboard

    simboard.install()
    for p in args[1]:
        yield GC
        if p == "sim":
            phase_sim()
        elif sys.implementation.name == "micropython":
            yield from phase_heap()
        else:
            note("blackbox heap: measured under MicroPython only (gc.mem_alloc)")
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython: the steps in one go
    run(steps(sys.argv[1:]))
    sys.exit(RC)
