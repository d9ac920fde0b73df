"""Feed hold and resume from any point of a move, and jogging: controlled, and nothing lost."""
from simboard.rig import Rig, hold_from_full_speed


def _cruising(rig):
    return rig.robot.x.busy() and rig.robot.x.v >= rig.robot.x.v_max


def test_hold_mid_traverse_ramps_down_waits_and_resume_completes_the_job():
    rig = Rig(units=[(1, "D27L")])
    standstill_ms = hold_from_full_speed(rig)
    assert ("hold", ()) in rig.events and rig.plant.held == 1
    # 1 m/s at 0.5 m/s^2: 2000 ms, plus the queued lead (80 ms of words in the DMA ring) and a tick or two
    assert 2000 <= standstill_ms <= 2000 + 80 + 30, standstill_ms
    stopped = rig.plant.x.um()
    assert "HOLD" in rig.cmd("status")
    rig.run(120)
    assert rig.plant.x.um() == stopped and rig.plant.held == 1  # still, unit still gripped
    assert rig.cmd("charge 5").startswith("ok")  # requests are still taken while holding
    assert rig.cmd("resume") == "ok resumed"
    rig.until(lambda: ("delivered", (("bay", 2), ("unit", 1))) in rig.events, 300)
    assert rig.unit_port_name(1) == "B2" and rig.plant.units[1].latched
    assert not rig.plant.violations and not rig.robot.alarm


def test_hold_while_idle_keeps_new_jobs_from_starting():
    rig = Rig(units=[(1, "D24L")])
    rig.cmd("hold")
    rig.cmd("charge 10")
    rig.run(60)
    assert "job" not in rig.kinds() and rig.plant.units[1].moves == 0
    assert rig.cmd("hold") == "error: already holding"
    rig.cmd("resume")
    rig.until(lambda: "delivered" in rig.kinds(), 300)


def test_hold_during_a_lift_move_keeps_the_lift_where_it_is():
    rig = Rig(units=[(1, "D25L")])
    rig.cmd("charge 1")
    rig.until(lambda: rig.robot.z.busy() and rig.plant.z.um() > 30000, 120, 10)
    rig.cmd("hold")
    rig.until(lambda: "held" in rig.kinds(), 5, 10)
    z = rig.plant.z.um()
    rig.run(30)
    assert rig.plant.z.um() == z
    rig.cmd("resume")
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    assert not rig.plant.violations


def test_jog_moves_by_whole_millimetres_within_the_soft_limits():
    rig = Rig()
    x0 = rig.plant.x.um()
    assert rig.cmd("jog 250") == "ok jog to 255.00 mm"
    rig.until(lambda: "jogged" in rig.kinds(), 30)
    assert abs(rig.plant.x.um() - x0 - 250000) <= 100
    for line, why in (("jog x", "whole millimetres"), ("jog 0", "outside"), ("jog -300", "outside"),
                      ("jog 70000", "outside"), ("jog", "takes 1 argument")):
        reply = rig.cmd(line)
        assert reply.startswith("error") and why in reply, (line, reply)
    assert abs(rig.plant.x.um() - x0 - 250000) <= 100


def test_jog_refused_before_homing():
    rig = Rig(home=False)
    assert rig.cmd("jog 100").startswith("error: jog needs a homed robot")
