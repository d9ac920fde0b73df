"""Rule 5: the power goes at every write step of a mission; after the reboot the robot knows (or has
verified with its sensors) every unit's place before it moves one, and the job is finished."""
from simboard.rig import Rig, POWERCUT_UNITS, POWERCUT_BAY, powercut_campaign
from railbot import alarms


def test_every_write_step_of_a_mission_survives_a_power_cut():
    cases, failed, bad = powercut_campaign()
    assert cases >= 20, cases
    assert failed == 0, bad


def test_a_cut_while_gripping_a_latched_unit_lets_go_before_the_lift_comes_down():
    rig = Rig(units=POWERCUT_UNITS)
    rig.cmd("charge %d" % POWERCUT_BAY)
    # the jaws are closing on unit 1's handle at D24L (the journal says: leaving D24L)
    rig.until(lambda: rig.plant.jaw >= 900 and rig.plant.head_port() == rig.port("D24L"), 300, 1)
    assert rig.plant.units[1].latched
    robot = rig.reboot()  # the power goes now, with no write under way
    assert robot.ledger.port[1] == rig.port("D24L") and not robot.alarm
    assert robot.command("home").startswith("ok")
    rig.until(lambda: robot.homed, 900)
    assert rig.plant.units[1].latched and rig.unit_port_name(1) == "D24L" and not rig.plant.violations
    rig.until(lambda: not robot.jobs, 300)  # the request survived: it is served after homing
    assert rig.unit_port_name(1) == "B%d" % POWERCUT_BAY and not rig.plant.violations


def test_a_cut_while_carrying_keeps_the_unit_and_the_request():
    rig = Rig(units=POWERCUT_UNITS)
    rig.cmd("charge 9")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy() and rig.plant.x.um() > 3000000, 300, 10)
    robot = rig.reboot()
    assert robot.ledger.carried() == 1 and robot.jobs == [9] and not robot.alarm
    assert robot.command("home").startswith("ok")
    rig.until(lambda: not robot.jobs, 900)
    assert rig.unit_port_name(1) == "B9" and not rig.plant.violations


def test_an_unreadable_record_is_an_alarm_not_a_guess():
    rig = Rig(units=POWERCUT_UNITS)
    rig.cmd("charge %d" % POWERCUT_BAY)
    rig.until(lambda: rig.plant.held == 1 and not rig.plant.units[1].latched, 300, 10)
    flash = rig.board.flash
    for name in list(flash.files):
        data = bytearray(flash.files[name])
        data[-3] ^= 0x20  # a flipped bit: the checksum fails, the record is ignored
        flash.files[name] = bytes(data)
    robot = rig.reboot()
    assert robot.alarm == alarms.LEDGER_INVALID, robot.alarm
    assert robot.command("home").startswith("error")
    rig.run(30)
    assert rig.plant.held == 1 and not rig.plant.violations  # nothing moved


def test_a_unit_gone_from_the_gripper_across_a_reset_is_reported():
    rig = Rig(units=POWERCUT_UNITS)
    rig.cmd("charge 9")
    rig.until(lambda: rig.plant.held == 1 and rig.robot.x.busy() and rig.plant.x.um() > 3000000, 300, 10)
    u1 = rig.plant.units[1]
    robot = rig.reboot()
    rig.plant.held = None  # while the power was off, someone took the unit out of the jaws
    rig.plant.jaw = rig.plant.jaw_target = 0
    robot = rig.reboot()
    assert robot.alarm == alarms.UNIT_MISSING and ("unit_missing", (("unit", 1), ("port", "gripper"))) in rig.events
    assert robot.command("ledger").startswith("ok 1:unknown")
    assert u1.moves == 1
