"""The command table: one line in, one reply line out (`ok ...` or `error: ...`), the same for the
console, the simulator and the host link. Arguments are read by railbot/grammar.py; an error names
the argument and changes nothing."""
import time
from micropython import const
from railbot import alarms, interlock, ledger, supervisor as sv
from railbot.grammar import mm, number, words, shown, printable

# argument kinds: what the grammar reads before the handler runs (module imports and const() keep
# this module's globals few: each costs heap on the board, frozen or not)
_BAY = const(1)  # a bay number 1..bays
_MM = const(2)  # whole millimetres, signed (jog: the sign is the direction)
_WORD = const(3)  # a plain word the handler checks
_ANY = const(-1)  # the handler reads its own words (config)


def run(r, line):
    """One command line -> one reply line; an error changes nothing."""
    w = words(line)
    if not w:
        return "error: empty command (try help)"
    verb = w[0]
    entry = TABLE.get(verb)
    if entry is None:  # `STATUS` too; no verb has a letter whose lower() differs between ports
        verb = verb.lower()
        entry = TABLE.get(verb)
        if entry is None:
            return "error: unknown command %s (try help)" % shown(w[0])
    fn, kinds = entry
    if kinds == _ANY:
        return fn(r, w[1:])
    if len(w) - 1 != len(kinds):
        n = len(kinds)
        return "error: %s takes %d argument%s, got %d" % (verb, n, "" if n == 1 else "s", len(w) - 1)
    if not kinds:
        return fn(r)
    try:  # no verb takes more than one argument the grammar reads
        arg = _read(r, verb, kinds[0], w[1])
    except ValueError as e:  # only _read raises it here
        return e.args[0]
    return fn(r, arg)


def _read(r, verb, kind, text):
    """One argument by its kind: its value, or ValueError with the error line that names it."""
    if kind == _WORD:
        return text
    n = number(text)
    if kind == _BAY:
        bays = r.site.bays
        if n is None:
            raise ValueError("error: bay must be a number 1..%d, got %s" % (bays, shown(text)))
        if not 1 <= n <= bays:
            raise ValueError("error: bay %d out of range 1..%d" % (n, bays))
        return n
    if n is None:  # _MM
        if verb == "jog":
            raise ValueError("error: jog takes whole millimetres, e.g. jog -250, got %s" % shown(text))
        raise ValueError("error: %s takes whole millimetres 0..%d, got %s" % (verb, r.cfg["z"]["travel_mm"], shown(text)))
    return n


def _alarm_active(r):
    return "error: alarm %d %s active: reset first" % (r.sup.alarm, alarms.name(r.sup.alarm))


def _not_saved(r):
    """The reply of a command whose record could not be written: it changed nothing."""
    return "error: not saved, nothing changed: alarm %d STORAGE_FAULT (%s)" % (alarms.STORAGE_FAULT, r.record.fault)


def charge(r, bay):
    m, led = r.mission, r.ledger
    if bay in m.jobs:
        return "error: bay %d already has a request" % bay
    uid = led.unit_at(r.site.bay_port(bay))
    if uid and led.state[uid] == ledger.SERVING:
        return "error: bay %d already has unit %d" % (bay, uid)
    m.jobs.append(bay)
    saved = r.record.save()
    if saved is None:
        m.jobs.pop()
        return _not_saved(r)
    r.emit("request", (("bay", bay),))
    r.sup.wake.set()
    return "ok charge bay %d queued at %d%s" % (bay, len(m.jobs), "" if saved else ", saved at the next stop")


def release(r, bay):
    led = r.ledger
    uid = led.unit_at(r.site.bay_port(bay))
    if not uid or led.state[uid] == ledger.FREE:
        return "error: no unit serving bay %d" % bay
    was = led.state[uid]
    led.state[uid] = ledger.FREE
    if r.record.save() is None:
        led.state[uid] = was
        return _not_saved(r)
    r.emit("released", (("bay", bay), ("unit", uid)))
    r.sup.wake.set()
    return "ok released unit %d at bay %d" % (uid, bay)


def cancel(r, bay):
    m = r.mission
    if bay not in m.jobs:
        return "error: no request for bay %d" % bay
    if bay == m.busy_bay:
        return "error: bay %d is being served now" % bay
    i = m.jobs.index(bay)
    m.jobs.pop(i)
    if r.record.save() is None:
        m.jobs.insert(i, bay)
        return _not_saved(r)
    r.emit("cancelled", (("bay", bay),))
    return "ok cancelled bay %d" % bay


