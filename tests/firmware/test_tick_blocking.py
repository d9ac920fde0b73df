"""Nothing blocks the control tick: the simulated UART, USB and flash wait where the rp2 port waits
(inter-character timeout, a USB host that does not read, flash erase), and the firmware never lets
such a wait fall on a tick while the carriage moves (docs/motion.md, "What may block")."""
import machine
from simboard.rig import Rig, position_faults


def motion_late_ms(rig):
    """The longest a control tick of a move came late (the firmware's own figure)."""
    return rig.robot.tick_late_max_ms


def test_a_uart_read_waits_for_the_buffer_or_the_inter_character_timeout():
    rig = Rig(home=False)
    uart = machine.UART(0, 9600, rx=machine.Pin(rig.board.pins["marker_rx"]))
    rig.plant.marker_rx.extend(b"T12\n")
    buf = bytearray(16)
    t0 = rig.now_ms()
    assert uart.readinto(buf) == 4 and buf[:4] == b"T12\n"
    assert rig.now_ms() - t0 == 3  # 13000 // 9600 + 1 = 2 ms, passed once the tick reads 3
    rig.plant.marker_rx.extend(b"T7\n")
    t0 = rig.now_ms()
    assert uart.readinto(buf, uart.any()) == 3 and rig.now_ms() == t0  # only what is there: no wait
    assert uart.readinto(buf) is None and rig.now_ms() - t0 == 1  # nothing: timeout 0, then EAGAIN


def test_a_uart_write_beyond_its_ring_waits_for_the_line():
    rig = Rig(home=False)
    rig.board.pins["link_tx"], rig.board.pins["link_rx"] = "GP24", "GP25"
    rig.board.wiring["GP24"], rig.board.wiring["GP25"] = "link_tx", "link_rx"
    uart = machine.UART(1, 115200, tx=machine.Pin("GP24"), rx=machine.Pin("GP25"), timeout=0, txbuf=256)
    t0 = rig.now_ms()
    assert uart.write(bytes(200)) == 200 and rig.now_ms() == t0 and not uart.txdone()
    assert uart.write(bytes(1200)) == 1200  # 1144 bytes over the ring, 86 us each
    assert rig.now_ms() - t0 == 99
    rig.run(1)
    assert uart.txdone()


def test_marker_tags_do_not_delay_the_control_tick():
    rig = Rig(units=[(1, "D24L")])
    position_faults(rig.plant)  # the marker's line at 9600 baud, a byte every 1.04 ms
    rig.robot.tick_late_max_ms = 0
    assert rig.cmd("charge 44").startswith("ok")
    rig.until(lambda: rig.unit_port_name(1) == "B44", 600)
    assert rig.robot.tags_seen >= 20
    assert motion_late_ms(rig) <= 2, motion_late_ms(rig)


def _record_jobs(rig):
    from railbot.store import Store
    from simboard.board import RECORD
    rec = Store(rig.board.flash, RECORD).load() or ""
    return [line for line in rec.split("\n") if line.startswith("j=")]


def test_a_flash_save_takes_its_erase_and_program_time():
    rig = Rig(home=False)
    flash = rig.board.flash
    t0 = rig.now_ms()
    assert rig.robot.save()
    assert rig.now_ms() - t0 >= 1  # .new created, committed, renamed: a page program each
    flash.erase_every_step, flash.erase_ms = True, 400  # the chip's worst case
    t0 = rig.now_ms()
    assert rig.robot.save()
    assert rig.now_ms() - t0 >= 3 * 400


def test_a_request_taken_mid_traverse_is_saved_at_the_next_stop_and_never_delays_the_tick():
    rig = Rig(units=[(1, "D24L")])
    robot, flash = rig.robot, rig.board.flash
    flash.erase_every_step, flash.erase_ms = True, 400
    assert rig.cmd("jog 40000").startswith("ok")
    rig.until(lambda: robot.x.busy() and robot.x.v >= robot.x.v_max, 120, 10)
    robot.tick_late_max_ms = 0
    reply = rig.cmd("charge 44")
    on_flash = _record_jobs(rig)
    rig.until(lambda: not robot.x.busy(), 120, 10)
    rig.run(0)
    assert robot.tick_late_max_ms <= 2, robot.tick_late_max_ms
    assert rig.plant.x.underruns == 0  # the step ring never ran dry (test_cpu_costs: it can)
    assert reply == "ok charge bay 44 queued at 1, saved at the next stop"
    assert "j=44" not in on_flash and _record_jobs(rig) == ["j=44"]  # at the stop, before the job starts
    rig.until(lambda: rig.unit_port_name(1) == "B44", 600)
    assert not robot.alarm and not rig.plant.violations
