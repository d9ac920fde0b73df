"""Test rig: a simulated board with the firmware robot on it, and helpers to run it to a condition."""
from simboard.board import SimBoard
from simboard.plant import VEHICLE_STATES  # noqa: F401  (re-exported for tests)
from railbot.robot import Robot
from railbot import config
from support import REPO

BOARD = REPO + "/boards/SIM"


def sim_config(units=None, **changes):
    """The SIM board's robot config, with units placed as given ([(id, "PORT"), ...]) and
    changes given as section_key=value (e.g. x_home_speed_mm_s=50)."""
    cfg = config.load_robot(BOARD + "/robot.json")
    if units is not None:
        cfg["site"]["units"] = [{"id": uid, "port": port} for uid, port in units]
    for name, value in changes.items():
        section, key = name.split("_", 1)
        assert key in cfg[section], name
        cfg[section][key] = value
    return cfg


class Rig:
    def __init__(self, units=None, seed=1, home=True, **changes):
        self.board = SimBoard(BOARD, seed=seed, robot_cfg=sim_config(units, **changes))
        self.plant = self.board.plant
        self.events = []
        self.robot = Robot(self.board.robot_cfg, self.board.pins, emit=self._event)
        self.robot.start()
        if home:
            assert self.robot.command("home").startswith("ok")
            self.until(lambda: self.robot.homed, 120)

    def _event(self, kind, fields):
        self.events.append((kind, fields))

    def kinds(self):
        return [k for k, _ in self.events]

    def now_ms(self):
        return self.board.clock.now_ms

    def run(self, seconds):
        self.board.loop.run_until(self.now_ms() + seconds * 1000)

    def until(self, cond, limit_s, step_ms=100):
        """Run until cond() is true; fail if it is not within limit_s simulated seconds."""
        end = self.now_ms() + limit_s * 1000
        while not cond():
            if self.now_ms() >= end:
                raise AssertionError("condition not reached within %d s (status %s)" % (limit_s, self.robot.command("status")))
            self.board.loop.run_until(self.now_ms() + step_ms)

    def cmd(self, line):
        return self.robot.command(line)

    def port(self, name):
        return self.plant.port_index(name)

    def unit_port_name(self, uid):
        p = self.plant.units[uid].port
        return "carried" if p is None else self.plant.port_name[p]
