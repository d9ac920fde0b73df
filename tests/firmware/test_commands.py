"""The command interface: every bad input gets a clear error and changes nothing."""
from simboard.rig import Rig
from railbot import alarms


def _snapshot(rig):
    r = rig.robot
    return (list(r.jobs), r.ledger.describe(), r.alarm, r.homed, r.paused, r.state)


def test_bad_commands_are_rejected_and_change_nothing():
    rig = Rig(units=[(1, "D24L"), (2, "B9")])
    rig.cmd("charge 9")
    rig.until(lambda: "delivered" in rig.kinds(), 10)
    before = _snapshot(rig)
    cases = (
        ("", "empty"),
        ("   ", "empty"),
        ("fly 3", "unknown command"),
        ("charge", "takes 1 argument"),
        ("charge 3 4", "takes 1 argument"),
        ("charge x", "must be a number"),
        ("charge 0", "out of range"),
        ("charge 45", "out of range"),
        ("charge -1", "out of range"),
        ("charge 9", "already has unit"),
        ("release 3", "no unit serving"),
        ("release 99", "out of range"),
        ("cancel 3", "no request"),
        ("reset", "no alarm"),
        ("status now", "takes 0 arguments"),
        ("charge \x00\xff", "must be a number"),
    )
    for line, why in cases:
        reply = rig.cmd(line)
        assert reply.startswith("error: ") and why in reply, (line, reply)
        assert _snapshot(rig) == before, line
    rig.run(30)
    assert _snapshot(rig) == before


def test_duplicate_request_is_refused():
    rig = Rig(units=[(1, "D24L")])
    assert rig.cmd("charge 30").startswith("ok")
    assert rig.cmd("charge 30") == "error: bay 30 already has a request"
    assert rig.robot.jobs == [30]


def test_cancel_removes_a_waiting_request():
    rig = Rig(units=[(1, "D24L")])
    rig.cmd("charge 30")
    rig.cmd("charge 31")
    assert rig.cmd("cancel 31").startswith("ok")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    rig.run(60)
    assert rig.robot.jobs == []
    assert rig.unit_port_name(1) == "B30"


def test_status_alarms_ledger_help():
    rig = Rig(units=[(1, "D24L")])
    assert rig.cmd("status") == "ok <IDLE|x:5.00|z:0.00|alarm:0|homed:1|jobs:0|carry:0>"
    table = rig.cmd("alarms")
    for code in alarms.TABLE:
        assert "%d=%s" % (code, alarms.name(code)) in table
    assert rig.cmd("ledger") == "ok 1:D24L:free"
    for verb in ("charge", "release", "cancel", "home", "reset", "resume", "status"):
        assert verb in rig.cmd("help")
    assert rig.cmd("STATUS").startswith("ok <IDLE")


def test_home_refused_during_an_alarm_and_requests_wait_for_homing():
    rig = Rig(home=False)
    assert rig.cmd("charge 4").startswith("ok")
    rig.run(30)
    assert "job" not in rig.kinds()  # no motion before the position is established
    rig.plant.press_estop()
    rig.run(1)
    assert rig.cmd("home").startswith("error: alarm 1 ESTOP")


def test_alarm_table_codes_are_unique_and_named():
    names = [alarms.TABLE[c][0] for c in alarms.TABLE]
    assert len(set(names)) == len(names)
    for code in alarms.TABLE:
        assert getattr(alarms, alarms.name(code)) == code


def test_the_alarms_reply_is_the_alarm_table():
    assert alarms.REPLY == "ok " + ";".join("%d=%s" % (c, alarms.TABLE[c][0]) for c in sorted(alarms.TABLE))
    assert Rig(home=False).cmd("alarms") == alarms.REPLY
