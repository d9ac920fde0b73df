"""The simulated board's pins as the rp2 port's: the board's real names only, pulls, an open input
(a broken wire reads its pull), and the marker's UART chosen by its pin."""
import support
from railbot import alarms, config
from simboard import machine
from simboard.board import SimBoard
from simboard.rig import BOARD, Rig, sim_config


def _refused(pin_id):
    e = support.raises(ValueError, machine.Pin, pin_id)
    assert str(pin_id) in str(e) or "invalid pin" in str(e), str(e)


def test_a_pico_board_refuses_the_names_a_pico_has_not():
    cfg = sim_config()
    cfg["pin_names"] = "RPI_PICO"
    SimBoard(BOARD, robot_cfg=cfg)  # the SIM pin map uses only pins a Pico brings out
    for name in ("GP23", "GP24", "GP29", "GP30", "GP02", "gp2", "LED2", 30, -1):
        _refused(name)
    for pin_id in ("GPIO23", "GPIO29", 23, "GP25", "GP28"):  # CPU names and numbers: any rp2 build
        machine.Pin(pin_id)


def test_the_sim_board_brings_out_all_30_gpios():
    SimBoard(BOARD)
    assert config.load_robot(BOARD + "/robot.json")["pin_names"] == "GP0-29"
    for pin_id in ("GP23", "GP24", "GP29", "GPIO29", 29):
        machine.Pin(pin_id)
    for pin_id in ("GP30", "GPIO30", "GP99", 30):
        _refused(pin_id)


def test_an_unconnected_input_reads_its_pull():
    SimBoard(BOARD)  # GP23 is free on the SIM board
    assert machine.Pin("GP23", machine.Pin.IN, machine.Pin.PULL_UP).value() == 1
    assert machine.Pin("GP23", machine.Pin.IN, machine.Pin.PULL_DOWN).value() == 0
    floating = machine.Pin("GP23", machine.Pin.IN)  # no pull given: none, as on the port
    assert sorted(set(floating.value() for _ in range(64))) == [0, 1]  # noise


def test_an_open_wire_reads_the_pull():
    rig = Rig(home=False)
    pin = rig.board.pins["limit_min"]
    up = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
    assert up.value() == 0  # the switch is open: the plant drives 0
    rig.plant.open_wire("limit_min")
    assert up.value() == 1
    down = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_DOWN)
    assert down.value() == 0 and up.value() == 0  # one pad: the last configuration holds for both
    keeper = machine.Pin(rig.board.pins["estop_in"], machine.Pin.IN, machine.Pin.PULL_UP | machine.Pin.PULL_DOWN)
    assert keeper.value() == 1  # the chain is closed: 1
    rig.plant.open_wire("estop_in")
    rig.plant.press_estop()
    assert keeper.value() == 1  # the bus keeper holds the last level it saw
    floating = machine.Pin(pin, machine.Pin.IN)
    assert sorted(set(floating.value() for _ in range(64))) == [0, 1]
    rig.plant.mend_wire("limit_min")
    assert floating.value() == 0 and all(floating.value() == 0 for _ in range(64))


def test_a_soft_reset_keeps_the_pads_a_reset_restores_their_pull_downs():
    rig = Rig(home=False)
    gpio = int(rig.board.pins["limit_min"][2:])
    assert rig.board.pad_pulls[gpio] == machine.Pin.PULL_UP  # the firmware's inputs
    rig.board.reboot(machine.SOFT_RESET)
    assert rig.board.pad_pulls[gpio] == machine.Pin.PULL_UP
    rig.board.reboot(machine.WDT_RESET)
    assert rig.board.pad_pulls[gpio] == machine.Pin.PULL_DOWN


def test_a_broken_limit_switch_wire_trips_the_robot():
    rig = Rig(units=[(1, "D24L")])
    assert not rig.robot.alarm
    rig.plant.open_wire("limit_min")  # the firmware's pull-up: an open wire reads as the switch made
    rig.run(1)
    assert rig.robot.alarm == alarms.HARD_LIMIT, rig.robot.alarm


def test_a_broken_estop_wire_trips_the_robot_mid_move():
    """The e-stop chain drives its input high while closed; a wire that breaks reads the pad's
    pull-down, as the chain opening does: ESTOP, a controlled stop, no reset while it stays open."""
    rig = Rig(units=[(1, "D24L")])
    assert rig.cmd("jog 2000").startswith("ok")
    rig.until(lambda: rig.robot.x.busy(), 5)
    rig.plant.open_wire("estop_in")
    rig.run(1)
    assert rig.robot.alarm == alarms.ESTOP, rig.robot.alarm
    rig.until(lambda: not rig.robot.x.busy(), 10)
    assert rig.cmd("reset") == "error: e-stop still open"
    rig.plant.mend_wire("estop_in")
    assert rig.cmd("reset").startswith("ok alarm 1 cleared")


def test_the_marker_uart_is_the_one_of_marker_rx():
    real = machine.UART
    opened = []

    class Recorded(real):
        def __init__(self, uart_id, *args, **kw):
            opened.append((uart_id, kw["rx"].name))
            real.__init__(self, uart_id, *args, **kw)

    board = SimBoard(BOARD)
    # marker_rx to GP9 (UART1's RX), limit_min to GP13 where it was
    board.pins["marker_rx"], board.pins["limit_min"] = "GP9", "GP13"
    board.wiring["GP9"], board.wiring["GP13"] = "marker_rx", "limit_min"
    machine.UART = Recorded
    try:
        board.robot()
        SimBoard(BOARD).robot()  # the SIM board's own: GP13, UART0
    finally:
        machine.UART = real
    assert opened == [(1, "marker_rx"), (0, "marker_rx")], opened
