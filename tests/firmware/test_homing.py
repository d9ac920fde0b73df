"""Homing: seek (1.5 x travel), debounced switch, slow locate of the edge, pull-off; its failures."""
from rig import Rig
from railbot import alarms


def test_home_switch_not_found_within_one_and_a_half_travels():
    rig = Rig(home=False, x_home_speed_mm_s=500)
    rig.plant.stick("home_sw", 0)  # a broken switch
    rig.cmd("home")
    rig.until(lambda: rig.robot.alarm, 400)
    assert rig.robot.alarm == alarms.HOMING_FAILED and not rig.robot.homed
    # the hard limit past the home end ended the seek, well before the mechanical end stop
    assert "hard limit" in rig.robot.alarm_detail and rig.plant.x.um() > -60000
    assert not rig.plant.x.crashed


def test_home_switch_that_never_releases_is_a_pull_off_failure():
    rig = Rig(home=False)
    rig.plant.stick("home_sw", 1)  # welded contact: made wherever the carriage is
    x0 = rig.plant.x.um()
    rig.cmd("home")
    rig.until(lambda: rig.robot.alarm, 60)
    assert rig.robot.alarm == alarms.PULL_OFF_FAILED and not rig.robot.homed
    assert 0 < rig.plant.x.um() - x0 <= 25000  # crept forward by the pull-off allowance only


def _declared_zero_error_um(rig):
    """True carriage position minus the position the robot declares, in um."""
    return rig.plant.x.um() - rig.robot.enc_steps * 1000 // rig.robot.x_spm


def test_homing_repeats_within_half_a_millimetre_with_bounce_and_scatter():
    rig = Rig(home=False)
    rig.plant.home_bounce_um = 50  # contact chatter: about 5 ms at the locate speed
    errors = []
    for i in range(12):
        rig.plant.home_edge_um = rig.board.rng.between(-200, 200)  # +-0.2 mm trigger scatter
        assert rig.cmd("home") == "ok homing"
        rig.until(lambda: rig.robot.homed and rig.robot.state == "IDLE", 120)
        errors.append(_declared_zero_error_um(rig))
        assert rig.cmd("jog %d" % (100 + 37 * i)).startswith("ok")  # start the next one elsewhere
        rig.until(lambda: "jogged" in rig.kinds(), 60)
        rig.events = []
        rig.robot.homed = False
    spread = max(errors) - min(errors)
    print("homing spread um", spread)
    assert spread <= 500, (spread, errors)
    assert not rig.plant.violations and not rig.robot.alarm
