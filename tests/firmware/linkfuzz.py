"""Link fuzzing shared by tests/firmware/test_link.py (a few thousand frames) and `make bench`
(host_tools/upy/bench_link.py, 100 000 and more): corrupted frames at the parser, and frames with a
valid CRC whose fields, commands and values are mutated at a simulated robot. MicroPython subset."""
from simboard.rng import Rng
from railbot import link as L

BASE_LINES = ("status", "charge 5", "release 3", "cancel 7", "home", "reset", "resume", "hold", "stop",
              "reref", "jog 100", "lift 50", "grip open", "grip close", "alarms", "ledger", "help", "charge 44")


class CountingRobot:
    """A robot that only counts: the parser fuzz measures the link, not the robot."""

    def __init__(self):
        self.commands = 0
        self.emit = lambda kind, fields: None

    def command(self, line):
        self.commands += 1
        return "ok " + line


def base_frames():
    """Valid frames on the wire: requests (every command), a hello, an event, a long payload."""
    buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
    out = []
    rid = 1
    for line in BASE_LINES:
        out.append(bytes(buf[:L.encode(buf, L.T_REQUEST, rid, rid, line)]))
        rid += 1
    out.append(bytes(buf[:L.encode(buf, L.T_HELLO, rid, rid, L.HELLO)]))
    out.append(bytes(buf[:L.encode(buf, L.T_EVENT, rid + 1, 0, "request bay=5")]))
    long = "x" * (L.MAX_PAYLOAD - 10) + "?!~\x18\x02\x10\x03 end"  # every reserved byte stuffed
    out.append(bytes(buf[:L.encode(buf, L.T_REQUEST, rid + 2, rid + 2, long)]))
    return out


def _mutate(rng, frame, kind):
    """A corrupted copy of frame: 0 random bytes, 1 truncated, 2 bits flipped, 3 a byte dropped or doubled."""
    if kind == 0:
        n = 1 + rng.below(64)
        b = bytearray(n)
        for i in range(n):
            b[i] = rng.next32() & 0xFF
        return b
    if kind == 1:
        return bytearray(frame[:1 + rng.below(len(frame) - 1)])
    b = bytearray(frame)
    if kind == 2:
        for _ in range(1 + rng.below(4)):
            i = rng.below(len(b))
            b[i] ^= 1 << rng.below(8)
        return b
    i = 1 + rng.below(len(b) - 1)
    if rng.below(2):
        return b[:i] + b[i + 1:]
    return b[:i] + b[i:i + 1] + b[i:]


def frame_fuzz(count, seed=1):
    """count frames corrupted and fed to the firmware's Link parser; a clean frame after every 8 must
    still be taken (resync). Returns a dict of figures; `frames` counts the corrupted frames whose
    outcome was checked (a mutation that left its frame unchanged is not one), `asked` the count."""
    rng = Rng(seed)
    robot = CountingRobot()
    sent = [0]

    def write(data):
        sent[0] += 1

    link = L.Link(robot, write)
    parser = link.parser
    taken = []  # the body of each frame the parser hands on

    def on_frame(ftype, seq, rid, payload):
        taken.append(bytes(parser.mv[:parser.n]))
        link._on_frame(ftype, seq, rid, payload)

    parser.on_frame = on_frame
    frames = base_frames()
    bodies = []
    for f in frames:
        link.feed(f)
        bodies.append(taken.pop())
    crashes = accepted = resync_failures = unchanged = realtime = checked = 0
    for i in range(count):
        j = rng.below(len(frames))
        base = frames[j]
        bad = _mutate(rng, base, i & 3)
        corrupted = bad != base
        if not corrupted:
            unchanged += 1  # e.g. the same bit flipped twice: a valid frame, not a corrupted one
        rt = parser.realtime
        try:
            link.feed(bad)
        except Exception:
            crashes += 1
        for body in taken:  # a frame taken is right only if it is one that was sent: the bytes of a
            if body not in bodies:  # cut frame and of the next sample can by chance make its original again
                accepted += 1
        del taken[:]
        if corrupted:
            checked += 1  # a corrupted frame fed, and what the parser took from it checked
        realtime += parser.realtime - rt
        if i & 7 == 7:
            before = parser.frames
            try:
                link.feed(frames[rng.below(len(frames))])
            except Exception:
                crashes += 1
            if len(taken) != 1:
                resync_failures += 1
            del taken[:]
    return {"frames": checked, "asked": count, "crashes": crashes, "corrupt_accepted": accepted,
            "resync_failures": resync_failures,
            "unchanged": unchanged, "realtime_from_noise": realtime, "bad_frames": parser.bad_frames(),
            "noise_bytes": parser.noise}


