"""Closed-loop rail position: marker re-reference, following error, encoder fault, stops to the
millimetre under injected slip / lost steps / noise / jitter, re-reference after a loss, `stop`,
soft limits, the lift's debounced homing."""
from simboard.rig import Rig, bay_stops, position_faults, run_task
from railbot import alarms


def _traversing(rig, beyond_mm):
    return rig.robot.x.busy() and rig.plant.x.um() > beyond_mm * 1000


def test_bay_stops_within_2_mm_under_slip_lost_steps_noise_and_jitter():
    rig = Rig()
    errors, approach = bay_stops(rig, 12)
    assert not rig.robot.alarm, (rig.robot.alarm, rig.robot.alarm_detail)
    assert len(errors) == 12 and max(abs(e) for e in errors) <= 2000, errors
    assert rig.plant.lost_steps > 0 and all(ms < 10000 for ms in approach)
    assert not rig.plant.violations


def test_five_percent_lost_steps_raise_following_error_and_nothing_moves_until_reref():
    rig = Rig(units=[(1, "D27L")])
    errors, _ = bay_stops(rig, 3, lost_steps_ppm=50000)
    assert rig.robot.alarm == alarms.FOLLOWING_ERROR
    rig.run(3)
    assert rig.plant.x.enable_pin == 1 and rig.plant.z.enable_pin == 1  # controlled stop, then power off
    assert not rig.robot.homed
    x = rig.plant.x.um()
    assert rig.cmd("reset").startswith("ok")
    assert rig.cmd("charge 3").startswith("ok") and rig.cmd("jog 100").startswith("error")
    assert rig.cmd("resume").startswith("error")  # position not established
    rig.run(20)
    assert rig.plant.x.um() == x and "job" not in rig.kinds()
    rig.plant.lost_steps_ppm = 0  # the drive is repaired
    assert rig.cmd("reref") == "ok reref"
    rig.until(lambda: rig.robot.homed, 120)
    assert abs(rig.plant.x.um() - x) < 3000 * 1000  # the nearest marker, not a 60 m homing run
    assert abs(rig.plant.x.um() - rig.robot.enc_steps * 50) <= 2000
    rig.until(lambda: "delivered" in rig.kinds(), 600)  # the queued job runs after the re-reference
    assert rig.unit_port_name(1) == "B3"


def test_dead_encoder_is_an_encoder_fault_then_reref_once_repaired():
    rig = Rig(units=[(1, "D27L")])
    rig.cmd("charge 2")
    rig.until(lambda: _traversing(rig, 30000), 300, 10)
    rig.plant.kill_encoder()
    rig.until(lambda: rig.robot.alarm, 2, 10)
    assert rig.robot.alarm == alarms.ENCODER_FAULT
    rig.until(lambda: not rig.robot.x.busy(), 5, 10)
    rig.run(2)
    assert rig.plant.x.enable_pin == 1 and not rig.robot.homed and not rig.plant.x.crashed
    assert rig.cmd("reset").startswith("ok")
    assert rig.cmd("jog 10").startswith("error")
    rig.plant.kill_encoder(False)
    assert rig.cmd("reref").startswith("ok")
    rig.until(lambda: rig.robot.homed, 120)
    assert ("rereferenced" in rig.kinds()) and "homing" not in rig.kinds()[2:]
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert rig.unit_port_name(1) == "B2" and not rig.plant.violations


def test_reref_bad_input():
    rig = Rig(home=False)
    assert rig.cmd("reref").startswith("error: not homed since boot")
    assert rig.cmd("reref 3").startswith("error: reref takes 0 arguments")
    rig = Rig()
    rig.plant.press_estop()
    rig.run(1)
    assert rig.cmd("reref").startswith("error: alarm 1 ESTOP")
    assert "reref" in rig.cmd("help") and "stop" in rig.cmd("help")


def test_stop_ends_the_traverse_keeps_the_job_and_resume_finishes_it():
    rig = Rig(units=[(1, "D27L")])
    assert rig.cmd("stop") == "error: nothing to stop"
    assert rig.cmd("stop now").startswith("error: stop takes 0 arguments")
    rig.cmd("charge 2")
    rig.until(lambda: _traversing(rig, 30000) and rig.plant.held == 1, 300, 10)
    assert rig.cmd("stop") == "ok stopping"
    assert rig.cmd("stop") == "error: already stopping"
    x0 = rig.plant.x.um()
    rig.until(lambda: "stopped" in rig.kinds(), 5, 10)
    assert abs(rig.plant.x.um() - x0) <= 1200 * 1000  # ramped down (1 m/s at 0.5 m/s^2: 1 m)
    x1 = rig.plant.x.um()
    rig.run(30)
    assert rig.plant.x.um() == x1 and rig.plant.held == 1  # stands still, the unit still gripped
    assert rig.robot.jobs == [2] and "STOP" in rig.cmd("status") and not rig.robot.alarm
    assert rig.cmd("resume") == "ok resumed"
    rig.until(lambda: "delivered" in rig.kinds(), 600)
    assert rig.unit_port_name(1) == "B2" and not rig.plant.violations


def test_stop_abandons_a_jog():
    rig = Rig()
    rig.cmd("jog 5000")
    rig.until(lambda: rig.robot.x.busy() and rig.plant.x.um() > 1000 * 1000, 30, 10)
    assert rig.cmd("stop") == "ok stopping"
    rig.until(lambda: "stopped" in rig.kinds(), 5, 10)
    assert "jogged" not in rig.kinds() and rig.plant.x.um() < 4000 * 1000
    assert rig.cmd("resume") == "ok resumed" and rig.cmd("jog 100").startswith("ok")


def test_soft_limits_refuse_x_and_z_targets_before_any_motion():
    rig = Rig()
    x, z = rig.plant.x.um(), rig.plant.z.um()
    run_task(rig, rig.robot.move_x(rig.robot.travel_steps + 20), 5)
    assert rig.robot.alarm == alarms.SOFT_LIMIT and rig.plant.x.um() == x
    assert rig.cmd("reset").startswith("ok") and rig.robot.homed  # the position was never in doubt
    run_task(rig, rig.robot.move_z(161), 5)
    assert rig.robot.alarm == alarms.SOFT_LIMIT and rig.plant.z.um() == z
    run_task(rig, rig.robot.move_x(-20), 5)
    assert rig.plant.x.um() == x


def test_lift_homing_ignores_a_stow_switch_glitch():
    rig = Rig(home=False)
    rig.plant.z.steps = 60 * 40  # lift raised 60 mm
    real = rig.plant.readers["z_stow_sw"]
    reads = [0]

    def glitchy():  # a single false 'made' reading now and then on the way down
        reads[0] += 1
        return 1 if reads[0] % 7 == 0 else real()

    rig.plant.readers["z_stow_sw"] = glitchy
    rig.cmd("home")
    rig.until(lambda: "homing" in rig.kinds(), 5, 10)
    rig.until(lambda: rig.robot.state != "HOME" or rig.plant.stowed(), 60, 10)
    assert rig.plant.stowed()  # it went on down to the real switch
    rig.plant.readers["z_stow_sw"] = real
    rig.until(lambda: rig.robot.homed, 120)
