"""The real port's CPU time in the fast tiers: the virtual clock in us, the cost table and its loader,
and what charging it shows (a late tick, a step ring that runs dry); docs/timing.md."""
from simboard import cpu, vclock, vtime
from simboard.rig import Rig, BOARD


def _raises(fn, *words):
    try:
        fn()
    except ValueError as e:
        msg = str(e)
        for w in words:
            assert w in msg, (w, msg)
        return
    raise AssertionError("no ValueError")


def _table(**changes):
    t = {"about": "test"}
    for name in cpu.NAMES:
        t[name] = {"us": 10, "measured": "here"}
    for k, v in changes.items():
        if v is None:
            del t[k]
        else:
            t[k] = v
    return t


def _costs(**us):
    c = cpu.load(BOARD + "/cpu_costs.json")
    for k, v in us.items():
        c[k] = v
    return c


def test_the_board_table_has_every_cost_and_where_it_was_measured():
    c = cpu.load(BOARD + "/cpu_costs.json")
    assert sorted(c) == sorted(cpu.NAMES)
    for name in cpu.NAMES:
        assert c[name] > 0, name
    assert cpu.check(_table(), "t.json")["link_frame_us"] == 10


def test_a_bad_table_names_the_file_the_key_and_the_reason():
    _raises(lambda: cpu.check(_table(tick_fast_us={"us": 1, "measured": "x"}), "t.json"), "t.json", "tick_fast_us", "unknown")
    _raises(lambda: cpu.check(_table(step_word_us={"us": -1, "measured": "x"}), "t.json"), "t.json", "step_word_us.us", "-1")
    _raises(lambda: cpu.check(_table(step_word_us={"us": 1.5, "measured": "x"}), "t.json"), "step_word_us.us", "integer")
    _raises(lambda: cpu.check(_table(step_word_us={"us": True, "measured": "x"}), "t.json"), "step_word_us.us")
    _raises(lambda: cpu.check(_table(step_word_us={"us": 2000000, "measured": "x"}), "t.json"), "step_word_us.us")
    _raises(lambda: cpu.check(_table(save_cpu_us={"us": 5}), "t.json"), "save_cpu_us.measured")
    _raises(lambda: cpu.check(_table(save_cpu_us={"us": 5, "measured": "x", "max": 9}), "t.json"), "save_cpu_us", "'max'")
    _raises(lambda: cpu.check(_table(save_cpu_us=5), "t.json"), "save_cpu_us", "object")
    _raises(lambda: cpu.check(_table(marker_line_us=None), "t.json"), "t.json", "missing", "marker_line_us")
    _raises(lambda: cpu.check([], "t.json"), "t.json", "object")
    _raises(lambda: cpu.load(BOARD + "/no_such_costs.json"), "no_such_costs.json", "cannot read")


def test_the_clock_counts_us_in_small_ints_and_its_listeners_see_whole_ms():
    saved = vclock.current()
    clock = vclock.Clock()
    seen = []
    clock.listen(lambda t0, t1: seen.append((t0, t1)))
    vclock.set_current(clock)
    try:
        clock.advance_us(999)
        assert (clock.now_ms, clock.now_us) == (0, 999) and seen == []
        clock.advance_us(2)
        assert (clock.now_ms, clock.now_us) == (1, 1) and seen == [(0, 1)]
        clock.advance_us(2500)
        assert (clock.now_ms, clock.now_us) == (3, 501) and seen[-1] == (1, 3)
        vtime.sleep_ms(2)  # a whole number of ms on, the us into the ms kept
        assert (clock.now_ms, clock.now_us) == (5, 501) and vtime.ticks_us() == 5501
        clock.advance_to(7)  # a task's wake-up: the start of its ms
        assert (clock.now_ms, clock.now_us) == (7, 0)
        day = 86400000  # a day later: still two small ints, ticks_us wrapping as the port's
        clock.advance_to(day)
        clock.advance_us(123)
        assert clock.now_us == 123 and vtime.ticks_us() == (day * 1000 + 123) % (1 << 30)
    finally:
        vclock.set_current(saved)


