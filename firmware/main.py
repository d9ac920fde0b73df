"""Boot: build the robot for this board from /robot.json and /pins.csv, serve the host link on the
USB (and on the UART of link_tx/link_rx if the board has one), run; Ctrl-C stops it safely."""
import asyncio
import time
from railbot import config
from railbot.link import Link
from railbot.port import open_ports
from railbot.robot import Robot
from railbot.store import Store


def build(folder=""):
    """The robot of the board data in `folder` ("" = the flash's root), with its links: a list of
    (Link, port) in robot.links, served by run()."""
    cfg, pins = config.load_board(folder)
    robot = Robot(cfg, pins, store=Store(None, folder + "/railbot.rec"))
    robot.cfg_path = folder + "/robot.json"
    robot.links = [(Link(robot, port=p), p) for p in open_ports(pins)]
    return robot


async def _forever(robot):
    robot.start()
    for i in range(len(robot.links)):
        link, port = robot.links[i]
        robot.sup.spawn("link%d" % i, link.serve, port)
    while True:
        await asyncio.sleep_ms(1000)


def run(robot, coro=None):
    """Run the robot and its links (or `coro`, which starts what it needs) until Ctrl-C or an
    uncaught exception; then a controlled stop and the drivers off before the REPL prompt can
    appear (docs/safety.md). After Ctrl-C the watchdog is paused, so the REPL stays; after a
    crash it is left to reset the board."""
    try:
        asyncio.run(coro if coro is not None else _forever(robot))
    except BaseException as e:
        t0 = time.ticks_ms()
        robot.sup.shutdown()
        if isinstance(e, KeyboardInterrupt):  # a technician (or mpremote) wants the REPL: keep it
            robot.hw.watchdog_off()
        # else a crash: the watchdog restarts the board, which boots with WATCHDOG_RESET raised
        print("railbot: %s: axes stopped, drivers off after %d ms" % (type(e).__name__, time.ticks_diff(time.ticks_ms(), t0)))
        raise


if __name__ == "__main__":
    run(build())
