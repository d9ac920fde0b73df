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