def test_a_tick_at_rest_costs_the_table_and_nothing_without_one():
    for costs, want in ((None, cpu.load(BOARD + "/cpu_costs.json")["tick_rest_us"]), (False, 0)):
        rig = Rig(home=False, cpu_costs=costs)
        clock = rig.board.clock
        t0 = clock.now_ms * 1000 + clock.now_us
        rig.robot.tick()
        assert clock.now_ms * 1000 + clock.now_us - t0 == want, (costs, want)


def test_a_save_costs_its_cpu_part_beside_the_flash_time():
    took = []
    for save_us in (0, 50000):
        rig = Rig(home=False, cpu_costs=_costs(save_cpu_us=save_us))
        t0 = rig.now_ms()
        assert rig.robot.save()
        took.append(rig.now_ms() - t0)
        assert rig.board.cpu.saves == 1
    assert took[1] - took[0] == 50, took


def _traverse(rig, to_mm=40000):
    robot = rig.robot
    robot.tick_late_max_ms = 0
    assert rig.cmd("jog %d" % to_mm).startswith("ok")
    rig.until(lambda: robot.x.busy(), 10, 10)
    rig.until(lambda: not robot.x.busy(), 200, 100)
    return robot.tick_late_max_ms, rig.plant.x.underruns


def test_with_the_real_costs_a_traverse_keeps_its_ring_and_its_ticks_on_time():
    rig = Rig()
    late, underruns = _traverse(rig)
    assert underruns == 0 and late <= 2, (late, underruns)
    assert rig.board.cpu.words > 1000 and not rig.robot.alarm
    free = Rig(cpu_costs=False)  # where the same jog ends with no CPU time charged
    assert _traverse(free) == (0, 0)
    assert abs(rig.plant.x.um() - free.plant.x.um()) <= 100, (rig.plant.x.um(), free.plant.x.um())


def test_a_slow_cpu_makes_the_tick_late_and_the_ring_run_dry():
    # a moving tick of 90 ms: longer than the ring's 80 ms lead (railbot.motion.LEAD_US); homed on the
    # board's own costs first (homing on this CPU stalls the carriage already, see below)
    rig = Rig()
    rig.board.cpu.tick_move = 90000
    late, underruns = _traverse(rig, 20000)
    assert late >= 80 and underruns >= 1, (late, underruns)
    # a ring run dry under way stops the step pulses at once: harder than the drive can stop the
    # carriage's mass (simboard.plant), so steps are lost and the plant says so
    assert rig.plant.x.stall_lost_steps > 0 and "steps lost" in rig.plant.violations[0], rig.plant.violations


def test_planning_words_costs_per_word():
    # each planned word at 5 ms: the ramps' ticks (up to 16 words) come late by tens of ms (homed on the
    # board's own costs: on this CPU the ring runs dry in the homing seek's ramp and the carriage stalls)
    rig = Rig()
    rig.board.cpu.word = 5000
    late, underruns = _traverse(rig, 20000)
    assert late >= 40, late
    assert rig.board.cpu.words > 100


def test_a_save_forced_mid_traverse_with_the_worst_erase_runs_the_ring_dry():
    # what Robot.save's deferral (test_tick_blocking) protects from: the store saving at cruise
    rig = Rig()
    robot, flash = rig.robot, rig.board.flash
    flash.erase_every_step, flash.erase_ms = True, 400
    assert rig.cmd("jog 40000").startswith("ok")
    rig.until(lambda: robot.x.busy() and robot.x.v >= robot.x.v_max, 120, 10)
    assert rig.plant.x.underruns == 0
    robot.store.save("j=\n")
    rig.until(lambda: not robot.x.busy(), 120, 10)
    assert rig.plant.x.underruns >= 1