def home(r):
    sup, m = r.sup, r.mission
    if sup.alarm:
        return _alarm_active(r)
    if m.busy_bay or sup.state in (sv.HOME, sv.REREF) or m.reref_requested:
        return "error: busy"
    m.home_requested = True
    sup.wake.set()
    return "ok homing"


def reref(r):
    sup, m = r.sup, r.mission
    if sup.alarm:
        return _alarm_active(r)
    if not r.carriage.referenced:
        return "error: not homed since boot: home first"
    if m.busy_bay or sup.state in (sv.HOME, sv.REREF, sv.JOG) or m.home_requested or m.reref_requested:
        return "error: busy"
    m.reref_requested = True
    sup.wake.set()
    return "ok reref"


def stop(r):
    sup, m = r.sup, r.mission
    if sup.alarm:
        return "error: alarm active"
    if sup.stop_requested:
        return "error: already stopping"
    if not (m.busy_bay or sup.state in (sv.HOME, sv.REREF, sv.JOG) or m.jog_target >= 0
            or m.home_requested or m.reref_requested):
        return "error: nothing to stop"
    sup.stop_requested = True
    m.jog_target = -1
    m.home_requested = m.reref_requested = False
    sup.hold = False  # a held move is abandoned too
    r.emit("stop", ())
    sup.wake.set()
    return "ok stopping"


def reset(r):
    sup = r.sup
    if not sup.alarm:
        return "error: no alarm to reset"
    why = sup.inputs_clear()
    if why:
        return "error: " + why
    code = sup.alarm
    if code == alarms.STORAGE_FAULT or code == alarms.LEDGER_INVALID:
        # STORAGE_FAULT: the ledger in RAM is the truth, the record on flash may lag it; LEDGER_INVALID:
        # the technician has checked the units. Either way the ledger as it stands replaces the record,
        # and the alarm stays while that write fails
        sup.alarm = 0
        if r.record.save() is None:  # STORAGE_FAULT stands again
            return "error: the record still cannot be written (%s)" % r.record.fault
    sup.alarm = 0
    sup.alarm_detail = ""
    r.hw.safety[0] = 0  # the e-stop's and the limits' latches: their inputs are clear now
    sup.paused = True
    sup.state = sv.IDLE
    r.emit("reset", (("code", code),))
    return "ok alarm %d cleared; %s" % (code, "home or reref to continue" if not r.carriage.homed else "resume to continue")


def hold(r):
    sup = r.sup
    if sup.alarm:
        return "error: alarm active"
    if sup.hold:
        return "error: already holding"
    sup.hold = True
    sup.hold_started_ms = time.ticks_ms()
    r.emit("hold", ())
    return "ok hold"


def resume(r):
    sup = r.sup
    if sup.alarm:
        return "error: alarm active: reset first"
    if sup.hold:
        sup.hold = False
        r.emit("resume", ())
        sup.wake.set()
        return "ok resumed"
    if not r.carriage.homed:
        return "error: position not established: home (or reref) first"
    if sup.stop_requested:
        return "error: still stopping"
    sup.paused = False
    if sup.state == sv.STOP:
        sup.state = sv.IDLE
    sup.wake.set()
    return "ok resumed"


def jog(r, dist_mm):
    sup, m, c = r.sup, r.mission, r.carriage
    if sup.alarm or not c.homed:
        return "error: jog needs a homed robot without alarm"
    if m.busy_bay or c.moving or m.jog_target >= 0 or sup.hold or sup.paused:
        return "error: busy"
    if interlock.traverse(r.hw, c.z.busy()):
        return "error: refused, " + interlock.why[0]
    travel = r.cfg["x"]["travel_mm"]
    target = c.enc_steps + dist_mm * c.x_spm
    if dist_mm == 0 or not 0 <= target <= travel * c.x_spm:
        return "error: jog %d mm would end at %s mm, outside 0..%d" % (dist_mm, mm(target, c.x_spm), travel)
    m.jog_target = target
    sup.wake.set()
    return "ok jog to %s mm" % mm(target, c.x_spm)


def _manual(r, verb, arg, code):
    """A technician's lift or grip action: refused while anything else runs, or by its interlock."""
    sup, m, c = r.sup, r.mission, r.carriage
    if sup.alarm:
        return "error: alarm active: reset first"
    if code:
        return "error: refused, " + interlock.why[0]
    if m.manual is not None or c.moving or c.x.busy() or c.z.busy() or m.jog_target >= 0 \
            or (m.busy_bay and not sup.paused):
        return "error: busy"
    m.manual = (verb, arg)
    sup.wake.set()
    return "ok %s %s" % (verb, arg)


