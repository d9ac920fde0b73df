"""Boot: build the robot for this board from /robot.json and /pins.csv, run it."""
import asyncio
from railbot import config
from railbot.robot import Robot
from railbot.store import Store


async def main():
    cfg, pins = config.load_board("")
    robot = Robot(cfg, pins, store=Store(None, "/railbot.rec"))
    robot.start()
    while True:
        await asyncio.sleep_ms(1000)


asyncio.run(main())
