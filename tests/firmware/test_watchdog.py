"""A hung firmware is reset by the watchdog; after reboot the robot is in alarm and needs reset and homing."""
from simboard.rig import Rig
from simboard import machine
from railbot import alarms
from railbot.robot import Robot


def test_watchdog_resets_a_hung_controller_into_an_alarm():
    rig = Rig(units=[(1, "D24L")])
    for t in list(rig.board.loop.queue):  # the firmware hangs: none of its tasks runs again
        t[2].done = True
    try:
        rig.run(5)
        raise AssertionError("the watchdog did not reset the board")
    except machine.BoardReset as e:
        assert e.cause == machine.WDT_RESET
    rig.board.reboot(machine.WDT_RESET)
    robot = Robot(rig.board.robot_cfg, rig.board.pins)
    robot.start()
    assert robot.alarm == alarms.WATCHDOG_RESET and not robot.homed
    assert robot.command("home").startswith("error")
    robot.command("charge 3")
    rig.board.loop.run_until(rig.now_ms() + 30000)
    assert rig.plant.units[1].moves == 0
    assert robot.command("reset").startswith("ok")
    assert robot.command("home").startswith("ok")
    rig.board.loop.run_until(rig.now_ms() + 120000)
    assert robot.homed
