"""A day of the car park: cars arrive, ask for a charge, plug in, charge, release, leave; the firmware serves them.

Runs under CPython and MicroPython alike: integer arithmetic, the project's Rng, and an event
log whose lines are formatted here byte for byte, so two interpreters can be compared.
"""
from simboard import vasyncio as aio
from simboard.rng import Rng

HOUR_MS = 3600000
MIN_MS = 60000
# requests per hour of the reference day (sum 48; 18:00-20:00 holds 12: the evening peak)
PROFILE = (0, 0, 0, 0, 0, 1, 2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 3, 4, 6, 6, 4, 2, 1, 1)


def _json_value(v):
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return "%d" % v


def event_line(t_ms, src, kind, fields):
    parts = ['"t_ms": %d' % t_ms, '"src": "%s"' % src, '"ev": "%s"' % kind]
    for k, v in fields:
        parts.append('"%s": %s' % (k, _json_value(v)))
    return "{" + ", ".join(parts) + "}"


class Car:
    def __init__(self, n, bay, arrive_ms, park_ms, charge_ms, ask_ms, plug_ms, return_ms):
        self.n = n
        self.bay = bay
        self.arrive_ms = arrive_ms
        self.leave_ms = arrive_ms + park_ms
        self.charge_ms = charge_ms
        self.ask_ms = ask_ms
        self.plug_ms = plug_ms
        self.return_ms = return_ms
        self.requested_ms = -1
        self.served_ms = -1
        self.released_ms = -1
        self.left_ms = -1
        self.unit = 0


