"""Boot: build the robot for this board from /robot.json and /pins.csv, run it; Ctrl-C stops it safely."""
import asyncio
import time
from railbot import config
from railbot.robot import Robot
from railbot.store import Store


def build():
    cfg, pins = config.load_board("")
    return Robot(cfg, pins, store=Store(None, "/railbot.rec"))


async def _forever(robot):
    robot.start()
    while True:
        await asyncio.sleep_ms(1000)


def run(robot, coro=None):
    """Run the robot (or `coro`, which starts it) until Ctrl-C or an uncaught exception; then a
    controlled stop and the drivers off before the REPL prompt can appear (docs/safety.md)."""
    try:
        asyncio.run(coro if coro is not None else _forever(robot))
    except BaseException as e:
        t0 = time.ticks_ms()
        robot.shutdown()
        print("railbot: %s: axes stopped, drivers off after %d ms" % (type(e).__name__, time.ticks_diff(time.ticks_ms(), t0)))
        raise


if __name__ == "__main__":
    run(build())
