"""The gripper's 1 kHz loop: servo and DC gear motor, grip confirmed by switch and current, a jam cut and retried once."""
import json
import os

from simboard.rig import Rig, DC_GRIPPER, DC_PINS, run_task, grip_rate_hz, grip_jam_cutoff_ms, grip_loop_steps
from railbot import alarms, config
from railbot.config import ConfigError, load_board
from support import REPO, raises, tmp_path, write_tmp


def _dc(home=False, **kw):
    return Rig(home=home, gripper=dict(DC_GRIPPER), **kw)


def test_servo_closes_and_opens_at_1khz():
    rig = Rig(home=False)
    assert grip_rate_hz(rig, True) >= 1000
    assert rig.plant.jaw >= 980 and not rig.robot.alarm
    assert grip_rate_hz(rig, False) >= 1000
    assert rig.plant.jaw <= 20 and not rig.robot.alarm


def test_dc_closes_and_opens_at_1khz_and_holds_at_the_hold_duty():
    rig = _dc()
    plant = rig.plant
    assert grip_rate_hz(rig, True) >= 1000
    assert plant.jaw >= 980 and not rig.robot.alarm
    assert plant.motor_close == 1 and plant.motor_duty_pm == DC_GRIPPER["hold_duty_pct"] * 10  # holding
    rig.run(1)
    assert 500 <= plant.motor_ma <= 700  # 30 % of the 2000 mA stall current
    assert grip_rate_hz(rig, False) >= 1000
    assert plant.jaw <= 20 and not rig.robot.alarm
    assert plant.motor_duty_pm == 0 and plant.motor_ma == 0  # open: motor off


def test_start_current_is_not_a_stall():
    rig = _dc()
    rig.plant.motor_stall_ma = 2900  # a harder inrush: still only a ms over the limit
    run_task(rig, rig.robot.grip(True), 5)
    assert not rig.robot.alarm and rig.plant.jaw >= 980


def test_dc_grip_is_confirmed_by_current_not_by_the_switch_alone():
    # a closed switch stuck made and a motor that draws nothing (a broken wire): a servo would
    # believe the switch, the DC loop waits for the holding current and fails
    rig = Rig(home=False)
    rig.plant.stick("jaw_closed_sw", 1)
    run_task(rig, rig.robot.grip(True), 5)
    assert not rig.robot.alarm and rig.plant.jaw < 100  # the servo believed the switch
    rig = _dc()
    rig.plant.stick("jaw_closed_sw", 1)
    rig.plant.motor_free_ma = rig.plant.motor_stall_ma = 0
    t = rig.now_ms()
    run_task(rig, rig.robot.grip(True), 5)
    assert rig.robot.alarm == alarms.GRIP_FAILED and "holding current" in rig.robot.alarm_detail
    assert rig.now_ms() - t >= DC_GRIPPER["move_timeout_ms"]
    assert rig.plant.motor_duty_pm == 0


def test_dc_with_a_stuck_switch_closes_until_the_jaws_press():
    rig = _dc()
    rig.plant.stick("jaw_closed_sw", 1)
    run_task(rig, rig.robot.grip(True), 5)
    assert not rig.robot.alarm and rig.plant.jaw == 1000  # on the end stop, not at once


def test_jam_cuts_the_motor_within_20ms_retries_once_then_alarms():
    rig = _dc()
    worst, cuts, alarm = grip_jam_cutoff_ms(rig, 500)
    assert alarm == alarms.GRIP_JAM and not alarms.needs_homing(alarm)
    assert cuts == 2  # the stall, one retry after backing off, its stall
    assert 0 < worst <= 20
    plant = rig.plant
    assert plant.motor_duty_pm == 0 and plant.motor_ma == 0 and plant.jaw <= 500  # safe: motor off
    assert rig.robot.state == "ALARM" and "stalled" in rig.robot.alarm_detail


def test_a_jam_that_clears_during_the_back_off_is_gripped_on_the_retry():
    from simboard import vasyncio
    rig = _dc()
    plant = rig.plant
    plant.jam_jaws(500)
    done = [False]

    async def grip():
        await rig.robot.grip(True)
        done[0] = True

    vasyncio.create_task(grip())
    rig.until(lambda: plant.jam_cuts == 1, 5, 1)
    assert plant.jam_cut_ms - plant.jam_onset_ms <= 20
    plant.jam_jaws(None)
    rig.until(lambda: done[0], 5, 1)
    assert not rig.robot.alarm and plant.jaw >= 980 and plant.jam_cuts == 1


def test_servo_jam_times_out_and_the_servo_goes_limp():
    rig = Rig(home=False)
    rig.plant.jam_jaws(400)
    run_task(rig, rig.robot.grip(True), 5)
    assert rig.robot.alarm == alarms.GRIP_FAILED and rig.plant.jaw == 400
    assert rig.plant.jaw_target == rig.plant.jaw  # no pulses: it no longer pushes