def plan_day(seed, hours=24, rate_pct=100, bays=44):
    """The cars of one day: arrival times follow PROFILE x rate; a bay is never given to two cars at once."""
    rng = Rng(seed * 7919 + 17)
    cars = []
    busy_until = [0] * (bays + 1)
    for h in range(hours):
        share = PROFILE[h % 24] * rate_pct
        count = share // 100 + (1 if rng.below(100) < share % 100 else 0)
        times = sorted(h * HOUR_MS + rng.below(HOUR_MS) for _ in range(count))
        for t in times:
            hod = (t // HOUR_MS) % 24
            if hod >= 16 or hod < 5:
                park = rng.between(9 * 60, 14 * 60) * MIN_MS  # home for the night
            else:
                park = rng.between(3 * 60, 7 * 60) * MIN_MS
            free = [b for b in range(1, bays + 1) if busy_until[b] <= t]
            if not free:
                continue
            bay = free[rng.below(len(free))]
            busy_until[bay] = t + park + 30 * MIN_MS
            cars.append(Car(len(cars) + 1, bay, t, park, rng.between(30, 120) * MIN_MS,
                            rng.between(1, 3) * MIN_MS, rng.between(1, 4) * MIN_MS,
                            rng.between(2, 20) * MIN_MS))
    return cars


def plan_window(seed, start_hour, hours):
    """The cars of `plan_day(seed)` arriving in [start_hour, start_hour + hours), with start_hour as t = 0."""
    t0 = start_hour * HOUR_MS
    cars = [c for c in plan_day(seed, hours=start_hour + hours) if c.arrive_ms >= t0]
    for c in cars:
        c.arrive_ms -= t0
        c.leave_ms -= t0
    return cars


class Day:
    """Drives the firmware through a day on a SimBoard; collects the event log and the cars' fates."""

    def __init__(self, board, robot, cars, log=None, track_every_ms=0):
        self.board = board
        self.plant = board.plant
        self.robot = robot
        self.cars = cars
        self.log = log  # callable(line), or None
        self.lines = 0
        self.alarms = 0
        self.track = []  # (t_ms, x_mm) samples when track_every_ms
        self.track_every_ms = track_every_ms
        self.waiting = {}  # bay -> car waiting for its unit
        self._emit = robot.emit  # the robot's own sinks (its black box, a link) keep their events
        robot.emit = self.fw_event

    def now(self):
        return self.board.clock.now_ms

    def write(self, src, kind, fields):
        self.lines += 1
        if self.log is not None:
            self.log(event_line(self.now(), src, kind, fields))

    def fw_event(self, kind, fields):
        self._emit(kind, fields)
        if kind == "alarm":
            self.alarms += 1
        self.write("fw", kind, fields)
        if kind == "delivered":
            self.check_served(fields[0][1])

    def check_served(self, bay):
        """Served means, physically, a unit latched at the bay's port while the car is parked."""
        car = self.waiting.get(bay)
        unit = self.plant.unit_at(self.plant.port_index("B%d" % bay))
        if car is None or unit is None or not unit.latched:
            return
        car.served_ms = self.now()
        car.unit = unit.id
        del self.waiting[bay]
        self.write("sim", "served", (("car", car.n), ("bay", bay), ("unit", unit.id),
                                     ("wait_s", (car.served_ms - car.requested_ms) // 1000)))

    def command(self, line):
        self.board.cpu.frame()  # the request reaches the robot as a link frame (its CPU time, charged)
        reply = self.robot.command(line)
        self.write("sim", "command", (("line", line), ("reply", reply)))
        return reply

    async def car_life(self, car):
        await aio.sleep_ms(car.arrive_ms - self.now())
        self.write("sim", "arrive", (("car", car.n), ("bay", car.bay)))
        await aio.sleep_ms(car.ask_ms)
        car.requested_ms = self.now()
        self.waiting[car.bay] = car
        self.command("charge %d" % car.bay)
        while car.served_ms < 0 and self.now() < car.leave_ms:
            left = car.leave_ms - self.now()
            await aio.sleep_ms(left if left < MIN_MS else MIN_MS)
        if car.served_ms < 0:
            self.waiting.pop(car.bay, None)
            cancelled = self.command("cancel %d" % car.bay).startswith("ok")
            self.write("sim", "abandoned", (("car", car.n), ("bay", car.bay)))
            car.left_ms = self.now()
            for _ in range(60):  # the unit was on its way: free it once it is there
                if cancelled or self.command("release %d" % car.bay).startswith("ok"):
                    return
                await aio.sleep_ms(MIN_MS)
            return
        unit = self.plant.units[car.unit]
        await aio.sleep_ms(car.plug_ms)
        unit.gun_out = True
        unit.cp = "B"
        unit.cp_duty_pct = self.plant.cp_rng.between(8, 96)  # the current the EVSE offers this car
        self.write("sim", "plug", (("car", car.n), ("unit", unit.id)))
        await aio.sleep_ms(5000)
        unit.cp = "C"
        await aio.sleep_ms(car.charge_ms)
        unit.cp = "B"
        self.write("sim", "charged", (("car", car.n), ("unit", unit.id)))
        await aio.sleep_ms(car.return_ms)
        self.unplug(car, unit)
        car.released_ms = self.now()
        self.command("release %d" % car.bay)
        if self.now() < car.leave_ms:
            await aio.sleep_ms(car.leave_ms - self.now())
        car.left_ms = self.now()
        self.write("sim", "leave", (("car", car.n), ("bay", car.bay)))

    def unplug(self, car, unit):
        """The owner unplugs and puts the gun back in its holster."""
        unit.cp = "A"
        unit.gun_out = False
        self.write("sim", "holster", (("car", car.n), ("unit", unit.id)))

    async def tracker(self):
        x = self.plant.x
        while True:
            self.track.append((self.now(), x.um() // 1000))
            await aio.sleep_ms(self.track_every_ms)

    def start(self):
        self.robot.start()
        self.command("home")
        for car in self.cars:
            aio.create_task(self.car_life(car))
        if self.track_every_ms:
            aio.create_task(self.tracker())

    def run(self, end_ms, progress=None, step_ms=HOUR_MS):
        """Run to end_ms; progress(t_ms, day) after every step_ms of virtual time."""
        loop = self.board.loop
        t = self.now()
        while t < end_ms:
            t = t + step_ms if t + step_ms < end_ms else end_ms
            loop.run_until(t)
            if progress is not None:
                progress(t, self)

    def summary(self):
        """Integer figures of the day (times in ms); the host turns them into seconds."""
        asked = [c for c in self.cars if c.requested_ms >= 0]
        served = [c for c in asked if c.served_ms >= 0]
        waits = sorted(c.served_ms - c.requested_ms for c in served)
        n = len(waits)
        return {
            "requests": len(asked),
            "served": len(served),
            "abandoned": len([c for c in asked if c.served_ms < 0 and c.left_ms >= 0]),
            "pending": len([c for c in asked if c.served_ms < 0 and c.left_ms < 0]),
            "wait_sum_ms": sum(waits),
            "p95_wait_ms": waits[(95 * n + 99) // 100 - 1] if n else 0,
            "max_wait_ms": waits[-1] if n else 0,
            "travel_mm": self.plant.travel_steps // self.plant.x.steps_per_mm,
            "alarms": self.alarms,
            "violations": len(self.plant.violations),
            "tick_late_max_ms": self.robot.tick_late_max_ms,
            "step_underruns": self.plant.x.underruns + self.plant.z.underruns,
            "flash_erases": self.board.flash.erases,
        }
