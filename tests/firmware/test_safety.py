"""PRODUCT.md's rules 1 to 4, each by injecting the situation in the plant and checking what physically happened."""
from simboard.rig import Rig
from railbot import alarms
from railbot.ledger import IN_USE


def _job_started(rig):
    return "job" in rig.kinds()


def test_rule1_car_plugs_in_while_the_robot_approaches_its_unit():
    # unit 1 is free at bay 20 (nearest to bay 30); its car plugs in while the robot is on the way
    rig = Rig(units=[(1, "B20"), (2, "D27L")])
    rig.cmd("charge 30")
    rig.until(lambda: _job_started(rig), 10)
    assert ("job", (("bay", 30), ("unit", 1), ("from", "B20"))) in rig.events
    u1 = rig.plant.units[1]
    u1.gun_out = True
    u1.cp = "B"
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert u1.moves == 0 and u1.latched and rig.unit_port_name(1) == "B20"  # never unlatched, never moved
    assert rig.unit_port_name(2) == "B30"  # the request was served with the other unit
    assert rig.robot.ledger.state[1] == IN_USE
    assert "unit_in_use" in rig.kinds()
    assert not rig.plant.violations


def test_rule1_vehicle_on_the_pilot_with_gun_holstered_still_blocks():
    rig = Rig(units=[(1, "B20"), (2, "D27L")])
    rig.plant.units[1].cp = "C"  # a charging vehicle on the pilot line: the cable goes into a car
    rig.cmd("charge 30")
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert rig.plant.units[1].moves == 0 and rig.unit_port_name(2) == "B30"
    assert not rig.plant.violations


def test_rule1_release_arrives_while_the_gun_is_out_of_its_holster():
    rig = Rig(units=[(1, "B5"), (2, "D27L")])
    rig.cmd("charge 5")
    rig.until(lambda: "delivered" in rig.kinds(), 10)
    u1 = rig.plant.units[1]
    u1.gun_out = True  # the owner has not put the gun back
    assert rig.cmd("release 5").startswith("ok")
    rig.cmd("charge 7")  # unit 1 is the nearest free unit in the ledger
    rig.until(lambda: ("delivered", (("bay", 7), ("unit", 2))) in rig.events, 600)
    assert u1.moves == 0 and u1.latched and rig.unit_port_name(1) == "B5"
    assert not rig.plant.violations


def test_rule2_lift_not_stowed_means_no_traverse():
    rig = Rig(units=[(1, "D27L")])
    rig.plant.stick("z_stow_sw", 0)  # the lift is not (seen) stowed
    x0 = rig.plant.x.um()
    rig.cmd("charge 20")
    rig.until(lambda: rig.robot.alarm, 30)
    assert rig.robot.alarm == alarms.LIFT_NOT_STOWED
    rig.run(10)
    assert rig.plant.x.um() == x0
    assert not rig.plant.violations


def test_rule2_lift_never_moves_while_traversing():
    rig = Rig()
    for bay in (44, 1, 23):
        rig.cmd("charge %d" % bay)
    rig.until(lambda: rig.kinds().count("delivered") == 3, 900)
    assert not rig.plant.violations  # the plant records any lift motion during a traverse


def test_rule3_target_port_already_occupied():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.place_unit(9, "B12")  # a unit the ledger does not know hangs at the target port
    rig.cmd("charge 12")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.PORT_OCCUPIED
    rig.run(10)
    assert rig.plant.held == 1 and rig.plant.jaw >= 980  # the gripper never opened
    u1 = rig.plant.units[1]
    assert u1.port is None and not u1.dropped  # still carried
    assert rig.plant.units[9].port == rig.port("B12")
    assert rig.plant.stowed()
    assert not rig.plant.violations


def test_rule3_gripper_stays_closed_when_the_latch_does_not_catch():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.broken_latches[rig.port("B12")] = True
    rig.cmd("charge 12")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.LATCH_FAILED
    rig.run(10)
    u1 = rig.plant.units[1]
    assert rig.plant.held == 1 and not u1.dropped and not u1.latched
    assert rig.plant.stowed()  # brought back down, still gripped
    assert not rig.plant.violations


def _traversing(rig):
    return rig.robot.x.busy() and rig.plant.x.um() > 20000 * 1000


