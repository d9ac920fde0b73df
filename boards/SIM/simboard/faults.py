"""A day of the car park with gripper and port faults injected, and a technician who clears them.

Faults (one every 20..60 min, at random): the next grip misses the handle, the jaws jam, a port's
latch misses a raise (once, or for good), a port holds on to its unit (once, or for good), and a
free unit is taken from its port behind the ledger's back. The technician comes 10 minutes after
an alarm: checks the robot left things safe (nothing dropped, no unit hanging unlatched, the lift
down or its unit latched), clears what was injected, and sends `reset` then `home` or `resume`.

Runs under CPython and MicroPython alike (integer arithmetic, the project's Rng).
"""
from simboard import vasyncio as aio
from simboard.day import Day, MIN_MS
from simboard.rng import Rng
from railbot import alarms

HANDLING = (alarms.GRIP_FAILED, alarms.GRIP_JAM, alarms.LATCH_FAILED, alarms.UNLATCH_FAILED,
            alarms.PORT_OCCUPIED, alarms.UNIT_MISSING, alarms.INTERLOCK)
KINDS = ("slip", "jam", "latch_miss", "latch_broken", "unlatch_stuck", "unlatch_stuck_all", "unit_taken",
         "gun_left_out")


class FaultDay(Day):
    def __init__(self, board, robot, cars, seed=1, log=None):
        Day.__init__(self, board, robot, cars, log=log)
        self.frng = Rng(seed * 31 + 5)
        self.injected = dict((k, 0) for k in KINDS)
        self.picks = self.places = 0  # done
        self.failed = 0  # a pick or place that ended in a handling alarm
        self.unsafe = []  # what the technician found wrong
        self.in_use = 0
        self.gun_left = 0  # cars armed to leave with the gun out, not yet gone
        self.guns_left_out = []  # units the robot reported (event gun_left_out), for the technician
        self.guns_gone = 0  # cars that left with the gun out
        self.guns_reported = 0

    def fw_event(self, kind, fields):
        Day.fw_event(self, kind, fields)
        if kind == "pick":
            self.picks += 1
        elif kind == "place":
            self.places += 1
        elif kind == "unit_in_use":
            self.in_use += 1
        elif kind == "gun_left_out":
            self.guns_left_out.append(fields[0][1])
            self.guns_reported += 1
        elif kind == "alarm" and fields[0][1] in HANDLING:
            self.failed += 1

    def success_rate_ppm(self):
        done = self.picks + self.places
        return done * 1000000 // (done + self.failed) if done + self.failed else 0

    async def injector(self):
        p, rng = self.plant, self.frng
        while True:
            await aio.sleep_ms(rng.between(20, 60) * MIN_MS)
            kind = KINDS[rng.below(len(KINDS))]
            ports = [i for i in range(len(p.port_name)) if p.unit_at(i) is not None]
            port = ports[rng.below(len(ports))] if ports else 0
            if kind == "gun_left_out":
                self.gun_left += 1  # the next car to unplug drives off with the gun out
            elif kind == "slip":
                p.slip_next_grip()
            elif kind == "jam":
                p.jam_jaws(rng.between(300, 900))
            elif kind == "latch_miss" or kind == "latch_broken":
                port = rng.below(len(p.port_name))  # any port: it matters when a unit is placed there
                p.latch_misses[port] = 1 if kind == "latch_miss" else 99
            elif kind == "unlatch_stuck" or kind == "unlatch_stuck_all":
                p.stuck_latches[port] = 1 if kind == "unlatch_stuck" else -1
            else:
                u = p.unit_at(port)
                if u is None or u.gun_out or self.robot.ledger.state.get(u.id, 1) != 0:
                    continue  # only a free unit, and not the one being handled
                u.port, u.latched = None, False
            self.injected[kind] += 1
            self.write("sim", "fault", (("kind", kind), ("port", p.port_name[port])))

    def unplug(self, car, unit):
        if not self.gun_left:
            return Day.unplug(self, car, unit)
        self.gun_left -= 1
        self.guns_gone += 1
        unit.cp = "A"  # unplugged from the car, the gun left hanging
        self.write("sim", "gun_left_out", (("car", car.n), ("unit", unit.id)))

    def _safe(self):
        """What is not safe now: a plant violation, a dropped unit, the lift left raised without a
        latched unit in the jaws (after a handling alarm the robot brings it down)."""
        p = self.plant
        bad = p.violations[-1:]
        for u in p.units.values():
            if u.dropped:
                bad.append("unit %d dropped" % u.id)
        if p.z.um() - p.stow_um > 1000 and not (p.held is not None and p.units[p.held].latched):
            bad.append("lift left at %d um" % p.z.um())
        return bad

    async def technician(self):
        p, robot = self.plant, self.robot
        while True:
            await aio.sleep_ms(MIN_MS)
            while self.guns_left_out:  # the technician holsters a gun the robot found out
                u = p.units[self.guns_left_out.pop(0)]
                u.gun_out = False
                if u.port is not None and p.port_name[u.port][0] == "B":
                    self.command("release " + p.port_name[u.port][1:])
            if not robot.alarm:
                continue
            await aio.sleep_ms(10 * MIN_MS)
            for what in self._safe():
                self.unsafe.append("t=%d alarm %d: %s" % (self.now(), robot.alarm, what))
            p.jam_jaws(None)
            p.slip_pending = False
            for port in list(p.latch_misses):
                if p.latch_misses[port] > 1:
                    del p.latch_misses[port]
            for port in list(p.stuck_latches):
                if p.stuck_latches[port] < 0:
                    del p.stuck_latches[port]
            self.command("reset")
            self.command("home" if not robot.homed else "resume")

    def start(self):
        Day.start(self)
        aio.create_task(self.injector())
        aio.create_task(self.technician())


def pick_place_day(seed=1, hours=24, log=None, gripper=None):
    """Run a fault day on a fresh SIM board (another gripper's data: see rig.sim_config); the
    FaultDay, its figures in its attributes."""
    from simboard.board import SimBoard
    from simboard.day import plan_day, HOUR_MS
    from simboard.rig import BOARD, sim_config, wire_gripper
    board = SimBoard(BOARD, seed=seed, robot_cfg=sim_config(gripper=gripper) if gripper else None)
    wire_gripper(board, gripper)
    robot = board.robot()
    day = FaultDay(board, robot, plan_day(seed, hours=hours), seed=seed, log=log)
    day.start()
    day.run((hours + 6) * HOUR_MS)
    return day
