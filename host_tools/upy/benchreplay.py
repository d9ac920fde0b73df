"""The replay layer of the tick measurement (bench_tick.py): snapshots of the firmware's objects
(benchsim.fw_objects finds them), and the simulated hardware swapped for recorders and then for fakes that replay what it returned, allocating nothing. MicroPython subset.

Why a replay: the real tick runs against the simulated hardware, whose Python code may allocate (a
step FIFO list that grows, a boxed 32-bit count). So consecutive real ticks are recorded at the
machine/rp2 level (every Pin, StateMachine, UART, WDT, PWM, ADC, DMA call, and the firmware's
`time`), then replayed through preallocated fakes; the replay must end in exactly the state the
real ticks ended in, and it is what is measured (allocation, heap_lock, time).
"""
import sys

from benchlib import note, real_ticks_add, real_ticks_diff
from benchsim import attrs, hw_objects


def time_users():
    """Firmware modules holding the (virtual) `time` module as a global."""
    vt = sys.modules.get("time")
    mods = []
    for name in sorted(sys.modules):
        if name.startswith("railbot"):
            m = sys.modules[name]
            if getattr(m, "time", None) is vt:
                mods.append(m)
            for fn in ("ticks_us", "ticks_ms", "ticks_cpu"):
                if getattr(m, fn, None) is not None and getattr(m, fn) is getattr(vt, fn, 0):
                    note("%s imports time.%s directly: not replayed" % (name, fn))
    return mods


def snapshot(objs):
    """Values of every scalar attribute, contents of every list/bytearray/array attribute."""
    snap = []
    for o in objs:
        d = attrs(o)
        for k in sorted(d):
            v = d[k]
            if v is None or isinstance(v, (int, bool, str, float, tuple)):
                snap.append((o, k, v, False))
            elif isinstance(v, list):
                snap.append((o, k, v[:], True))
            elif isinstance(v, bytearray):
                snap.append((o, k, bytearray(v), True))
            elif type(v).__name__ == "array":  # the planner's per-word positions (Axis.starts/ends)
                snap.append((o, k, v[:], True))
    return snap


def restore(snap):
    for o, k, v, contents in snap:
        if contents:
            cur = getattr(o, k)
            cur[:] = v
        else:
            setattr(o, k, v)


def same_state(a, b):
    """The attributes of snapshot b that differ from a: [] when equal."""
    diff = []
    for i in range(len(a)):
        oa, ka, va, _ = a[i]
        ob, kb, vb, _ = b[i]
        if ka != kb or va != vb:
            diff.append("%s.%s: %r != %r" % (type(oa).__name__, ka, va, vb))
    if len(a) != len(b):
        diff.append("snapshot sizes %d != %d" % (len(a), len(b)))
    return diff


class Recorder:
    """Stands in for a simulated hardware object (or the `time` module): forwards, records results."""

    stand_in = True  # benchsim.fw_objects: a hardware object, not the firmware's

    def __init__(self, real, log):
        self._real = real
        self._log = log

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr):
            if name in RECORDED_ATTRS:  # a register read through an attribute (DMA.count)
                self._log.append((name, (), attr, None))
            return attr
        log = self._log

        def call(*a, **kw):
            r = attr(*a, **kw)
            data = None
            if name == "readinto" and r:
                data = bytes(a[0][:r])
            # keyword calls (DMA.config) are logged with their values in key order
            log.append((name, a or tuple(kw[k] for k in sorted(kw)), r, data))
            return r

        return call

    def __call__(self, *a):
        r = self._real(*a)
        self._log.append(("__call__", a, r, None))
        return r


_NA = object()  # "no argument": for a fake's checked value when none is passed, and the part wrappers

# The methods a fake replays, one slot each, with what each returns once a replay has run past
# its recording (counted in `diverged`). The slot constants follow the same order.
FAKE_METHODS = (("value", 0), ("__call__", 0), ("on", None), ("off", None), ("feed", None),
                ("tx_fifo", 0), ("rx_fifo", 0), ("get", 0), ("put", None), ("active", 0), ("any", 0),
                ("readinto", None), ("read_u16", 0), ("duty_ns", 0), ("duty_u16", 0), ("ticks_us", 0),
                ("ticks_ms", 0), ("ticks_cpu", 0), ("irq", None), ("exec", None), ("config", None), ("count", 0),
                ("read", 0))
(VALUE, CALL, ON, OFF, FEED, TX_FIFO, RX_FIFO, GET, PUT, ACTIVE, ANY, READINTO, READ_U16, DUTY_NS, DUTY_U16,
 TICKS_US, TICKS_MS, TICKS_CPU, IRQ, EXEC, CONFIG, COUNT, READ) = range(len(FAKE_METHODS))
RECORDED_ATTRS = ("count", "read")  # DMA registers read as attributes
_SLOT = {}
for _s in range(len(FAKE_METHODS)):
    _SLOT[FAKE_METHODS[_s][0]] = _s
    assert globals()[FAKE_METHODS[_s][0].strip("_").upper()] == _s, "FAKE_METHODS and slots out of order"
_PAST = tuple(m[1] for m in FAKE_METHODS)


