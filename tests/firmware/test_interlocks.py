"""Rules 1 to 3 (railbot/interlock.py): each tried through the command interface and in the middle of
a mission, with the situation injected in the plant and the physical outcome asserted."""
from simboard.rig import Rig
from railbot import alarms
from railbot.ledger import IN_USE


def _lift_at(rig, mm):
    rig.until(lambda: not rig.robot.z.busy() and rig.robot.z.pos == mm * rig.robot.z_spm and rig.robot.manual is None, 30, 10)


def _at_d24(rig):
    """Stand under dock port D24L (x 400 mm), where unit 1 hangs, by jogging from the pull-off."""
    x = rig.robot.enc_steps // rig.robot.x_spm
    assert rig.cmd("jog %d" % (400 - x)).startswith("ok")
    rig.until(lambda: "jogged" in rig.kinds(), 30, 10)


def test_rule2_by_command_no_traverse_with_the_lift_raised_and_no_lift_while_traversing():
    rig = Rig(units=[(1, "D27L")])
    assert rig.cmd("lift 60") == "ok lift 60"
    _lift_at(rig, 60)
    x0 = rig.plant.x.um()
    reply = rig.cmd("jog 500")
    assert reply == "error: refused, rule 2: the lift is not stowed", reply
    rig.run(2)
    assert rig.plant.x.um() == x0 and not rig.robot.alarm  # refused: nothing changed
    assert rig.cmd("lift 0") == "ok lift 0"
    _lift_at(rig, 0)
    assert rig.cmd("jog 20000").startswith("ok")
    rig.until(lambda: rig.robot.x.busy() and rig.plant.x.um() > 5000 * 1000, 30, 10)
    reply = rig.cmd("lift 100")
    assert reply == "error: refused, rule 2: the carriage is traversing", reply
    rig.until(lambda: "jogged" in rig.kinds(), 60)
    assert rig.plant.stowed() and not rig.plant.violations


def test_rule2_mid_mission_a_job_never_traverses_under_a_raised_lift():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("lift 40")
    _lift_at(rig, 40)
    x0 = rig.plant.x.um()
    rig.cmd("charge 20")  # the request is taken; the traverse it needs is not
    rig.until(lambda: rig.robot.alarm, 10, 10)
    assert rig.robot.alarm == alarms.LIFT_NOT_STOWED and "rule 2" in rig.robot.alarm_detail
    rig.run(5)
    assert rig.plant.x.um() == x0 and rig.robot.z.pos == 40 * rig.robot.z_spm and not rig.plant.violations


def test_rule2_mid_mission_the_stow_switch_opening_mid_traverse_stops_the_carriage():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy() and rig.plant.x.um() < 50000 * 1000, 300, 10)
    rig.plant.stick("z_stow_sw", 0)
    rig.until(lambda: rig.robot.alarm, 1, 10)
    assert rig.robot.alarm == alarms.LIFT_NOT_STOWED
    rig.run(3)
    assert not rig.plant.x.powered() and rig.plant.held == 1 and not rig.plant.violations


def test_rule3_by_command_never_open_the_jaws_on_a_carried_unit():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy() and rig.plant.x.um() < 50000 * 1000, 300, 10)
    assert rig.cmd("stop") == "ok stopping"
    rig.until(lambda: rig.robot.state == "STOP", 10, 10)
    reply = rig.cmd("grip open")
    assert reply == "error: refused, rule 3: the carried unit is not latched", reply
    rig.run(3)
    u1 = rig.plant.units[1]
    assert rig.plant.held == 1 and rig.plant.jaw >= 980 and not u1.dropped and not rig.plant.violations
    assert rig.cmd("resume") == "ok resumed"  # the job carries on with the unit it holds
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert rig.unit_port_name(1) == "B2" and not rig.plant.violations