# --- payload fuzz: valid CRC, mutated fields, commands and values, at a simulated robot -------------

_VALUES = ("0", "-1", "45", "99", "100000", "4294967296", "1e3", "5.0", "0x10", "", "five", "-0", "+3", "1_0",
           "44444444444444444444", "nan", "open", "close", "shut", "60001", "-60001", "301", "1 2")
_NOISE = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789-+._:=<>|%'\"\\/*"


def _payload_mutation(rng, line):
    """A mutated command line (str) or raw bytes (not printable ASCII)."""
    words = line.split()
    k = rng.below(10)
    if k == 0:  # a verb with a letter changed, dropped or added
        v = words[0]
        i = rng.below(len(v))
        c = _NOISE[rng.below(len(_NOISE))]
        v = (v[:i] + c + v[i + 1:]) if rng.below(2) else (v[:i] + v[i + 1:] + c)
        return " ".join([v] + words[1:])
    if k <= 3:  # an out-of-range or malformed value
        return words[0] + " " + _VALUES[rng.below(len(_VALUES))]
    if k == 4:  # too many or too few arguments
        return " ".join(words[:1] + ["7"] * (len(words) + 1)) if rng.below(2) else words[0] if len(words) > 1 \
            else words[0] + " 3 4"
    if k == 5:  # random printable text
        n = rng.below(40)
        return "".join(_NOISE[rng.below(len(_NOISE))] for _ in range(n))
    if k == 6:  # bytes that are not printable ASCII
        b = bytearray(line.encode())
        b[rng.below(len(b))] = 0x80 + rng.below(128) if rng.below(2) else rng.below(32)
        return b
    if k == 7:  # an over-long argument
        return words[0] + " " + "9" * (1 + rng.below(300))
    if k == 8:  # an empty or blank line
        return " " * rng.below(3)
    return line.upper() + " x"  # a known verb, shouted, with a stray argument


def snapshot(robot, rig):
    """What an invalid command must not change: ledger, requests, alarm, state and pending work."""
    return (robot.ledger.dump(), tuple(robot.jobs), robot.alarm, robot.alarm_detail, robot.state, robot.hold,
            robot.paused, robot.homed, robot.home_requested, robot.reref_requested, robot.stop_requested,
            robot.jog_target, robot.manual, robot.busy_bay, len(rig.events))


# the fields of a snapshot, by name
_LEDGER, _JOBS, _ALARM, _DETAIL, _STATE, _HOLD, _PAUSED, _HOMED, _HOME_REQ, _REREF_REQ, _STOP_REQ, _JOG, \
    _MANUAL, _BUSY_BAY, _EVENTS = range(15)
_READ_ONLY = ("status", "alarms", "ledger", "help", "config")  # config: `get` only (no board data file here)


def _int(text):
    try:
        return int(text)
    except ValueError:
        return None


def _ledger_states(dump):
    """{unit id: (port, state)} from ledger.dump() text."""
    out = {}
    for line in dump.split("\n"):
        if line.startswith("u") and "=" in line:
            k, v = line.split("=")
            port, state = v.split(",")
            out[int(k[1:])] = (int(port), int(state))
    return out


