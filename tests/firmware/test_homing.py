"""Homing: seek (1.5 x travel), debounced switch, slow locate of the edge, pull-off; its failures."""
from simboard.rig import Rig, homing_errors_um
from railbot import alarms


def test_home_switch_not_found_within_one_and_a_half_travels():
    rig = Rig(home=False)
    rig.plant.stick("home_sw", 0)  # a broken switch
    rig.cmd("home")
    rig.until(lambda: rig.robot.alarm, 400)
    assert rig.robot.alarm == alarms.HOMING_FAILED and not rig.robot.homed
    assert "hard limit" in rig.robot.alarm_detail
    # the hard limit past the home end stopped the seek at once (category 0: step output and
    # drivers off in its interrupt handler), at the switch, short of the mechanical end stop 100 mm
    # further on
    rig.until(lambda: not rig.robot.x.busy(), 5)
    rig.run(1)
    assert -50100 < rig.plant.x.um() <= -50000 and not rig.plant.x.crashed
    assert rig.plant.x.enable_pin == 1


def test_home_switch_that_never_releases_is_a_pull_off_failure():
    rig = Rig(home=False)
    rig.plant.stick("home_sw", 1)  # welded contact: made wherever the carriage is
    x0 = rig.plant.x.um()
    rig.cmd("home")
    rig.until(lambda: rig.robot.alarm, 60)
    assert rig.robot.alarm == alarms.PULL_OFF_FAILED and not rig.robot.homed
    assert 0 < rig.plant.x.um() - x0 <= 25000  # crept forward by the pull-off allowance only


def test_homing_repeats_within_half_a_millimetre_with_bounce_and_scatter():
    rig = Rig(home=False)
    errors = homing_errors_um(rig, 12)  # +-0.2 mm trigger scatter, contact chatter of 50 um
    spread = max(errors) - min(errors)
    assert spread <= 500, (spread, errors)
    assert not rig.plant.violations and not rig.robot.alarm
