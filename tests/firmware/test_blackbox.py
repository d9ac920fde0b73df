"""The black box (firmware/railbot/blackbox.py): the robot's events kept on flash across reboots,
written only at standstill, bounded in size, readable after a power cut at any step of a write,
and a flash error that never stops the robot; the `log` request's pages and its strict grammar."""
from simboard.rig import Rig
from simboard import bbrig
from simboard.flash import Flash, EIO
from railbot import blackbox as B
from railbot import link as L

# the most flash the black box may take: every file full to PER_FILE - 1 lines of the longest text,
# then one whole buffer appended (a flush never splits): the bound in bench/bounds.py too
FLASH_BOUND = B.FILES * ((B.PER_FILE - 1) * (B.TEXT_MAX + 32) + B.PENDING)


def test_more_than_300_events_survive_a_reboot_and_page_back_in_order():
    rig = Rig(home=False)
    bbrig.fill(rig, 350, "test")
    robot = rig.reboot()
    got, replies = bbrig.page_all(robot.blackbox)
    texts = [t for _, t in got]
    tests = [t for t in texts if t.startswith("test ")]
    assert len(tests) >= 300, len(tests)
    assert tests == ["test i=%d" % i for i in range(350 - len(tests), 350)]  # the newest, in order
    seqs = [s for s, _ in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # numbered without a gap
    assert texts[-1] == "boot" and texts.count("boot") >= 1  # this boot, after the last one's events
    assert replies[0].startswith("ok 16 events %d..%d of " % (seqs[-1] - 15, seqs[-1])), replies[0]
    assert replies[0].endswith(" dropped=0 flash_errors=0"), replies[0]


def test_nothing_is_written_to_flash_while_an_axis_moves():
    rig = Rig()
    moving, total = bbrig.traverse_with_events(rig, burst=10)
    assert moving == 0, (moving, total)
    bb = rig.robot.blackbox
    assert bb.flushes > 0 and bb.n == 0 and total > 0 and bb.dropped == 0
    got, _ = bbrig.page_all(bb)
    texts = [t for _, t in got]
    burst = [t for t in texts if t.startswith("burst ")]
    assert len(burst) == 10 and "delivered bay=2 unit=1" in texts and "delivered bay=40 unit=3" in texts, texts[-20:]


def test_a_full_buffer_mid_move_drops_the_oldest_waiting_events_and_counts_them():
    rig = Rig()
    robot = rig.robot
    assert rig.cmd("jog 30000").startswith("ok")
    rig.until(lambda: robot.x.busy(), 10, 10)
    for i in range(60):  # about 2.5 KB of events, the buffer holds 1 KB
        robot.emit("flood", (("i", i), ("note", "more than the buffer holds")))
    bb = robot.blackbox
    assert bb.dropped > 0 and bb.n <= B.PENDING and bb.flushes == 1  # the flush at the end of homing
    rig.until(lambda: robot.state == "IDLE" and not robot.moving, 120)
    bbrig.rest(rig, 2)
    got, replies = bbrig.page_all(bb)
    flood = [t for _, t in got if t.startswith("flood ")]
    assert flood == ["flood i=%d note=more than the buffer holds" % i for i in range(60 - len(flood), 60)]
    assert 0 < 60 - len(flood) <= bb.dropped and " dropped=%d " % bb.dropped in replies[0]
    seqs = [s for s, _ in got]
    assert seqs[-1] - seqs[0] + 1 == len(seqs) + bb.dropped  # the gap in the numbers says where


def test_flash_use_stays_bounded_over_a_long_day():
    rig = Rig(home=False)
    worst, fewest = bbrig.long_day(rig, 1500, B.TEXT_MAX)
    assert worst <= FLASH_BOUND, (worst, FLASH_BOUND)
    assert fewest >= 300, fewest
    assert len([p for p in rig.board.flash.files if "bbox" in p]) == B.FILES
    worst_short, fewest_short = bbrig.long_day(Rig(home=False), 1500, 40)
    assert worst_short < worst and fewest_short >= 300


def test_a_power_cut_at_every_flash_step_of_a_flush_leaves_a_readable_log():
    cases = 0
    for fat in (False, True):
        for before in (20, B.PER_FILE):  # an append, and a flush that begins the next file
            n, bad = bbrig.cut_campaign(fat, before)
            assert n >= 1 and not bad, (fat, before, bad)
            cases += n
    assert cases >= 7, cases


def test_a_torn_line_is_dropped_and_the_lines_after_it_are_kept():
    rig = Rig(home=False)
    bbrig.fill(rig, 5, "a")
    flash = rig.board.flash
    name = [p for p in flash.files if "bbox" in p][0]
    flash.files[name] = flash.files[name] + b"17 0badc0de 123 half a li"  # a write cut in its middle
    robot = rig.reboot()
    bbrig.fill(rig, 3, "b")
    robot = rig.reboot()
    texts = [t for _, t in bbrig.page_all(robot.blackbox)[0]]
    assert [t for t in texts if t[:2] in ("a ", "b ")] == ["a i=0", "a i=1", "a i=2", "a i=3", "a i=4",
                                                          "b i=0", "b i=1", "b i=2"], texts
    assert not [t for t in texts if "half" in t] and texts.count("boot") == 3, texts


def _failing_bbox(flash, errno, bb=None, name="bbox"):
    """The black box's files (those whose path holds `name`) fail with errno while flash.failing
    (from the next boot on, or at once for the black box bb: its handle on the file system)."""
    real = flash.open

    def open_(path, mode="r"):
        if name in path and flash.failing:
            raise OSError(errno, "injected")
        return real(path, mode)

    flash.failing = True
    flash.open = open_
    if bb is not None:
        bb.open = open_


def test_a_flash_error_in_the_black_box_does_not_stop_a_mission():
    rig = Rig()
    flash = rig.board.flash
    robot = rig.robot
    _failing_bbox(flash, EIO, robot.blackbox)
    assert rig.cmd("charge 5").startswith("ok")
    rig.until(lambda: not robot.jobs and robot.state == "IDLE", 900)
    rig.run(1)  # at rest: the flush is tried (and fails)
    bb = robot.blackbox
    assert not robot.alarm and robot.crashes == 0 and rig.unit_port_name(robot.ledger.unit_at(
        robot.site.bay_port(5))) == "B5"
    assert bb.errors >= 1 and bb.errno == EIO and bb.n > 0
    assert [f for k, f in rig.events if k == "blackbox_error"] == [(("errno", EIO), ("errors", 1))]
    flash.failing = False  # the flash is back: the waiting events reach it at the next try
    rig.run(B.RETRY_MS // 1000 + 2)
    assert bb.n == 0
    texts = [t for _, t in bbrig.page_all(bb)[0]]
    assert "delivered bay=5 unit=%d" % robot.ledger.unit_at(robot.site.bay_port(5)) in texts
    assert "flash_errors=%d" % bb.errors in bb.request([], lambda t: None)


def test_a_flash_that_fails_at_boot_is_counted_and_the_robot_runs():
    rig = Rig(home=False)
    bbrig.fill(rig, 60, "x")  # bbox0.log full, bbox1.log begun
    last = rig.robot.blackbox.seq
    _failing_bbox(rig.board.flash, EIO, name="bbox0")
    robot = rig.reboot()
    bb = robot.blackbox
    assert bb.errors == 1 and not robot.alarm
    assert [f for k, f in rig.events if k == "blackbox_error"] == [(("errno", EIO), ("errors", 1))]
    sent = []
    bb.request([], sent.append)  # the error said after the files were read: numbered after the last
    assert [t.split(" ", 2)[0::2] for t in sent[-2:]] == [["%d" % (last + 1), "blackbox_error errno=5 errors=1"],
                                                         ["%d" % (last + 2), "boot"]], sent
    assert robot.command("home").startswith("ok")
    rig.until(lambda: robot.homed, 120)


def test_log_pages_and_its_grammar_errors_change_nothing():
    rig = Rig(home=False)
    bbrig.fill(rig, 40, "p")
    bb = rig.robot.blackbox
    sent = []
    reply = bb.request(["5", "3"], sent.append)
    assert [s.split(" ")[0] for s in sent] == ["5", "6", "7"] and reply.startswith("ok 3 events 5..7 of 1..41 ")
    sent = []
    assert bb.request(["1000"], sent.append).startswith("ok 0 events none of 1..41 ") and not sent
    seq, n, flushes = bb.seq, bb.n, bb.flushes
    for args, why in ((["x"], "error: log FROM must be an event number 1..999999999, got 'x'"),
                      (["0"], "error: log FROM must be an event number"),
                      (["-1"], "error: log FROM must be an event number"),
                      (["1", "0"], "error: log COUNT must be 1..16, got '0'"),
                      (["1", "17"], "error: log COUNT must be 1..16, got '17'"),
                      (["1", "+2"], "error: log COUNT must be 1..16, got '+2'"),
                      (["\u0661"], "error: log FROM must be an event number 1..999999999, got '\\u0661'"),
                      (["1", "2", "3"], "error: log takes at most 2 arguments (log [FROM [COUNT]]), got 3")):
        sent = []
        r = bb.request(args, sent.append)
        assert r.startswith(why) and not sent, (args, r)
    assert (bb.seq, bb.n, bb.flushes) == (seq, n, flushes)


def test_log_over_the_link_pages_within_the_tx_budget():
    rig = Rig(home=False)
    robot = rig.robot
    bbrig.fill(rig, 30, "long", batch=4, width=B.TEXT_MAX)
    got = []
    parser = L.Parser(lambda t, s, rid, p: got.append((t, rid, bytes(p).decode())), lambda b: None)
    wire = []
    link = L.Link(robot, lambda data: wire.append(len(data)) or parser.feed(data))
    buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
    for rid, line in ((1, "log"), (2, "log 3 16"), (3, "LOG 3 2"), (4, "log 3 x"), (5, "logx")):
        del wire[:]
        link.feed(bytes(buf[:L.encode(buf, L.T_REQUEST, rid, rid, line)]))
        assert sum(wire) <= B.PAGE_BYTES + 2 * (L.HEADER + 80 + 4), (line, sum(wire))
    replies = dict((rid, p) for t, rid, p in got if t == L.T_REPLY)
    logged = [p for t, rid, p in got if t == L.T_EVENT and p.startswith("log ")]
    assert replies[1].startswith("ok 5 events 27..31 of 1..31 "), replies[1]  # 5 long ones fit the budget
    assert replies[2].startswith("ok 5 events 3..7 of ") and replies[3].startswith("ok 2 events 3..4 of ")
    assert replies[4] == "error: log COUNT must be 1..16, got 'x'" and replies[5].startswith("error: unknown command")
    assert len(logged) == 12 and logged[5].startswith("log 3 ") and len(logged[0]) > B.TEXT_MAX


def test_a_log_page_of_long_events_fits_the_tx_queue_of_a_port_that_takes_nothing_yet():
    rig = Rig(home=False)
    robot = rig.robot
    bbrig.fill(rig, 30, "long", batch=4, width=B.TEXT_MAX)
    link = L.Link(robot, port=object())  # encoded into its TxQueue; the port is never drained here
    link.session = True
    link._frame(L.T_REQUEST, 1, b"log")
    while link.outq or link.enc is not None:
        assert link._encode_step(), "the page waits for room it will never get"
    q = link.txq
    assert q.dropped == 0 and q.dropped_replies == 0 and q.fn == 6 and q.used <= L.TXQ_BYTES