def test_rule4_estop_stops_motion_and_reset_does_not_restart_it():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy() and rig.plant.x.um() < 50000 * 1000, 300, 10)
    rig.plant.press_estop()
    rig.until(lambda: rig.robot.alarm, 1)
    assert rig.robot.alarm == alarms.ESTOP
    rig.run(3)  # from up to 1 m/s at 0.5 m/s^2: 2 s to standstill
    x_stop = rig.plant.x.um()
    assert rig.cmd("reset").startswith("error")  # the chain is still open
    rig.plant.press_estop(False)
    assert rig.cmd("reset").startswith("ok")
    rig.run(60)
    assert rig.plant.x.um() == x_stop  # reset never restarts motion by itself
    assert not rig.robot.homed  # position must be re-established
    assert rig.cmd("resume").startswith("error")
    assert rig.cmd("home").startswith("ok")
    rig.until(lambda: "delivered" in rig.kinds(), 900)  # the unfinished job completes after homing
    assert rig.unit_port_name(1) == "B2"
    assert not rig.plant.violations


def test_rule4_driver_fault_is_a_controlled_stop_then_power_off():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: _traversing(rig) and rig.robot.x.v >= rig.robot.x.v_max, 300, 10)
    rig.plant.x.fault = True
    rig.until(lambda: rig.robot.alarm, 1)
    assert rig.robot.alarm == alarms.DRIVER_FAULT
    rig.run(5)
    assert rig.plant.x.enable_pin == 1 and rig.plant.z.enable_pin == 1
    assert not rig.robot.homed


def test_rule4_hard_limit_raises_an_alarm():
    rig = Rig(units=[(1, "D27L")])
    rig.plant.stick("limit_max", 1)
    rig.run(1)
    assert rig.robot.alarm == alarms.HARD_LIMIT
    assert rig.cmd("charge 3").startswith("ok")
    rig.run(30)
    assert rig.plant.units[1].moves == 0  # nothing moves while the alarm is latched


def _word_log(rig):
    """(start us, period cycles) of every step word the carriage's driver begins, from now on."""
    log = []
    rig.plant.x.on_word = lambda t_us, period, n: log.append((t_us, period))
    return log


def _at_full_speed(rig):
    rig.cmd("charge 2")
    rig.until(lambda: _traversing(rig) and rig.robot.x.v >= rig.robot.x.v_max, 300, 10)
    rig.run(1)  # the queued words are all cruise now


