"""Pick and place: every step verified by a sensor, retries and timeouts from board data, and a safe
state with a clear alarm when a step fails (nothing dropped, the lift down, the ledger true)."""
from simboard.rig import Rig, sim_config, DC_GRIPPER
from railbot import alarms, config
from railbot.ledger import UNKNOWN
from support import raises, write_tmp
import json


def _ledger_true(rig):
    """The robot's ledger names every unit's physical place."""
    for uid, u in rig.plant.units.items():
        p = rig.robot.ledger.port.get(uid)
        if p is None:
            continue
        assert p == (-1 if u.port is None else u.port), (uid, p, u.port)


def test_a_latch_that_misses_once_catches_on_the_second_try():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.latch_misses[rig.port("B12")] = 1
    rig.cmd("charge 12")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert rig.unit_port_name(1) == "B12" and rig.plant.units[1].latched
    assert rig.plant.latch_misses[rig.port("B12")] == 0 and not rig.robot.alarm
    _ledger_true(rig)
    assert not rig.plant.violations


def test_a_latch_that_never_catches_ends_stowed_with_the_unit_gripped():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.latch_misses[rig.port("B12")] = 5  # more than latch_tries (2)
    rig.cmd("charge 12")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.LATCH_FAILED and rig.robot.alarm_detail == "port B12, 2 tries"
    assert rig.plant.latch_misses[rig.port("B12")] == 3  # exactly two raises were tried
    rig.run(5)
    assert rig.plant.held == 1 and rig.plant.stowed() and not rig.plant.units[1].dropped
    _ledger_true(rig)
    assert not rig.plant.violations


def test_a_port_that_holds_on_once_lets_go_on_the_second_pulse():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.stuck_latches[rig.port("D24L")] = 1
    rig.cmd("charge 12")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert rig.unit_port_name(1) == "B12" and not rig.robot.alarm and not rig.plant.violations


def test_a_port_that_never_lets_go_leaves_the_unit_latched_and_the_lift_down():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.stuck_latches[rig.port("D24L")] = -1
    rig.cmd("charge 12")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.UNLATCH_FAILED and rig.robot.alarm_detail == "port D24L, 2 tries"
    rig.run(5)
    u1 = rig.plant.units[1]
    assert u1.latched and rig.unit_port_name(1) == "D24L" and rig.plant.held is None
    assert rig.plant.jaw == 0 and rig.plant.stowed()  # let go, lift stowed: the safe state
    assert rig.robot.ledger.port[1] == rig.port("D24L")
    assert not rig.plant.violations


def test_a_unit_missing_from_its_port_is_reported_and_the_job_goes_on_with_another():
    rig = Rig(units=[(1, "D24L"), (2, "D27L")])
    rig.plant.units[1].port = None  # taken away by someone: the ledger still says D24L
    rig.plant.units[1].latched = False
    rig.cmd("charge 3")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == alarms.UNIT_MISSING
    assert ("unit_missing", (("unit", 1), ("port", "D24L"))) in rig.events
    assert rig.robot.ledger.port[1] == UNKNOWN
    assert rig.cmd("ledger") == "ok 1:unknown:free,2:D27L:free"
    assert rig.plant.stowed() and not rig.plant.violations
    assert rig.cmd("reset").startswith("ok") and rig.cmd("resume") == "ok resumed"
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert rig.unit_port_name(2) == "B3" and not rig.plant.violations


def test_pick_place_data_is_checked():
    cfg = sim_config()
    cfg["pick_place"]["latch_tries"] = 0
    path = write_tmp("robot_pp.json", json.dumps(cfg))
    e = raises(config.ConfigError, config.load_robot, path)
    assert "pick_place.latch_tries" in str(e), str(e)
    del cfg["pick_place"]
    path = write_tmp("robot_pp2.json", json.dumps(cfg))
    e = raises(config.ConfigError, config.load_robot, path)
    assert "pick_place" in str(e), str(e)


def test_a_grip_that_misses_the_handle_once_grips_on_the_second_try():
    rig = Rig(units=[(1, "D24L")])
    rig.plant.slip_next_grip()
    rig.cmd("charge 12")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert ("grip_missed", (("try", 1),)) in rig.events
    assert rig.unit_port_name(1) == "B12" and not rig.robot.alarm and not rig.plant.violations


def test_a_grip_that_misses_every_time_ends_with_the_unit_latched_and_the_lift_down():
    rig = Rig(units=[(1, "D24L")])
    plant = rig.plant
    rig.cmd("charge 12")
    for _ in range(3000):  # every close misses until the alarm
        if not plant.slip_pending:
            plant.slip_next_grip()
        rig.board.loop.run_until(rig.now_ms() + 20)
        if rig.robot.alarm:
            break
    assert rig.robot.alarm == alarms.GRIP_FAILED and rig.robot.alarm_detail == "no unit in the jaws, 2 tries"
    rig.run(5)
    assert plant.units[1].latched and rig.unit_port_name(1) == "D24L" and plant.stowed()
    assert rig.robot.ledger.port[1] == rig.port("D24L") and not plant.violations


def test_jammed_jaws_at_a_pick_end_in_a_safe_state_with_the_jam_alarm():
    for gripper, code in ((None, alarms.GRIP_FAILED), (dict(DC_GRIPPER), alarms.GRIP_JAM)):
        _jammed_pick(gripper, code)


def _jammed_pick(gripper, code):
    rig = Rig(units=[(1, "D24L")], gripper=gripper)
    rig.plant.jam_jaws(600)
    rig.cmd("charge 12")
    rig.until(lambda: rig.robot.alarm, 300)
    assert rig.robot.alarm == code, (gripper, rig.robot.alarm, rig.robot.alarm_detail)
    rig.run(5)
    u1 = rig.plant.units[1]
    assert u1.latched and rig.unit_port_name(1) == "D24L" and rig.plant.held is None
    assert rig.plant.stowed() and not rig.plant.violations
    rig.plant.jam_jaws(None)  # the technician clears the jam
    assert rig.cmd("reset").startswith("ok") and rig.cmd("resume") == "ok resumed"
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert rig.unit_port_name(1) == "B12" and not rig.plant.violations