def accepted_effect(robot, before, after, line, reply):
    """"" if an accepted command (`ok` reply) did exactly what its reply says, from the snapshots
    before and after it (snapshot()); else what differs. The expectation is built here from the
    command line and the reply, field by field; every field the command has no business with must
    be unchanged."""
    from railbot.grammar import mm as _mm

    try:
        words = line.decode().split()
        text = reply.decode()
    except UnicodeError:
        return "accepted a line that is not text: %r -> %r" % (line, reply)
    verb = words[0].lower() if words else ""
    arg = words[1] if len(words) > 1 else ""
    want = list(before)
    if verb in _READ_ONLY:
        if verb == "status":
            state = "HOLD" if before[_HOLD] and not before[_ALARM] else before[_STATE]
            head = "ok <%s|" % state
            tail = "|alarm:%d|homed:%d|jobs:%d|" % (before[_ALARM], 1 if before[_HOMED] else 0, len(before[_JOBS]))
            if not text.startswith(head) or tail not in text:
                return "status %r does not say state %s, %s" % (text, state, tail)
    elif verb == "charge":
        bay = _int(arg)
        want[_JOBS] = before[_JOBS] + (bay,)
        want[_EVENTS] += 1
        if text != "ok charge bay %s queued at %d" % (bay, len(want[_JOBS])):
            return "%r -> %r: not bay %s at %d" % (line, text, bay, len(want[_JOBS]))
    elif verb == "cancel":
        bay = _int(arg)
        jobs = list(before[_JOBS])
        if bay in jobs:
            jobs.remove(bay)
        want[_JOBS] = tuple(jobs)
        want[_EVENTS] += 1
        if text != "ok cancelled bay %s" % bay or bay not in before[_JOBS]:
            return "%r -> %r: bay %s was not queued %r" % (line, text, bay, before[_JOBS])
    elif verb == "release":
        bay = _int(arg)
        units = _ledger_states(before[_LEDGER])
        port = robot.site.bay_port(bay) if bay is not None and 1 <= bay <= robot.site.bays else -2
        at = [u for u in units if units[u][0] == port and units[u][1] != 0]  # 0: FREE
        if len(at) != 1 or text != "ok released unit %d at bay %d" % (at[0], bay):
            return "%r -> %r: the ledger had %r at that bay's port" % (line, text, at)
        units[at[0]] = (port, 0)
        after_units = _ledger_states(after[_LEDGER])
        if after_units != units:
            return "%r -> %r: ledger %r, expected %r" % (line, text, after_units, units)
        want[_LEDGER] = after[_LEDGER]  # checked unit by unit above
        want[_EVENTS] += 1
    elif verb == "home":
        want[_HOME_REQ] = True
        if text != "ok homing" or before[_ALARM]:  # (asked again while requested: still one homing)
            return "%r -> %r with alarm %r" % (line, text, before[_ALARM])
    elif verb == "reref":
        want[_REREF_REQ] = True
        if text != "ok reref" or before[_REREF_REQ] or before[_ALARM]:
            return "%r -> %r from reref_requested %r alarm %r" % (line, text, before[_REREF_REQ], before[_ALARM])
    elif verb == "stop":
        want[_STOP_REQ], want[_JOG], want[_HOME_REQ], want[_REREF_REQ], want[_HOLD] = True, -1, False, False, False
        want[_EVENTS] += 1
        if text != "ok stopping" or before[_STOP_REQ]:
            return "%r -> %r while already stopping" % (line, text)
    elif verb == "reset":
        code = before[_ALARM]
        want[_ALARM], want[_DETAIL], want[_PAUSED], want[_STATE] = 0, "", True, "IDLE"
        want[_EVENTS] += 1
        if not code or not text.startswith("ok alarm %d cleared" % code):
            return "%r -> %r with alarm %r" % (line, text, code)
    elif verb == "hold":
        want[_HOLD] = True
        want[_EVENTS] += 1
        if text != "ok hold" or before[_HOLD]:
            return "%r -> %r while holding %r" % (line, text, before[_HOLD])
    elif verb == "resume":
        if before[_HOLD]:
            want[_HOLD] = False
            want[_EVENTS] += 1
        else:
            want[_PAUSED] = False
            if before[_STATE] == "STOP":
                want[_STATE] = "IDLE"
        if text != "ok resumed":
            return "%r -> %r" % (line, text)
    elif verb == "jog":
        mm = _int(arg)
        target = robot.enc_steps + mm * robot.x_spm if mm is not None else None
        want[_JOG] = target
        if mm is None or text != "ok jog to %s mm" % _mm(target, robot.x_spm):
            return "%r -> %r: not a jog to %s steps" % (line, text, target)
    elif verb == "lift":
        mm = _int(arg)
        want[_MANUAL] = ("lift", mm)
        if text != "ok lift %s" % mm or before[_MANUAL] is not None:
            return "%r -> %r" % (line, text)
    elif verb == "grip":
        want[_MANUAL] = ("grip", arg == "close")
        if text != "ok grip %s" % (arg == "close") or arg not in ("open", "close") or before[_MANUAL] is not None:
            return "%r -> %r" % (line, text)
    else:
        return "%r accepted (%r): not a command of the link" % (line, text)
    if tuple(want) != after:
        diff = [i for i in range(len(after)) if want[i] != after[i]]
        return "%r -> %r changed fields %r: %r, expected %r" % (
            line, text, diff, [after[i] for i in diff], [want[i] for i in diff])
    return ""