def test_rule4_estop_at_full_speed_ramps_down_at_once_and_stands_still_before_the_relay():
    """Stop category 1 on the chain's interrupt: the queued 80 ms of cruise words are dropped and
    the ramp down starts from the speed of now, within a ms (the simulated board runs a scheduled
    handler at the next ms; the chip's figure is si_estop_to_decel_us), and reaches standstill in
    v/a, before the safety relay cuts driver power (plant.relay_ms after the chain opened)."""
    rig = Rig(units=[(1, "D27L")])
    _at_full_speed(rig)
    log = _word_log(rig)
    x0 = rig.plant.x.um()
    t_press_us = rig.now_ms() * 1000
    cruise = rig.plant.x.w_period
    rig.plant.press_estop()
    rig.until(lambda: not rig.robot.x.busy(), 5, 10)
    h = rig.plant.x.h
    cyc = rig.plant.x.cyc
    slower = [t + (p - h) // cyc for t, p in log if p > cruise]  # the first edge of each slower word
    assert slower and slower[0] - t_press_us <= 1000, (slower[:1], t_press_us)
    travelled_mm = (rig.plant.x.um() - x0) // 1000
    # 1 m/s at 0.5 m/s^2 stops in 1000 mm (with the queue ahead it took 1080: the lead at full speed)
    assert 995 <= travelled_mm <= 1010, travelled_mm
    p = rig.plant
    assert p.last_x_step_ms - t_press_us // 1000 <= 2050  # v/a = 2 s
    rig.run(2)
    assert p.relay_cut_ms is not None and p.last_x_step_ms < p.relay_cut_ms
    assert rig.robot.alarm == alarms.ESTOP and not rig.robot.homed
    assert not p.violations


def test_rule4_hard_limit_stops_the_step_output_at_once():
    """Stop category 0: a limit switch (here one that trips mid-rail: a faulty switch or a broken
    wire) stops both step programs and switches the drivers off in its interrupt handler; the
    carriage makes no step after the ms the switch tripped."""
    rig = Rig(units=[(1, "D27L")])
    _at_full_speed(rig)
    x0 = rig.plant.x.um()
    rig.plant.stick("limit_min", 1)
    assert rig.plant.x.enable_pin == 1 and rig.plant.z.enable_pin == 1  # drivers off in the handler
    assert rig.plant.x.um() == x0
    rig.run(2)
    assert rig.plant.x.um() == x0
    assert rig.robot.alarm == alarms.HARD_LIMIT and not rig.robot.homed
    assert not rig.robot.x.busy()  # the queue was dropped: reset is possible once the switch is clear
    assert rig.cmd("reset").startswith("error")
    rig.plant.unstick("limit_min")
    assert rig.cmd("reset").startswith("ok")
    rig.run(5)
    assert rig.plant.x.um() == x0


def test_the_safety_interrupt_handlers_allocate_nothing():
    """MicroPython's rule for a hard interrupt handler: no heap. Each handler runs under heap_lock
    (a MemoryError under MicroPython if it allocated; the MicroPython tier runs this test), and what
    it scheduled then does its work."""
    import micropython
    rig = Rig(units=[(1, "D27L")])
    _at_full_speed(rig)
    hw = rig.robot.hw
    on_estop, on_limit, pin = hw._on_estop, hw._on_limit, hw.estop_in  # bound outside the lock
    micropython.heap_lock()
    try:
        on_estop(pin)
        on_limit(pin)
    finally:
        micropython.heap_unlock()
    assert hw.safety[0] == 3 and hw.safety[1] == 1  # both latched, the second half asked for once
    assert rig.plant.x.enable_pin == 1  # the limit's handler switched the drivers off
    rig.run(1)
    assert hw.safety[1] == 0 and rig.robot.alarm == alarms.ESTOP
    assert not rig.robot.x.busy()


def test_an_estop_whose_handler_runs_in_the_middle_of_a_feed_still_ramps_down_at_once():
    """Found on the emulated chip: the scheduled half runs between any two bytecodes, here between
    a feed's planning of its words and their hand-over; its alarm's stop() must not end the feed's
    guard, or the feed hands over the cruise words it planned after the cut's first word (the cut
    must wait for the feed's end)."""
    rig = Rig(units=[(1, "D27L")])
    _at_full_speed(rig)
    hw = rig.robot.hw
    out = hw.x_step
    real_put = out.put_words
    fired = []

    def put_words(words, k):
        if not fired:
            fired.append(rig.plant.x.um())
            hw._on_estop(hw.estop_in)  # the chain opens here ...
            rig.board.clock.run_soft()  # ... and its scheduled half runs at this bytecode boundary
            rig.plant.press_estop()  # (the plant's chain and relay: the handler already ran)
        real_put(words, k)

    out.put_words = put_words
    log = _word_log(rig)
    rig.until(lambda: fired and rig.robot.alarm, 1, 10)
    cruise = max(p for _, p in log[:3])
    rig.until(lambda: not rig.robot.x.busy(), 5, 10)
    travelled_mm = (rig.plant.x.um() - fired[0]) // 1000
    periods = [p for _, p in log]
    assert 995 <= travelled_mm <= 1010, travelled_mm
    assert all(b >= a for a, b in zip(periods[3:], periods[4:])), periods[:20]  # slower all the way
    assert periods[-1] > cruise
    assert rig.robot.alarm == alarms.ESTOP and not rig.plant.violations


def test_a_bouncing_estop_contact_is_one_estop():
    """Found on the emulated chip, where the chain's interrupt came again and again: every further
    edge re-cut the queue and re-planned the ramp from a word's start, and the carriage ran on at
    about full speed. A contact bounces the same way: the first edge latches, the rest change nothing."""
    rig = Rig(units=[(1, "D27L")])
    _at_full_speed(rig)
    log = _word_log(rig)
    x0 = rig.plant.x.um()
    cruise = rig.plant.x.w_period
    under0 = rig.plant.x.underruns
    for _ in range(30):  # 30 ms of bouncing, an edge each way every ms
        rig.plant.press_estop()
        rig.board.loop.run_until(rig.now_ms() + 1)
        rig.plant.press_estop(False)
        rig.board.loop.run_until(rig.now_ms() + 1)
    rig.plant.press_estop()
    rig.until(lambda: not rig.robot.x.busy(), 5, 10)
    travelled_mm = (rig.plant.x.um() - x0) // 1000
    assert 995 <= travelled_mm <= 1010, travelled_mm
    periods = [p for _, p in log if p > cruise]
    assert all(b >= a for a, b in zip(periods, periods[1:]))  # slower at every word
    assert rig.plant.x.underruns == under0
    assert rig.robot.alarm == alarms.ESTOP