class Fake:
    """Replays what one hardware object returned during the recorded ticks; allocates nothing.

    Every method is one slot of preallocated lists: `_next` hands out the slot's next recorded
    result, and a written value (put, exec, value(v), duty, active) that differs from the recorded
    one is counted in `mismatch`.
    """

    stand_in = True  # benchsim.fw_objects: a hardware object, not the firmware's

    def __init__(self, log, name):
        self.name = name
        self.mismatch = 0
        self.diverged = 0
        by = [None] * len(FAKE_METHODS)
        self.methods = []
        for m, a, r, data in log:
            if m in ("ticks_diff", "ticks_add"):
                continue  # pure functions: the real ones are used
            s = _SLOT.get(m)
            if s is None:
                raise ValueError("bench replay: %s.%s() has no fake; add it to benchreplay.Fake" % (name, m))
            if by[s] is None:
                by[s] = []
                self.methods.append(m)
            by[s].append((a, r, data))
        calls = [c or () for c in by]
        self.i = [0] * len(calls)  # per slot: next call, calls recorded, first arguments, results
        self.n = [len(c) for c in calls]
        self.args = [tuple(x[0][0] if x[0] else None for x in c) for c in calls]
        self.rets = [tuple(x[1] for x in c) for c in calls]
        self.data = tuple(x[2] for x in calls[READINTO])  # the bytes each readinto() delivered

    def reset(self):
        for s in range(len(self.i)):
            self.i[s] = 0

    def _next(self, s, v=_NA):
        i = self.i[s]
        if i >= self.n[s]:
            self.diverged += 1
            return _PAST[s]
        self.i[s] = i + 1
        if v is not _NA and v != self.args[s][i]:
            self.mismatch += 1
        return self.rets[s][i]

    def value(self, v=_NA):
        return self._next(VALUE, v)

    def __call__(self, v=_NA):
        return self._next(CALL, v)

    def on(self):
        return self._next(ON)

    def off(self):
        return self._next(OFF)

    def feed(self):
        return self._next(FEED)

    def tx_fifo(self):
        return self._next(TX_FIFO)

    def rx_fifo(self):
        return self._next(RX_FIFO)

    def get(self, buf=None, shift=0):
        return self._next(GET)

    def put(self, value, shift=0):
        return self._next(PUT, value)

    def active(self, on=_NA):
        return self._next(ACTIVE, on)

    def any(self):
        return self._next(ANY)

    def readinto(self, buf, nbytes=-1):
        r = self._next(READINTO)
        if r:
            data = self.data[self.i[READINTO] - 1]
            for j in range(r):
                buf[j] = data[j]
        return r

    def read_u16(self):
        return self._next(READ_U16)

    def duty_ns(self, ns=_NA):
        return self._next(DUTY_NS, ns)

    def duty_u16(self, d=_NA):
        return self._next(DUTY_U16, d)

    def irq(self, handler=None, trigger=0, hard=False):
        return self._next(IRQ)

    def exec(self, instr):
        return self._next(EXEC, instr)

    def ticks_us(self):
        return self._next(TICKS_US)

    def ticks_ms(self):
        return self._next(TICKS_MS)

    def ticks_cpu(self):
        return self._next(TICKS_CPU)

    def config(self, read=_NA, write=_NA, count=_NA, ctrl=_NA, trigger=_NA):
        return self._next(CONFIG, count)  # logged in key order: count comes first

    @property
    def count(self):
        return self._next(COUNT)

    @property
    def read(self):
        return self._next(READ)


class Replay:
    """Swaps the firmware's hardware objects (and its `time`) for recorders, then for fakes."""

    def __init__(self, robot):
        self.robot = robot
        self.slots = []  # (owner, attribute, real object, log): one log per real object
        logs = {}
        objs = hw_objects(robot) + [(m, "time", m.time) for m in time_users()]
        for owner, k, real in objs:
            log = logs.get(id(real))
            if log is None:
                log = logs[id(real)] = []
            self.slots.append((owner, k, real, log))
        self.fakes = []

    def _install(self, make):
        """Hold make(owner, attribute, real, log) in place of each real object, one per object."""
        made = {}
        for owner, key, real, log in self.slots:
            o = made.get(id(real))
            if o is None:
                o = made[id(real)] = make(owner, key, real, log)
            setattr(owner, key, o)

    def record(self):
        self._install(lambda owner, k, real, log: Recorder(real, log))

    def fake(self):
        self._install(self._new_fake)

    def _new_fake(self, owner, k, real, log):
        f = Fake(log, "%s.%s" % (type(owner).__name__, k))
        if k == "time":
            f.ticks_diff = real_ticks_diff  # pure functions: the board's own
            f.ticks_add = real_ticks_add
        self.fakes.append(f)
        return f

    def rewind(self, snap):
        """Back to the state of snap, every fake at its first recorded call."""
        restore(snap)
        for f in self.fakes:
            f.reset()

    def faults(self):
        m = d = 0
        for f in self.fakes:
            m += f.mismatch
            d += f.diverged
        return m, d

    def real(self):
        for owner, k, real, log in self.slots:
            setattr(owner, k, real)


def value_of(snap, obj, name):
    """The value snap holds for obj.name (-1 when it holds none)."""
    for o, k, v, _ in snap:
        if o is obj and k == name:
            return v
    return -1

