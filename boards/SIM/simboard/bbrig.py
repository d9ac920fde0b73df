"""The black box's scenarios on the simulated board (firmware/railbot/blackbox.py), shared by
tests/firmware/test_blackbox.py and the bench (host_tools/upy/bench_blackbox.py). MicroPython subset."""
from simboard import machine
from simboard.flash import Flash
from simboard.rig import Rig


def page_all(bb, count=16):
    """Every event the black box keeps, paged through its `log FROM COUNT` request from the oldest,
    as (seq, text after the ms) in order; with the replies."""
    got, replies = [], []
    reply = bb.request([], lambda t: None)
    replies.append(reply)
    start = bb.oldest()
    while start and start <= bb.seq:
        page = []
        reply = bb.request(["%d" % start, "%d" % count], page.append)
        replies.append(reply)
        if not page:
            break
        for line in page:
            w = line.split(" ", 2)
            got.append((int(w[0]), w[2] if len(w) > 2 else ""))
        start = got[-1][0] + 1
    return got, replies


def flash_bytes(flash):
    """Bytes of the black box's files on the simulated flash."""
    n = 0
    for p in flash.files:
        if "bbox" in p:
            n += len(flash.files[p])
    return n


def rest(rig, s=1):
    """Let the robot rest s simulated seconds (its supervise task flushes the black box)."""
    rig.run(s)


def fill(rig, n, text="test", batch=10, width=0, on_flush=None):
    """Emit n events through robot.emit, batch at a time, each batch followed by a second at rest;
    width pads each text to that many characters. on_flush(rig) after each rest."""
    i = 0
    while i < n:
        for _ in range(batch):
            if i >= n:
                break
            pad = width - len(text) - 8 if width > len(text) + 8 else 0
            rig.robot.emit(text, (("i", i),) + ((("pad", "x" * pad),) if pad else ()))
            i += 1
        rest(rig)
        if on_flush is not None:
            on_flush(rig)


def count_moving_writes(rig):
    """Count the flash's write steps made while an axis of the robot moves: a list [steps while
    moving, steps in all] that grows as the board runs (the robot looked up at each step: reboots)."""
    flash = rig.board.flash
    real = flash._step
    seen = [0, 0]

    def step(*args):
        r = rig.robot
        seen[1] += 1
        if r.x.busy() or r.z.busy() or r.carriage.moving:
            seen[0] += 1
        return real(*args)

    flash._step = step
    return seen


def traverse_with_events(rig, bay=2, burst=10):
    """A job with a long traverse; mid-traverse a burst of events (past the buffer's HIGH mark) and a
    `charge`; run until both jobs are done. Returns (flash steps while moving, in all)."""
    seen = count_moving_writes(rig)
    robot = rig.robot
    assert rig.cmd("charge %d" % bay).startswith("ok")
    rig.until(lambda: robot.x.busy() and rig.plant.held is not None, 600, 10)  # carrying it back
    for i in range(burst):
        robot.emit("burst", (("i", i), ("note", "mid-traverse")))
    from railbot.blackbox import HIGH
    assert robot.blackbox.n >= HIGH and robot.x.busy()  # past the mark, under way: the write must wait
    assert rig.cmd("charge 40").startswith("ok")
    rig.until(lambda: not robot.jobs and robot.state == "IDLE" and not robot.moving, 900)
    rest(rig, 2)
    return seen[0], seen[1]


def long_day(rig, events, width, batch=4):
    """events of `width` characters through the black box, a batch at a time with the robot at rest:
    (the most flash the black box used at any point, the fewest events it kept once its ring of
    files had come round: its oldest events gone)."""
    worst = [0, 1 << 20]
    bb = rig.robot.blackbox

    def look(rig):
        b = flash_bytes(rig.board.flash)
        if b > worst[0]:
            worst[0] = b
        kept = bb.seq - bb.oldest() + 1
        if bb.oldest() > 1 and kept < worst[1]:
            worst[1] = kept

    fill(rig, events, "day", batch, width, look)
    return worst[0], worst[1]


def cut_case(k, fat=False, before=20, after=5):
    """Power cut at the k-th flash step of a black-box flush: `before` events on flash, then `after`
    more, the power cut at the k-th write step of their flush; reboot, then 3 more events flushed and
    another reboot. Returns None when the flush had fewer than k steps, else a list of failures."""
    rig = Rig(home=False)
    if fat:
        rig.board.flash = Flash(rig.board, fat=True)
        rig.reboot()
    fill(rig, before, "pre", 10)
    bb = rig.robot.blackbox
    kept = [e for e in page_all(bb)[0]]
    flash = rig.board.flash
    for i in range(after):
        rig.robot.emit("cut", (("i", i),))
    flash.cut_after(k)
    try:
        rest(rig, 2)
        flash.cut_after(None)
        return None
    except machine.BoardReset:
        pass
    bad = []
    robot = rig.reboot()
    got = page_all(robot.blackbox)[0]
    seqs = [s for s, _ in got]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        bad.append("k=%d: numbers out of order %r" % (k, seqs))
    texts = [t for _, t in got]
    for e in kept:
        if e not in got:
            bad.append("k=%d: event %r lost" % (k, e))
    cut = [t for t in texts if t.startswith("cut ")]
    if cut != ["cut i=%d" % i for i in range(len(cut))]:
        bad.append("k=%d: the cut flush's events are not a prefix: %r" % (k, cut))
    if not fat and len(cut) not in (0, after):
        bad.append("k=%d: a littlefs commit half there: %r" % (k, cut))
    for i in range(3):
        robot.emit("again", (("i", i),))
    rest(rig, 2)
    robot = rig.reboot()
    got2 = page_all(robot.blackbox)[0]
    again = [t for _, t in got2 if t.startswith("again ")]
    if again != ["again i=0", "again i=1", "again i=2"]:
        bad.append("k=%d: events after the cut not read back: %r" % (k, [t for _, t in got2][-8:]))
    for e in got:
        if e not in got2:
            bad.append("k=%d: event %r lost at the next boot" % (k, e))
    return bad


def cut_campaign(fat=False, before=20):
    """cut_case at every step of one flush: (cases, failures)."""
    cases, bad = 0, []
    k = 1
    while True:
        b = cut_case(k, fat, before)
        if b is None:
            break
        cases += 1
        bad += b
        k += 1
    return cases, bad
