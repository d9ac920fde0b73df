"""The record on flash: the ledger, the requests and the unit in transit, saved at standstill,
restored after a reset and settled by what the gripper's sensors say (docs/storage.md)."""
from railbot import alarms
from railbot.ledger import CARRIED, UNKNOWN
from railbot.supervisor import Abort


class Record:
    def __init__(self, robot, store):
        self.r = robot
        self.store = store  # railbot.store.Store (None: nothing is kept)
        self.transit_unit = 0  # the unit being picked or placed (journalled), 0 = none
        self.transit_to = 0  # ... and where to: CARRIED, or a port index
        self.save_due = False  # a save asked for while an axis moved: made at the next standstill
        self.fault = ""  # the last failed save: "errno N"

    def text(self):
        """The record as it would be saved now."""
        r = self.r
        return "%sj=%s\nt=%d,%d\ns=%d\n" % (
            r.ledger.dump(), ",".join("%d" % b for b in r.mission.jobs), self.transit_unit, self.transit_to,
            r.hw.side_sel.value())

    def save(self):
        """Persist the ledger, the requests and the unit in transit (atomically: railbot/store.py).
        Not while an axis moves: a flash erase stops the CPU (interrupts off, 45 ms typical, 400 ms
        at worst) for longer than the step ring's lead, so the save waits for the next standstill
        (save_due; docs/storage.md, "Saves and motion"). True when saved, False when it waits, None
        when the write failed (ENOSPC, EIO, a refused rename): then alarm STORAGE_FAULT stands and
        the record on flash is the last one saved; the caller rolls its change back, or keeps it if
        it records a move already made (docs/storage.md, "Failed writes")."""
        if self.store is None:
            return True
        c = self.r.carriage
        if c.x.busy() or c.z.busy():
            self.save_due = True
            return False
        self.save_due = False
        try:
            self.store.save(self.text())
        except OSError as e:
            self.fault = "errno %s" % e.args[0]
            self.r.sup.trip(alarms.STORAGE_FAULT, "save failed: " + self.fault)
            return None
        return True

    def transit(self, uid, dest):
        """Journal the unit about to move (0: none) and where to: written before the first physical
        step, so that after a power cut the robot knows which unit its sensors must place. A journal
        that cannot be written stops the sequence before that step (Abort), the journal unchanged."""
        was = self.transit_unit, self.transit_to
        self.transit_unit = uid
        self.transit_to = dest
        if self.save() is None:
            self.transit_unit, self.transit_to = was
            raise Abort()

    def arrived(self, uid, port):
        """The unit in transit is where it was going (CARRIED or a port): the ledger says so, saved.
        The move is made: if the save fails, the ledger in RAM stays the truth, the journal on flash
        lets the sensors place the unit after a reboot, and the sequence stops (Abort)."""
        self.r.ledger.port[uid] = port
        self.transit_unit = 0
        if self.save() is None:
            raise Abort()

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
