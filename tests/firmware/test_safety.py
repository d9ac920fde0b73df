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
    rig.run(2)
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


def test_rule4_controlled_decel_from_full_speed():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: _traversing(rig) and rig.robot.x.v >= rig.robot.x.v_max, 300, 10)
    x0 = rig.plant.x.um()
    rig.plant.stick("limit_min", 1)  # a limit trips mid-rail
    rig.until(lambda: not rig.robot.x.busy(), 10, 10)
    travelled_mm = abs(rig.plant.x.um() - x0) // 1000
    # 1 m/s at 0.5 m/s^2 stops in 1000 mm; plus what was queued (~80 ms) and one tick
    assert 900 <= travelled_mm <= 1200, travelled_mm