def lift(r, to_mm):
    c, travel = r.carriage, r.cfg["z"]["travel_mm"]
    if not 0 <= to_mm <= travel:
        return "error: lift %d mm outside 0..%d" % (to_mm, travel)
    if not c.referenced:
        return "error: the lift is not homed: home first"
    to = to_mm * c.z_spm
    return _manual(r, "lift", to_mm, interlock.lift(r.hw, c.x.busy(), to > c.z.pos and to > c.z_clear))


def grip(r, word):
    if word not in ("open", "close"):
        return "error: grip takes open or close, got %s" % shown(word)
    close = word == "close"
    return _manual(r, "grip", close, 0 if close else interlock.open_jaws(r.hw))


def status(r):
    sup, c = r.sup, r.carriage
    return "ok <%s|x:%s|z:%s|alarm:%d|homed:%d|jobs:%d|carry:%d>" % (
        "HOLD" if sup.hold and not sup.alarm else sup.state, mm(c.enc_steps, c.x_spm), mm(c.z.pos, c.z_spm),
        sup.alarm, 1 if c.homed else 0, len(r.mission.jobs), r.ledger.carried())


def alarm_table(r):
    return alarms.REPLY


def config(r, args):
    """`config get KEY` (the running value, and the saved one if a `set` changed it) or
    `config set KEY VALUE` (validated as a whole, written to the board data file, used from the
    next reset; only at rest)."""
    from railbot import config as cf

    if len(args) == 2 and args[0] == "get":
        key = args[1]
        try:
            v = cf.lookup(r.cfg, key)
        except KeyError:
            return "error: config: no key %s" % shown(key)
        saved = v
        if r.cfg_path is not None:
            try:
                saved = cf.lookup(cf.load_robot(r.cfg_path), key)
            except (cf.ConfigError, KeyError):
                pass
        if saved != v:
            return "ok %s=%s (saved %s, used from the next reset)" % (key, repr(v), repr(saved))
        return "ok %s=%s" % (key, repr(v))
    if len(args) == 3 and args[0] == "set":
        key, text = args[1], args[2]
        sup = r.sup
        if r.cfg_path is None:
            return "error: config set: this robot was not started from a board data file"
        if not printable(key) or not printable(text):
            return "error: config set: KEY and VALUE are printable ASCII, got %s %s" % (shown(key), shown(text))
        if sup.state != sv.IDLE and sup.state != sv.ALARM or r.mission.jobs:
            return "error: config set: only at rest (state %s, %d jobs)" % (sup.state, len(r.mission.jobs))
        if r.carriage.x.busy() or r.carriage.z.busy():  # an alarm's ramp-down: a flash write would starve the ring
            return "error: config set: only at rest (the carriage is still moving)"
        try:
            new = cf.with_value(cf.load_robot(r.cfg_path), key, text, r.cfg_path)
            cf.save_robot(new, r.cfg_path)
        except cf.ConfigError as e:
            return "error: config set: %s" % e
        return "ok %s=%s saved to %s, used from the next reset" % (key, repr(cf.lookup(new, key)), r.cfg_path)
    return "error: config get KEY | config set KEY VALUE"


def show_ledger(r):
    return "ok " + r.ledger.describe()


def help_(r):
    return "ok commands: " + " ".join(sorted(TABLE))


def build(r):
    """What firmware this is: railbot/build_id.py, frozen into the image or written by
    `railbot deploy`. Imported only when asked: a few short strings (frozen: in flash)."""
    try:
        from railbot import build_id
    except ImportError:
        return "ok build none (firmware from source)"
    return "ok build src=%s tree=%s commit=%s board=%s image=%s" % (
        getattr(build_id, "SRC", build_id.TREE), build_id.TREE, getattr(build_id, "COMMIT", "unknown"),
        build_id.BOARD, getattr(build_id, "IMAGE", "deployed"))


# verb: (handler, the kinds of its arguments)
TABLE = {
    "charge": (charge, (_BAY,)),
    "release": (release, (_BAY,)),
    "cancel": (cancel, (_BAY,)),
    "home": (home, ()),
    "reset": (reset, ()),
    "resume": (resume, ()),
    "hold": (hold, ()),
    "stop": (stop, ()),
    "reref": (reref, ()),
    "jog": (jog, (_MM,)),
    "lift": (lift, (_MM,)),
    "grip": (grip, (_WORD,)),
    "status": (status, ()),
    "alarms": (alarm_table, ()),
    "ledger": (show_ledger, ()),
    "help": (help_, ()),
    "build": (build, ()),
    "config": (config, _ANY),
}
