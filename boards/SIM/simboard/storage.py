"""Storage faults on the simulated board (docs/storage.md): the record's saves during real missions
(picks and places) on any simulated flash (simboard.flash.Flash, simboard.lfs.LfsFlash), with the
power cut at every block program or erase, and with a write that fails (ENOSPC, EIO, a refused
rename) at every step of every save kind. Runs under CPython and MicroPython (the flash is given)."""
from simboard import machine
from simboard.board import RECORD
from simboard.rig import Rig, POWERCUT_UNITS
from railbot import alarms
from railbot.store import Store
from railbot.ledger import SERVING, FREE

ENOSPC = 28
EIO = 5
EEXIST = 17
BAYS = (1, 2)  # two jobs: unit 1 from D24L to B1, then from B1 to B2 (the same station's other side); each released
STEPS = 5  # the write steps of a save: create NAME.new, write the header, the payload, commit, rename
BEFORE = ("charge", "release", "pick_journal", "place_journal")  # saved before the change is acted on
AFTER = ("picked", "placed", "delivered", "job_done")  # saved after a move (or a job) already made


class Stop(Exception):
    """The host's mission stopped: a command refused, or an alarm."""


def truth(rig):
    """Every unit's physical place as the ledger writes it: a port index, or -1 carried."""
    return dict((uid, -1 if u.port is None else u.port) for uid, u in rig.plant.units.items())


def places(rig):
    """What a failed write must not change physically: each unit's port, latch and moves."""
    return [(uid, u.port, u.latched, u.moves) for uid, u in sorted(rig.plant.units.items())]


def served(robot, bay):
    """The bay's job is done: a unit at its port (serving, or released already), no request left."""
    return robot.ledger.unit_at(robot.site.bay_port(bay)) and bay not in robot.mission.jobs


def _taken(verb, reply):
    """An error that says the command was taken before (its reply lost in a power cut)."""
    if verb == "charge":
        return reply.startswith("error: bay") and "already has" in reply
    return reply.startswith("error: no unit serving")


def mission(rig, bays=BAYS, acked=None):
    """The host's side: charge each bay, wait until it is served, release it. A command whose reply
    was `ok` is in acked and is not sent again; after a reset the host sends again what got no reply
    (an error saying it was taken before counts as taken). Stop on a refusal or an alarm."""
    acked = [] if acked is None else acked
    for bay in bays:
        for verb in ("charge", "release"):
            if (verb, bay) in acked:
                continue
            if verb == "release":
                robot = rig.robot
                rig.until(lambda: served(robot, bay) or robot.alarm, 600)
                if robot.alarm:
                    raise Stop("alarm %d %s" % (robot.alarm, robot.alarm_detail))
            reply = rig.cmd("%s %d" % (verb, bay))
            if not (reply.startswith("ok") or _taken(verb, reply)):
                raise Stop(reply)
            acked.append((verb, bay))
    robot = rig.robot
    rig.until(lambda: not robot.mission.jobs or robot.alarm, 600)
    if robot.alarm:
        raise Stop("alarm %d %s" % (robot.alarm, robot.alarm_detail))
    return acked


def done(rig, bays=BAYS):
    """What is wrong at the mission's end ([]: every bay served and released, the ledger true)."""
    robot, bad = rig.robot, []
    if robot.mission.jobs:
        bad.append("requests left %r" % robot.mission.jobs)
    if robot.ledger.port != truth(rig):
        bad.append("ledger %r, units at %r" % (robot.ledger.port, truth(rig)))
    if [u for u in robot.ledger.state if robot.ledger.state[u] != FREE]:
        bad.append("units not free: %s" % robot.command("ledger"))
    for bay in bays:
        if not [1 for k, f in rig.events if k == "delivered" and f[0] == ("bay", bay)]:
            bad.append("bay %d never served" % bay)
    if rig.plant.violations:
        bad.append("%r" % rig.plant.violations)
    if robot.alarm:
        bad.append("alarm %d %s" % (robot.alarm, robot.alarm_detail))
    return bad


def recover(rig, bays, acked):
    """After a reset: reset, home if the position is lost, resume, and finish the mission."""
    robot = rig.robot
    if robot.alarm:
        reply = rig.cmd("reset")
        if not reply.startswith("ok"):
            raise Stop("reset: " + reply)
    if not robot.homed:
        if not rig.cmd("home").startswith("ok"):
            raise Stop("home refused")
        rig.until(lambda: robot.homed or robot.alarm, 900)
    rig.cmd("resume")
    mission(rig, bays, acked)


# --- power cuts ---------------------------------------------------------------------------------------

def powercut_ops(make_flash, bays=BAYS):
    """The flash's write operations (flash.steps: block programs and erases on LfsFlash) of the
    mission without a cut."""
    rig = Rig(units=POWERCUT_UNITS, flash=make_flash())
    s0 = rig.board.flash.steps
    mission(rig, bays)
    bad = done(rig, bays)
    if bad:
        raise AssertionError("the mission without a cut: %s" % bad)
    return rig.board.flash.steps - s0


