"""The record on flash: the ledger, the requests and the unit in transit, saved at standstill,
restored after a reset and settled by what the gripper's sensors say (docs/storage.md)."""
from railbot import alarms
from railbot.ledger import CARRIED, UNKNOWN


class Record:
    def __init__(self, robot, store):
        self.r = robot
        self.store = store  # railbot.store.Store (None: nothing is kept)
        self.transit_unit = 0  # the unit being picked or placed (journalled), 0 = none
        self.transit_to = 0  # ... and where to: CARRIED, or a port index
        self.save_due = False  # a save asked for while an axis moved: made at the next standstill

    def save(self):
        """Persist the ledger, the requests and the unit in transit (atomically: railbot/store.py).
        Not while an axis moves: a flash erase stops the CPU (interrupts off, 45 ms typical, 400 ms
        at worst) for longer than the step ring's lead, so the save waits for the next standstill
        (save_due; docs/storage.md, "Saves and motion"). False when it waits."""
        if self.store is None:
            return True
        r = self.r
        c = r.carriage
        if c.x.busy() or c.z.busy():
            self.save_due = True
            return False
        self.save_due = False
        self.store.save("%sj=%s\nt=%d,%d\ns=%d\n" % (
            r.ledger.dump(), ",".join("%d" % b for b in r.mission.jobs), self.transit_unit, self.transit_to,
            r.hw.side_sel.value()))
        return True

    def transit(self, uid, dest):
        """Journal the unit about to move (0: none) and where to: written before the first physical
        step, so that after a power cut the robot knows which unit its sensors must place."""
        self.transit_unit = uid
        self.transit_to = dest
        self.save()

    def arrived(self, uid, port):
        """The unit in transit is where it was going (CARRIED or a port): the ledger says so, saved."""
        self.r.ledger.port[uid] = port
        self.transit_unit = 0
        self.save()

    def restore(self, text):
        """After a reset: take the record, then place the unit that was in transit by what the gripper's
        sensors say now (no motion): still latched where it was, carried, or, if neither can be
        true, unknown (an alarm). docs/storage.md has the cases."""
        r = self.r
        jobs, transit = [], (0, 0)
        try:
            for line in text.split("\n"):
                if line.startswith("j="):
                    jobs = [int(b) for b in line[2:].split(",") if b]
                elif line.startswith("t="):
                    u, d = line[2:].split(",")
                    transit = (int(u), int(d))
        except ValueError:
            jobs = None
        led, site, sup = r.ledger, r.site, r.sup
        uid, dest = transit
        if jobs is None or not led.load(text) or (uid and uid not in led.port) \
                or [b for b in jobs if not 1 <= b <= site.bays] or not -1 <= dest < site.ports:
            sup.trip(alarms.LEDGER_INVALID, "stored record unreadable")
            return
        r.mission.jobs = jobs
        self.transit_unit, self.transit_to = uid, dest
        hw = r.hw
        held = 0 if uid else led.carried()
        self.settle()
        gripped = hw.unit_present_sw.value() and not hw.jaw_open_sw.value()
        if held and not gripped:
            led.port[held] = UNKNOWN
            self.save()
        elif gripped and not led.carried() and not hw.port_latched_sw.value():
            sup.trip(alarms.LEDGER_INVALID, "a unit the ledger does not know is in the gripper")
        r.emit("restored", (("ledger", led.describe()), ("jobs", len(jobs))))
        lost = led.unit_at(UNKNOWN)
        if lost:
            r.emit("unit_missing", (("unit", lost), ("port", "gripper")))
            sup.trip(alarms.UNIT_MISSING, "unit %d not in the gripper after reset" % lost)

    def settle(self):
        """Place the unit in transit by what the gripper's sensors say now, without moving: in closed
        jaws at a latch, it is at the port it was leaving or going into; in closed jaws without one,
        carried; with the jaws empty, still at the port it was leaving (a port lets go only into
        closed jaws), or, on its way into a port, unknown. Then the journal is closed."""
        r = self.r
        uid, dest, led, hw = self.transit_unit, self.transit_to, r.ledger, r.hw
        if not uid:
            return
        if hw.unit_present_sw.value() and not hw.jaw_open_sw.value():
            if not hw.port_latched_sw.value():
                led.port[uid] = CARRIED
            elif dest != CARRIED:
                led.port[uid] = dest
        elif dest != CARRIED:
            led.port[uid] = UNKNOWN
        self.transit_unit = 0
        self.save()