def test_dc_mission_delivers_and_holds_the_unit_while_carrying():
    rig = _dc(home=True)
    plant = rig.plant
    assert rig.cmd("charge 12").startswith("ok")
    rig.until(lambda: plant.held is not None and not plant.units[plant.held].latched, 300, 10)
    assert plant.motor_close == 1 and plant.motor_duty_pm == 300 and plant.motor_ma >= 500
    assert plant.jaw == plant.HANDLE  # the handle stops the jaws
    rig.until(lambda: "delivered" in rig.kinds(), 300)
    u = plant.unit_at(rig.port("B12"))
    assert u is not None and u.latched and plant.held is None
    rig.run(5)
    assert plant.jaw <= 20 and plant.motor_duty_pm == 0 and not rig.robot.alarm
    assert not plant.violations


def test_a_missed_handle_is_an_alarm_and_the_unit_stays_latched():
    for dc in (False, True):  # one grip try: no second go (test_pick_place has the retry)
        rig = _dc(home=True, pick_place_grip_tries=1) if dc else Rig(pick_place_grip_tries=1)
        plant = rig.plant
        plant.slip_next_grip()
        assert rig.cmd("charge 12").startswith("ok")
        rig.until(lambda: rig.robot.alarm, 300)
        assert rig.robot.alarm == alarms.GRIP_FAILED and "no unit" in rig.robot.alarm_detail
        assert plant.held is None and plant.slipped
        assert all(u.latched and not u.dropped for u in plant.units.values())
        assert not plant.violations


def test_grip_loop_allocates_nothing():
    rig = _dc()
    alloc, steps, ends = grip_loop_steps(rig, lock=True)  # MemoryError if a step allocated
    assert ends == [2, 1, 1], ends  # stall, open, closed and confirmed
    assert steps > 500
    import gc
    if hasattr(gc, "mem_alloc"):  # MicroPython: the steps also ran under heap_lock
        assert alloc == 0


# --- board data -----------------------------------------------------------------------------------

def _dc_board(name, gripper=None, pins=DC_PINS):
    folder = tmp_path(name)
    try:
        os.mkdir(folder)
    except OSError:
        pass
    with open(REPO + "/boards/SIM/robot.json") as f:
        r = json.load(f)
    r["gripper"] = gripper if gripper is not None else dict(DC_GRIPPER)
    write_tmp(name + "/robot.json", json.dumps(r))
    with open(REPO + "/boards/SIM/pins.csv") as f:
        text = f.read()
    write_tmp(name + "/pins.csv", text + "".join("%s,%s\n" % p for p in pins))
    return folder


def _dc_error(name, **changes):
    g = dict(DC_GRIPPER)
    for k in changes:
        if changes[k] is None:
            del g[k]
        else:
            g[k] = changes[k]
    return str(raises(ConfigError, load_board, _dc_board(name, g)))


def test_dc_board_data_loads():
    robot, pins = load_board(_dc_board("dc_ok"))
    assert robot["gripper"]["kind"] == "dc" and pins["grip_isense"] == "GP27"
    _, pins = load_board(REPO + "/boards/SIM")  # servo boards need no DC pins
    assert "grip_dir" not in pins


def test_bad_dc_gripper_data_names_the_key():
    assert "gripper.stall_ma" in _dc_error("dc1", stall_ma=3000)  # not below isense_ma_fs
    assert "gripper.hold_min_ma" in _dc_error("dc2", hold_min_ma=1200)
    assert "gripper.backoff_ms" in _dc_error("dc3", backoff_ms=1500)
    msg = _dc_error("dc4", stall_ms=16)
    assert "gripper.stall_ms" in msg and "maximum 15" in msg
    assert "gripper.open_us: unknown key" in _dc_error("dc5", open_us=1000)
    assert "gripper.pwm_hz: missing key" in _dc_error("dc6", pwm_hz=None)
    assert "gripper.duty_pct" in _dc_error("dc7", duty_pct=5)


def test_a_dc_gripper_needs_its_pins():
    msg = str(raises(ConfigError, load_board, _dc_board("dc8", pins=DC_PINS[:1])))
    assert "pins.csv" in msg and "grip_isense: missing pin" in msg
    msg = str(raises(ConfigError, load_board, _dc_board("dc9", pins=(("grip_dir", "GP23"), ("grip_isense", "GP24")))))
    assert "grip_isense" in msg and "ADC" in msg
    assert "unknown pin name" in str(raises(ConfigError, config.load_pins, write_tmp("dcp.csv", "grip_brake,GP23\n"),
                                            config.PIN_NAMES, config.DC_GRIP_PINS))