def powercut_case(make_flash, k, torn=False, bays=BAYS):
    """Cut the power at the k-th write operation of the mission (torn: half applied), reboot: the
    ledger must be every unit's physical place before anything moves, no alarm; then home and
    finish. The failures ([]: passed)."""
    rig = Rig(units=POWERCUT_UNITS, flash=make_flash())
    name = "op %d%s" % (k, " torn" if torn else "")
    if torn:
        rig.board.flash.cut_after(k, True)
    else:
        rig.board.flash.cut_after(k)
    acked = []
    try:
        mission(rig, bays, acked)
        return ["%s: no power cut" % name]
    except machine.BoardReset:
        pass
    except (Stop, AssertionError) as e:
        return ["%s: before the cut: %s" % (name, e.args[0] if e.args else e)]
    units = truth(rig)
    robot = rig.reboot()
    bad = []
    if robot.ledger.port != units:
        bad.append("%s: ledger %r after reboot, units at %r" % (name, robot.ledger.port, units))
    if robot.alarm:
        return bad + ["%s: alarm %d %s after reboot" % (name, robot.alarm, robot.alarm_detail)]
    try:
        recover(rig, bays, acked)
    except (Stop, AssertionError) as e:
        return bad + ["%s: after reboot: %s" % (name, e.args[0] if e.args else e)]
    return bad + ["%s: %s" % (name, b) for b in done(rig, bays)]


def powercut_campaign(make_flash, torn=(False, True), bays=BAYS, stride=1):
    """(cases, failed cases, failure texts): a cut at every stride-th write operation, once for each
    of `torn`."""
    bad, cases, failed = [], 0, 0
    for k in range(1, powercut_ops(make_flash, bays) + 1, stride):
        for t in torn:
            cases += 1
            b = powercut_case(make_flash, k, t, bays)
            failed += 1 if b else 0
            bad += b
    return cases, failed, bad


# --- failed writes ------------------------------------------------------------------------------------

def _fields(text):
    """A record's text -> (ledger {uid: (port, state)}, jobs list, (transit unit, to))."""
    led, jobs, transit = {}, [], (0, 0)
    for line in text.split("\n"):
        if line.startswith("j="):
            jobs = [int(b) for b in line[2:].split(",") if b]
        elif line.startswith("t="):
            u, d = line[2:].split(",")
            transit = (int(u), int(d))
        elif line[:1] == "u" and "=" in line:
            p, s = line[line.index("=") + 1:].split(",")
            led[int(line[1:line.index("=")])] = (int(p), int(s))
    return led, jobs, transit


def save_kind(old, new):
    """What a save records, from the record before it and its own text: one of BEFORE or AFTER."""
    lo, jo, to = _fields(old)
    ln, jn, tn = _fields(new)
    if len(jn) > len(jo):
        return "charge"
    if len(jn) < len(jo):
        return "job_done"
    if tn[0] and not to[0]:
        return "pick_journal" if tn[1] == -1 else "place_journal"
    if to[0] and not tn[0]:
        return "picked" if ln[to[0]][0] == -1 else "placed"
    for uid in ln:
        if ln[uid][1] != lo[uid][1]:
            return "delivered" if ln[uid][1] == SERVING else "release"
    return "other"


class _Spy:
    """Wraps the robot's Store.save: arms the fault at the save numbered `at` (1-based), and keeps
    the text of the last save that succeeded, the failed one's, and what the flash held after it."""

    def __init__(self, rig, at, step, code, what):
        store = rig.robot.record.store
        self.rig, self.store, self.orig = rig, store, store.save
        self.at, self.step, self.code, self.what = at, step, code, what
        self.ops = []  # the flash's write operations (flash.steps) each save took
        self.saves = 0
        self.good = None  # the text of the last save that succeeded (None: the board data's)
        self.failed = None  # the text whose save failed
        self.prior = None  # the last save's text before it
        self.raised = None
        self.flash_after = None  # the record on flash right after the failed save
        self.places = None
        self.texts = []
        store.save = self.save

    def save(self, text):
        self.saves += 1
        flash = self.rig.board.flash
        if self.saves == self.at and self.code:
            flash.fail_after(self.step, self.code, self.what)
            self.places = places(self.rig)
        s0 = flash.steps
        try:
            self.orig(text)
        except OSError as e:
            self.failed, self.raised, self.prior = text, e.args[0], self.good
            self.flash_after = Store(flash, RECORD).load()
            raise
        finally:
            if self.saves == self.at:
                flash.fail_after(None)
        self.ops.append(flash.steps - s0)
        self.texts.append(text)
        self.good = text


