"""The mission: the queue of charge requests (first come, first served), the choice of unit for a
job, and the mission task that runs jobs and the technician's requests one at a time."""
from railbot.ledger import SERVING
from railbot import supervisor as sv
from railbot.supervisor import Abort


class Mission:
    def __init__(self, robot):
        self.r = robot
        self.sup = robot.sup
        self.c = robot.carriage
        self.handling = robot.handling
        self.jobs = []  # bays, first come first served
        self.busy_bay = 0  # the bay whose job runs now, 0 = none
        self.home_requested = False
        self.reref_requested = False
        self.jog_target = -1  # a pending jog target in steps (soft limits keep it >= 0), -1 = none
        self.manual = None  # a technician's `lift` or `grip` command waiting for the mission task

    def forget(self):
        """A task crashed: what was running or asked for is dropped (the queue stays)."""
        self.busy_bay = 0
        self.manual = None
        self.jog_target = -1

    def nearest_free(self, port):
        """The free unit with the shortest way: from the carriage to the unit, then to `port` (0: none)."""
        r = self.r
        site, led = r.site, r.ledger
        best, best_cost = 0, 0
        here = self.c.enc_steps // self.c.x_spm
        to = site.port_x_mm[port]
        for uid in led.free_units():
            ux = site.port_x_mm[led.port[uid]]
            cost = (ux - here if ux > here else here - ux) + (ux - to if ux > to else to - ux)
            if best == 0 or cost < best_cost:
                best, best_cost = uid, cost
        return best

    def _delivered(self, bay, uid):
        self.r.ledger.state[uid] = SERVING
        self.r.record.save()
        self.r.emit("delivered", (("bay", bay), ("unit", uid)))
        return True

    async def serve(self, bay):
        """One step of the job for `bay`: True when done, False when it must wait for a free unit."""
        r, h = self.r, self.handling
        port = r.site.bay_port(bay)
        led = r.ledger
        uid = led.unit_at(port)
        if uid:  # whatever it was doing, the unit at the bay's own port serves that bay
            return self._delivered(bay, uid)
        uid = led.carried()
        if not uid:
            uid = self.nearest_free(port)
            if not uid:
                return False
            r.emit("job", (("bay", bay), ("unit", uid), ("from", r.site.port_names[led.port[uid]])))
            if not await h.pick(uid):
                return None  # that unit is in use: choose again
        await h.place(uid, port)
        return self._delivered(bay, uid)

    def can_work(self):
        sup = self.sup
        return not sup.alarm and self.c.homed and not sup.paused and not sup.hold

    def _stopped(self):
        """After `stop` took effect: nothing moves until `resume`; the job stays first in the queue."""
        sup = self.sup
        sup.stop_requested = False
        self.jog_target = -1
        sup.paused = True
        if not sup.alarm:
            sup.state = sv.STOP
        self.r.emit("stopped", (("x_steps", self.c.enc_steps),))

    def _ended(self):
        """After a sequence the mission task ran: IDLE unless an alarm stands, then a `stop` done."""
        if not self.sup.alarm:
            self.sup.state = sv.IDLE
        if self.sup.stop_requested:
            self._stopped()

    async def mission_task(self):
        sup, c, h = self.sup, self.c, self.handling
        while True:
            sup.wake.clear()
            if (self.home_requested or self.reref_requested) and not sup.alarm:
                rerefing, self.home_requested, self.reref_requested = self.reref_requested, False, False
                try:
                    await (c.reref(h.grip) if rerefing else c.home(h.grip))
                except Abort:
                    pass
                if sup.stop_requested:
                    self._stopped()
                continue
            if self.manual is not None and not sup.alarm:
                verb, arg = self.manual
                self.manual = None
                try:
                    await (c.move_z(arg) if verb == "lift" else h.grip(arg))
                    self.r.emit(verb, (("to", arg),))
                except Abort:
                    pass
                continue
            if self.jog_target >= 0 and self.can_work():
                target, self.jog_target = self.jog_target, -1
                sup.state = sv.JOG
                try:
                    await c.move_x(target)
                    self.r.emit("jogged", (("x_steps", c.enc_steps),))
                except Abort:
                    pass
                self._ended()
                continue
            if self.can_work() and self.jobs:
                bay = self.jobs[0]
                self.busy_bay = bay
                sup.state = sv.RUN
                try:
                    done = await self.serve(bay)
                except Abort:
                    done = False
                self.busy_bay = 0
                self._ended()
                if done:
                    if self.jobs and self.jobs[0] == bay:
                        self.jobs.pop(0)
                        self.r.record.save()
                    continue
                if done is None:
                    continue
            await sup.wake.wait()