def test_rule3_by_command_never_pull_a_latched_unit_down_and_never_rise_into_an_occupied_port():
    rig = Rig(units=[(1, "D24L"), (2, "D27L")])
    _at_d24(rig)
    assert rig.cmd("grip close") == "ok grip True"
    rig.until(lambda: rig.plant.jaw >= 980 and rig.robot.manual is None, 5, 10)
    reply = rig.cmd("lift 120")  # closed empty jaws into the handle of unit 1
    assert reply == "error: refused, rule 3: the port above is occupied", reply
    assert rig.cmd("grip open") == "ok grip False"
    rig.until(lambda: rig.plant.jaw == 0 and rig.robot.manual is None, 5, 10)
    assert rig.cmd("lift 120") == "ok lift 120"
    _lift_at(rig, 120)
    assert rig.cmd("grip close") == "ok grip True"
    rig.until(lambda: rig.plant.held == 1 and rig.robot.manual is None, 5, 10)
    reply = rig.cmd("lift 0")
    assert reply == "error: refused, rule 3: the gripped unit is still latched in its port", reply
    rig.run(2)
    assert rig.plant.units[1].latched and rig.robot.z.pos == 120 * rig.robot.z_spm and not rig.plant.violations
    assert rig.cmd("grip open").startswith("ok")  # latched: letting go is allowed
    rig.until(lambda: rig.plant.jaw == 0 and rig.robot.manual is None, 5, 10)
    assert rig.cmd("lift 0") == "ok lift 0"
    _lift_at(rig, 0)
    assert rig.plant.units[1].latched and rig.unit_port_name(1) == "D24L" and not rig.plant.violations


def test_rule3_mid_mission_a_unit_hung_at_the_target_while_the_robot_carries_one_there():
    rig = Rig(units=[(1, "D24L")])
    rig.cmd("charge 12")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy(), 300, 10)
    rig.plant.place_unit(9, "B12")  # someone hangs a unit there while the robot is on its way
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.PORT_OCCUPIED
    rig.run(5)
    assert rig.plant.held == 1 and not rig.plant.units[1].dropped and rig.plant.stowed()
    assert rig.plant.units[9].port == rig.port("B12") and not rig.plant.violations
    assert rig.cmd("reset").startswith("ok")
    reply = rig.cmd("lift 120")  # the technician tries by hand what the robot refused
    assert reply == "error: refused, rule 3: the port above is occupied", reply
    assert rig.cmd("grip open") == "error: refused, rule 3: the carried unit is not latched"


def test_rule1_by_command_a_car_left_with_the_gun_out_blocks_its_unit_and_says_so():
    rig = Rig(units=[(1, "B5"), (2, "D27L")])
    rig.cmd("charge 5")
    rig.until(lambda: "delivered" in rig.kinds(), 10)
    u1 = rig.plant.units[1]
    u1.gun_out = True  # plugged in, charged, then the car drove off without holstering the gun
    u1.cp = "A"
    assert rig.cmd("release 5").startswith("ok")
    rig.cmd("charge 7")  # unit 1 is the nearest free unit in the ledger
    rig.until(lambda: ("delivered", (("bay", 7), ("unit", 2))) in rig.events, 600)
    assert ("gun_left_out", (("unit", 1), ("port", "B5"))) in rig.events
    assert u1.moves == 0 and u1.latched and rig.unit_port_name(1) == "B5"
    assert rig.robot.ledger.state[1] == IN_USE and not rig.plant.violations


def test_rule1_mid_mission_a_pilot_that_turns_to_vehicle_at_the_last_moment():
    rig = Rig(units=[(1, "B20"), (2, "D27L")])
    rig.cmd("charge 30")
    u1 = rig.plant.units[1]
    # the lift has reached the unit, the jaws are about to close: the car plugs in now
    rig.until(lambda: rig.plant.z.um() - rig.plant.stow_um >= 119000 and rig.plant.head_port() == rig.port("B20"), 300, 1)
    u1.cp = "C"
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert u1.moves == 0 and u1.latched and rig.unit_port_name(1) == "B20"
    assert "gun_left_out" not in rig.kinds() and not rig.plant.violations