def fault_saves(make_flash, bays=BAYS):
    """The mission's saves without a fault: (their texts (kinds: save_kind), the flash write
    operations each took)."""
    rig = Rig(units=POWERCUT_UNITS, flash=make_flash())
    spy = _Spy(rig, 0, 0, 0, None)
    mission(rig, bays)
    bad = done(rig, bays)
    if bad:
        raise AssertionError("the mission without a fault: %s" % bad)
    return spy.texts, spy.ops


def storage_fault_case(make_flash, at, step, code, what=None, bays=BAYS):
    """A write that fails at the `step`-th write step of the mission's save number `at` (with code;
    what="rename": the save's rename). Returns (kind, state changes after the failed write, the
    failures: [] when handled). A rename refused with EEXIST is what FAT does: the store removes
    NAME and renames again, so that save succeeds and the mission goes on without an alarm."""
    rig = Rig(units=POWERCUT_UNITS, flash=make_flash())
    robot = rig.robot
    first = robot.record.text()
    spy = _Spy(rig, at, step, code, what)
    name = "save %d step %d errno %d%s" % (at, step, code, " (rename)" if what else "")
    acked, reply = [], ""
    try:
        mission(rig, bays, acked)
    except Stop as e:
        reply = e.args[0]
    except AssertionError as e:  # a task crash (Rig._no_crash), or the mission did not go on
        return "?", 0, ["%s: %s" % (name, e.args[0] if e.args else e)]
    except OSError as e:  # out of a command: no reply at all, and whatever it changed stays changed
        return "?", 1, ["%s: the command raised OSError %s" % (name, e.args[0])]
    if code == EEXIST:
        bad = ["%s: %s" % (name, b) for b in done(rig, bays)]
        if spy.failed is not None:
            bad.append("%s: the save failed (errno %d), the store did not remove and rename" % (name, spy.raised))
        return "rename_eexist", 0, bad
    if spy.failed is None:
        return "?", 0, ["%s: no write failed (%d saves)" % (name, spy.saves)]
    kind = save_kind(spy.prior if spy.prior is not None else first, spy.failed)
    bad, changes = [], 0
    rig.until(lambda: not robot.x.busy() and not robot.z.busy() and robot.state == "ALARM", 60)
    at_rest = places(rig)
    rig.run(20)  # the robot stays where it stopped
    if robot.alarm != alarms.STORAGE_FAULT:
        bad.append("%s (%s): alarm %d, not STORAGE_FAULT" % (name, kind, robot.alarm))
    if spy.flash_after != spy.prior:
        changes += 1
        bad.append("%s (%s): the record on flash changed by the failed write" % (name, kind))
    if places(rig) != at_rest:
        changes += 1
        bad.append("%s (%s): a unit moved after the alarm" % (name, kind))
    if robot.ledger.port != truth(rig):
        bad.append("%s (%s): ledger %r, units at %r" % (name, kind, robot.ledger.port, truth(rig)))
    if kind in BEFORE:
        if robot.record.text() != (spy.prior if spy.prior is not None else first):
            changes += 1
            bad.append("%s (%s): the refused change is in RAM: %r, saved %r" % (name, kind, robot.record.text(), spy.prior))
        if places(rig) != spy.places:
            changes += 1
            bad.append("%s (%s): a unit moved after the failed journal" % (name, kind))
        if kind in ("charge", "release") and not reply.startswith("error: not saved"):
            bad.append("%s (%s): the command's reply %r" % (name, kind, reply))
    elif kind not in AFTER:
        bad.append("%s: a save of an unexpected kind (%s)" % (name, kind))
    try:
        recover(rig, bays, acked)
    except (Stop, AssertionError) as e:
        bad.append("%s (%s): after reset: %s" % (name, kind, e.args[0] if e.args else e))
    bad += ["%s (%s): %s" % (name, kind, b) for b in done(rig, bays)]
    return kind, changes, bad


def storage_fault_campaign(make_flash, codes=(ENOSPC, EIO), bays=BAYS, stride=1):
    """Every stride-th (save, step, code) of the mission, and a refused rename (EEXIST) at each save.
    Returns (cases, state changes after a failed write, failed cases, failure texts, {kind: cases})."""
    texts, ops = fault_saves(make_flash, bays)
    cases = changes = failed = 0
    bad, kinds = [], {}
    plan = []
    for at in range(1, len(texts) + 1):
        for step in range(1, STEPS + 1):
            for code in codes:
                plan.append((at, step, code, None))
        plan.append((at, 1, EEXIST, "rename"))
    for i in range(0, len(plan), stride):
        at, step, code, what = plan[i]
        kind, c, b = storage_fault_case(make_flash, at, step, code, what, bays)
        cases += 1
        changes += c
        failed += 1 if b else 0
        bad += b
        kinds[kind] = kinds.get(kind, 0) + 1
    return cases, changes, failed, bad, kinds