class _Replies:
    def __init__(self):
        self.frames = []
        self.parser = L.Parser(self._frame, self._rt)

    def _frame(self, ftype, seq, rid, payload):
        self.frames.append((ftype, rid, bytes(payload)))

    def _rt(self, b):
        pass

    def write(self, data):
        self.parser.feed(data)


def payload_fuzz(rig, count, seed=1):
    """count frames with a valid CRC, their type, id, length, command or value mutated, fed to a
    Link on rig's robot; every invalid one must be answered by an error (or dropped) and change
    nothing; every accepted one (an `ok` reply) must have done exactly what its reply says
    (accepted_effect). `payload_frames` counts the frames whose outcome was checked."""
    rng = Rng(seed)
    robot = rig.robot
    out = _Replies()
    link = L.Link(robot, out.write)
    buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
    body = bytearray(L.HEADER + L.MAX_PAYLOAD + 4)
    changes = valid = errors = dropped = no_reply = retried = checked = wrong = 0
    wrong_seen = []  # the first few accepted commands that did something else than their reply says
    rid = 0
    last_error_id = 0
    for i in range(count):
        line = BASE_LINES[rng.below(len(BASE_LINES))]
        ftype = L.T_REQUEST
        k = rng.below(16)
        if k == 0:  # an unknown or wrong-direction type
            ftype = (0, L.T_REPLY, L.T_EVENT, 5, L.T_REQUEST ^ 0x20, 255)[rng.below(6)]
            payload = line
        elif k == 1 and last_error_id:  # a retry of an earlier refused request: answered, not done again
            payload = line
        elif k == 15:  # the command as it is: accepted or refused by the robot's state, checked either way
            payload = line
        else:
            payload = _payload_mutation(rng, line)
        if k == 1 and last_error_id:
            use_id = last_error_id
            retried += 1
        else:
            rid = rid % 0xFFFF + 1
            use_id = rid
        if isinstance(payload, str):
            payload = payload.encode()
        n = L.encode(buf, ftype, i, use_id, payload)
        if k == 2:  # the length field changed, the CRC made valid again over the changed header
            m = _unstuff(buf, n, body)
            body[0] = (body[0] + 1 + rng.below(255)) & 0xFF
            n = L.seal(body, m - 4, buf)  # the mutated fields under a valid CRC
        before = snapshot(robot, rig)
        del out.frames[:]
        link.feed(memoryview(buf)[:n])
        replies = [f for f in out.frames if f[0] == L.T_REPLY and f[1] == use_id]
        if not replies:
            if ftype == L.T_REQUEST and k != 2:
                no_reply += 1
            dropped += 1
            if snapshot(robot, rig) != before:
                changes += 1
            checked += 1
            continue
        text = replies[-1][2]
        if text.startswith(b"ok"):
            valid += 1
            why = accepted_effect(robot, before, snapshot(robot, rig), bytes(payload), text)
            if why:
                wrong += 1
                if len(wrong_seen) < 5:
                    wrong_seen.append(why)
            checked += 1
            continue
        errors += 1
        if use_id == rid:
            last_error_id = use_id
        if snapshot(robot, rig) != before:
            changes += 1
        checked += 1
    return {"payload_frames": checked, "asked": count, "bad_payload_state_changes": changes, "valid": valid,
            "errors": errors, "dropped": dropped, "no_reply": no_reply, "retried": retried,
            "executed": link.executed, "wrong_effects": wrong, "wrong_seen": wrong_seen}


def _unstuff(wire, n, body):
    m = 0
    j = 1
    while j < n:
        b = wire[j]
        if b == L.ESC:
            j += 1
            b = wire[j] ^ 0x20
        body[m] = b
        m += 1
        j += 1
    return m
