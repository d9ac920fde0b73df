"""The reset cause: WATCHDOG_RESET only after a real timeout of the watchdog railbot armed, once;
not after power-on, machine.reset(), the bootloader and a UF2 copy, or a soft reset (docs/safety.md)."""
import support
from railbot import alarms
from simboard import machine
from simboard.board import import_firmware
from simboard.rig import Rig

main = import_firmware("main")  # firmware/main.py, with the simulated board's asyncio


def _rig():
    rig = Rig(units=[(1, "D24L")], home=False)
    assert rig.robot.alarm != alarms.WATCHDOG_RESET
    return rig


def _watchdog_reset(rig):
    """The firmware hangs (none of its tasks runs again): the watchdog resets the board; it boots."""
    for t in list(rig.board.loop.queue):
        t[2].done = True
    e = support.raises(machine.BoardReset, rig.run, 10)
    assert e.cause == machine.WDT_RESET
    return rig.reboot(e.cause)


def _ctrl_c(rig):
    """A technician's Ctrl-C (or mpremote's) through main.run: the robot stops, the watchdog pauses."""
    from simboard import vasyncio

    async def interrupted():
        await vasyncio.sleep_ms(100)
        raise KeyboardInterrupt()

    support.raises(KeyboardInterrupt, main.run, rig.robot, interrupted())
    for t in list(rig.board.loop.queue):  # at the REPL prompt nothing of the firmware runs
        t[2].done = True


def _soft_reset(rig):
    """Ctrl-D at the REPL: main.py runs again; the chip and its registers are not reset."""
    e = support.raises(machine.BoardReset, machine.soft_reset)
    return rig.reboot(e.cause)


def test_power_on_is_no_watchdog_reset():
    rig = _rig()
    assert machine.reset_cause() == machine.PWRON_RESET
    assert _soft_reset(rig).alarm != alarms.WATCHDOG_RESET


def test_machine_reset_is_no_watchdog_reset():
    rig = _rig()
    e = support.raises(machine.BoardReset, machine.reset)
    robot = rig.reboot(e.cause)
    assert machine.reset_cause() == machine.WDT_RESET  # the port's answer: REASON.FORCE is set
    assert rig.board.wdt_reason == machine.REASON_FORCE
    assert robot.alarm != alarms.WATCHDOG_RESET, robot.alarm_detail


def test_bootloader_and_a_uf2_copy_are_no_watchdog_reset():
    rig = _rig()
    support.raises(machine.BoardReset, machine.bootloader)
    assert rig.board.wdt_scratch[4] == machine.BOOT_VECTOR_MAGIC
    rig.board.flash_uf2()  # the bootrom reboots into the new image through its watchdog countdown
    assert machine.reset_cause() == machine.WDT_RESET and rig.board.wdt_reason == machine.REASON_TIMER
    robot = rig._boot()
    assert robot.alarm != alarms.WATCHDOG_RESET, robot.alarm_detail


def test_a_real_timeout_is_a_watchdog_reset():
    robot = _watchdog_reset(_rig())
    assert robot.alarm == alarms.WATCHDOG_RESET and not robot.homed


def test_a_soft_reset_after_a_real_timeout_does_not_report_it_again():
    rig = _rig()
    assert _watchdog_reset(rig).alarm == alarms.WATCHDOG_RESET
    _ctrl_c(rig)
    robot = _soft_reset(rig)
    assert machine.reset_cause() == machine.WDT_RESET  # REASON.TIMER is still set: read only
    assert robot.alarm != alarms.WATCHDOG_RESET, robot.alarm_detail
    # ... and the watchdog it arms again is reported when it runs out
    assert _watchdog_reset(rig).alarm == alarms.WATCHDOG_RESET


def test_every_real_timeout_is_reported():
    rig = _rig()
    assert _watchdog_reset(rig).alarm == alarms.WATCHDOG_RESET
    assert _watchdog_reset(rig).alarm == alarms.WATCHDOG_RESET


def test_a_watchdog_armed_at_the_repl_is_not_railbots():
    rig = _rig()
    _ctrl_c(rig)
    machine.WDT(timeout=1000)  # a technician's, after Ctrl-C; nobody feeds it
    e = support.raises(machine.BoardReset, rig.run, 2)
    robot = rig.reboot(e.cause)
    assert machine.reset_cause() == machine.WDT_RESET
    assert robot.alarm != alarms.WATCHDOG_RESET, robot.alarm_detail


def test_a_power_cut_clears_the_registers():
    rig = _rig()
    _watchdog_reset(rig)
    rig.board.reboot(machine.PWRON_RESET)
    assert machine.reset_cause() == machine.PWRON_RESET and rig.board.wdt_scratch == [0] * 8
    assert rig._boot().alarm != alarms.WATCHDOG_RESET


def test_a_soft_reset_keeps_the_watchdog_counting():
    rig = _rig()
    e = support.raises(machine.BoardReset, machine.soft_reset)  # e.g. mpremote's, after a crash
    rig.board.reboot(e.cause)  # a raw-REPL soft reset: main.py does not run, nothing feeds it
    e = support.raises(machine.BoardReset, rig.run, 10)
    assert e.cause == machine.WDT_RESET
