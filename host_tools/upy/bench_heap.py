"""The heap the firmware holds on the SIM board, built and homed, its bytecode loaded from .mpy
files (upy_heap_firmware_bytes), and where it goes, part by part: bench_upy.py's `heap` phase.
MicroPython subset.

The SimBoard alone is the baseline; the firmware's `config` module, which the SimBoard imports
for itself, is measured on its own and counted as firmware, and the robot loads its own board data
as main.py does. Heap figures are read at the start of the next top-level step (benchsim.sim_heap).
"""
from benchlib import note, out
from benchsim import check_deployed, find_uarts, heap, run_until, scrub, sim_heap


_HEAP_PARTS = ("import railbot.config", "import railbot.alarms", "import railbot.hal (+ pio)",
               "import railbot.motion", "import railbot.site", "import railbot.ledger",
               "import railbot.robot (+ the rest)", "import railbot.link, railbot.port",
               "board data (robot.json, pins.csv)", "Robot()", "Link() (the USB's, as main.py builds it)",
               "start() and homing")


def _sink(data):
    pass


def phase_heap(folder, seed):
    """Generator; returns (board, robot) built and homed, for the tick phase."""
    from simboard.board import SimBoard

    vals = [0] * len(_HEAP_PARTS)  # preallocated: nothing the bench keeps grows between readings
    h0 = yield from heap()
    from railbot import config  # firmware: the SimBoard would import it for itself

    h1 = yield from heap()
    vals[0] = h1 - h0
    board = SimBoard(folder, seed=seed)
    hA = yield from sim_heap(board)
    a = hA
    i = 1
    for name in ("railbot.alarms", "railbot.hal", "railbot.motion", "railbot.site", "railbot.ledger",
                 "railbot.robot", "railbot.link railbot.port"):
        for n in name.split():
            __import__(n)
        b = yield from sim_heap(board)
        vals[i] = b - a
        a = b
        i += 1
    from railbot.robot import Robot
    from railbot.link import Link

    cfg, pins = config.load_board(folder)  # the robot's own board data, as main.py loads it
    b = yield from sim_heap(board)
    vals[8] = b - a
    robot = Robot(cfg, pins)
    find_uarts(robot)
    c = yield from sim_heap(board)
    vals[9] = c - b
    Link(robot, _sink)  # main.py's link on the USB (the simulated board has none): kept by robot.emit
    d = yield from sim_heap(board)
    vals[10] = d - c
    c = d
    robot.start()
    robot.command("home")
    if not run_until(board, lambda: robot.homed, 120000):
        note("homing did not finish: %s" % robot.command("status"))
        out("upy_heap_homed", False)
        return board, robot
    check_deployed()
    scrub(0, 0, 0, 0, 0, 0, 0, 0)
    hB = yield from sim_heap(board)
    vals[11] = hB - c
    out("upy_heap_firmware_bytes", hB - hA + h1 - h0)
    out("upy_heap_simboard_bytes", hA - h1)
    for i in range(len(vals)):
        note("heap: %6d bytes  %s" % (vals[i], _HEAP_PARTS[i]))
    return board, robot
