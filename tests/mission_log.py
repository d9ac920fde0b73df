"""A seeded mission on the simulated board; prints its event log (runs under CPython and MicroPython).

usage: mission_log.py [SEED [HOURS [START_HOUR [COSTS]]]]     (defaults: 7 3 16 1)

COSTS 1 charges the real port's CPU costs (boards/SIM/cpu_costs.json, docs/timing.md) to the
virtual clock, as every simulated board does; 0 charges nothing (the clock before the costs).

The cars are those of `plan_day(SEED)` that arrive from START_HOUR:00 for HOURS hours; the
virtual clock starts at 0 = START_HOUR:00 (an idle morning would only cost time). After the last
hour the log ends with the robot's `status` and `ledger` replies. Only event lines go to stdout,
so the logs of two interpreters can be compared byte for byte. Three hours of the evening rise
give a dozen requests and a queue, in 15-20 s under MicroPython (six hours took 35 s).
"""
import sys


def _repo_root():
    # <repo>/tests/mission_log.py; MicroPython has no os.path.
    path = globals().get("__file__") or sys.argv[0]
    parts = path.replace("\\", "/").split("/")[:-2]
    return "/".join(parts) or "."


ROOT = _repo_root()
for _p in (ROOT + "/boards/SIM", ROOT + "/firmware"):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import simboard  # noqa: E402

simboard.install()

from simboard.board import SimBoard  # noqa: E402
from simboard.day import HOUR_MS, Day, plan_window  # noqa: E402


def main(argv):
    nums = [int(a) for a in argv]
    seed, hours, start_hour, costs = (nums + [7, 3, 16, 1][len(nums):])[:4]
    board = SimBoard(ROOT + "/boards/SIM", seed=seed, cpu_costs=None if costs else False)
    robot = board.robot()
    day = Day(board, robot, plan_window(seed, start_hour, hours), log=print)
    day.start()
    day.run(hours * HOUR_MS)
    day.command("status")
    day.command("ledger")


main(sys.argv[1:])
