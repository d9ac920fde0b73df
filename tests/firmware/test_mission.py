"""A charge mission end to end on the simulated board: home, charge, release, the ledger."""
from simboard.rig import Rig
from railbot.ledger import SERVING, FREE


def test_home_establishes_position_at_pull_off():
    rig = Rig()
    assert rig.robot.homed
    assert "homed:1" in rig.cmd("status")
    true_mm100 = rig.plant.x.um() // 10
    assert 495 <= true_mm100 <= 515, true_mm100  # pull-off 5 mm, within 0.15 mm
    assert rig.plant.stowed()  # lift stowed
    assert not rig.plant.violations


def test_charge_delivers_a_unit_and_latches_it_at_the_bay_port():
    rig = Rig()
    assert rig.cmd("charge 12").startswith("ok")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    u = rig.plant.unit_at(rig.port("B12"))
    assert u is not None and u.latched and rig.plant.held is None
    assert rig.robot.ledger.port[u.id] == rig.port("B12")
    assert rig.robot.ledger.state[u.id] == SERVING
    rig.run(5)
    assert rig.plant.stowed() and rig.plant.jaw <= 20  # lift stowed, jaws open
    assert not rig.plant.violations


def test_release_frees_the_unit_for_the_next_request():
    rig = Rig(units=[(1, "D24L")])
    rig.cmd("charge 3")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert rig.cmd("charge 40").startswith("ok")
    rig.run(60)
    assert rig.unit_port_name(1) == "B3"  # no free unit: the request waits
    assert rig.cmd("release 3").startswith("ok")
    assert rig.robot.ledger.state[1] == FREE
    rig.until(lambda: rig.unit_port_name(1) == "B40" and rig.robot.state == "IDLE", 300)
    assert rig.plant.units[1].latched
    assert not rig.plant.violations


def test_requests_are_served_first_come_first_served():
    rig = Rig(units=[(1, "D24L")])
    for bay in (30, 2, 17):
        rig.cmd("charge %d" % bay)
    order = []
    for bay in (30, 2, 17):
        rig.until(lambda: ("delivered", (("bay", bay), ("unit", 1))) in rig.events, 600)
        order.append(bay)
        rig.cmd("release %d" % bay)
    assert order == [30, 2, 17]


def test_a_unit_already_at_the_bay_is_served_without_moving():
    rig = Rig(units=[(1, "B8"), (2, "D24L")])
    x0 = rig.plant.x.um()
    rig.cmd("charge 8")
    rig.until(lambda: "delivered" in rig.kinds(), 10)
    assert rig.plant.x.um() == x0 and rig.plant.units[1].moves == 0


def test_step_output_disabled_stalls_the_mission_and_raises_an_alarm():
    rig = Rig(units=[(1, "D27L")])
    rig.plant.x.output_ok = False  # step pulses never reach the driver
    x0 = rig.plant.x.um()
    rig.cmd("charge 20")
    rig.until(lambda: rig.robot.alarm, 60)
    # not one count while commanded to move: from the wheel alone a carriage that does not move
    # looks like a dead wheel, and that is the alarm raised first (below the following-error limit)
    assert rig.robot.alarm == 16  # ENCODER_FAULT
    rig.run(5)
    assert rig.plant.x.um() == x0  # the carriage never moved: position comes only from executed steps
    assert rig.plant.x.enable_pin == 1  # drivers powered off after the controlled stop
    assert rig.plant.x.words_executed > 0  # words were executed, the steps went nowhere
    assert "delivered" not in rig.kinds()


def test_a_unit_found_in_use_still_serves_its_own_bay():
    rig = Rig(units=[(1, "B20"), (2, "D27L")])
    u1 = rig.plant.units[1]
    u1.gun_out, u1.cp = True, "C"  # the car at bay 20 took the unit's gun without asking
    rig.cmd("charge 30")
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert rig.robot.ledger.state[1] == 2  # IN_USE: refused for bay 30
    x0 = rig.plant.x.um()
    rig.cmd("charge 20")
    rig.until(lambda: ("delivered", (("bay", 20), ("unit", 1))) in rig.events, 10)
    assert rig.plant.x.um() == x0 and u1.moves == 0
    assert rig.robot.ledger.state[1] == SERVING
