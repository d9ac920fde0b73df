"""The MicroPython side of `railbot bench`: heap, allocation and tick cost of the firmware on the SIM board.

Runs under MicroPython's WebAssembly port, driven step by step by host_tools/upy/bench.mjs, with
the firmware imported from .mpy files; the `day` phase also runs under CPython for comparison
(`python bench_upy.py --board DIR day`). MicroPython subset only.

    bench_upy.py --board DIR [--seed N] [--hours H] [--short N] PHASE...

PHASE is `heap` (firmware heap once built and homed), `tick` (allocation and cost of one control
tick mid-traverse; reuses the robot of `heap`), `day` (heap growth over a simulated day, and
its wall time), `segment` (cost, allocation and heap_lock proof of planning one step word) or
`grip` (allocation and heap_lock proof of the DC gripper's loop steps).
Output: one `BENCH name value` line per figure and `NOTE ...` lines for the
reader; anything else on stdout is ignored by the host (railbot_host.bench).

The port collects garbage only at the top level (gc.collect() just asks for it), so the script
is a generator, `steps(argv)`: bench.mjs calls `step()` once per top-level call and a step that
yields GC has gc.collect() done when it returns. Heap figures are read at the start of the next
step; allocation figures are mem_alloc() differences inside one step, where nothing is freed.

How the simulation's own costs are kept out:
- heap: the SimBoard alone is the baseline; the firmware's `config` module, which the SimBoard
  imports for itself, is measured on its own and counted as firmware, and the robot loads its
  own board data as main.py does. Sim containers that keep the capacity of their busiest moment
  (scheduler heap, step FIFOs, marker bytes, violations, the day's waiting cars) are compacted,
  and the plant's random state (a boxed int 3 times in 4) is held unboxed at every reading. The
  simulated asyncio's one shared StopIteration grows a traceback entry (12 bytes) per sleep: it
  is replaced by a fresh one at every reading. This script's own dead stack slots are overwritten
  (_scrub) before readings, as MicroPython's GC scans a suspended generator's whole state.
- garbage: the GC is conservative, here as on a board: any raw word (bytecode, qstr text, array
  data, a big int's digits) equal to the address of a dead block keeps that block, and what it
  points to, alive from one collection to the next. So what the sim leaves as garbage can be held
  and counted as growth: the simulated hardware makes none per control tick or step word (no
  product past 2**30, no tuple or dict per word, no bound method per call), and the firmware
  zeroes its step rings once the DMA has read them.
- tick: the real tick runs against the simulated hardware, whose Python code may allocate (a
  step FIFO list that grows, a boxed 32-bit count). So consecutive real ticks are recorded at
  the machine/rp2 level (every Pin, StateMachine, UART, WDT, PWM, ADC call, and the firmware's
  `time`), then replayed through preallocated fakes; the replay must end in exactly the state the
  real ticks ended in, and it is what is measured (allocation, heap_lock, time).
- day: log=None and no position tracking; the same compaction as for `heap`; the first reading
  is taken with the robot homed and before the cars' tasks exist, the last one after every car
  has left (their tasks finished and freed), so neither counts the sim's cars.
"""
import gc
import sys

# The real clock, before simboard.install() puts the virtual one in `time`.
import time as _time

UPY = sys.implementation.name == "micropython"
HOUR_MS = 3600000
RC = 0  # exit status, read by bench.mjs

_real_diff = getattr(_time, "ticks_diff", None)
_real_add = getattr(_time, "ticks_add", None)
from benchlib import GC, now_ms as _now_ms, out, note, step  # noqa: E402,F401  (host_tools/upy/benchlib.py; bench.mjs calls step)


# --- keeping the simulation's own growth out of heap readings ---------------------------------

def compact_sim(board, day=None):
    """Give every sim-side container that keeps the capacity of its busiest moment a tight one."""
    loop = board.loop
    loop.queue = loop.queue[:]  # the scheduler's heap (MicroPython's asyncio keeps none)
    plant = board.plant
    for ax in (plant.x, plant.z):
        ax.fifo = ax.fifo[:]
    plant.violations = plant.violations[:]
    # marker bytes: the plant writes, the simulated UART reads the same bytearray
    old = plant.marker_rx
    new = bytearray(old)
    plant.marker_rx = new
    uarts = _sim_uarts(old)
    for u in uarts:
        u._buf = new
    if day is not None:
        day.waiting = dict(day.waiting)
    # The scheduler's one shared StopIteration: MicroPython appends a traceback entry (12 bytes)
    # to an exception instance every time it is raised, so a reused one grows with every sleep
    # unless `__traceback__ = None` before each raise (MicroPython's own asyncio does that; the
    # buffer is then reused, never freed). A fresh instance at each reading keeps that sim
    # growth out.
    for o, k, exc in _reused_exceptions():
        setattr(o, k, type(exc)())


def _reused_exceptions():
    """(owner, attribute, exception) for exception instances kept by the simulated asyncio's objects."""
    from simboard import vasyncio

    found = []
    for name in dir(vasyncio):
        o = getattr(vasyncio, name)
        d = _attrs(o) if not isinstance(o, type) else None
        if d:
            for k in d:
                if isinstance(d[k], BaseException):
                    found.append((o, k, d[k]))
    return found


_UARTS = []  # the simulated UARTs the firmware reads; they share the plant's marker bytes


def _sim_uarts(buf):
    return [u for u in _UARTS if u._buf is buf]


def find_uarts(robot):
    del _UARTS[:]
    for owner, name, obj in hw_objects(robot):
        if hasattr(obj, "_buf"):
            _UARTS.append(obj)


def sim_heap(board, day=None):
    """Generator: compact the sim, collect at the top level, return gc.mem_alloc().

    The plant's xorshift state is >= 2**30 (a boxed int) about 3 times in 4: it is held as two
    small halves while the heap is read.
    """
    compact_sim(board, day)
    rng = board.rng
    hi = rng.state >> 16
    lo = rng.state & 0xFFFF
    rng.state = 0
    yield GC
    m = gc.mem_alloc()
    rng.state = (hi << 16) | lo
    return m


def heap():
    """Generator: collect at the top level, return gc.mem_alloc()."""
    yield GC
    return gc.mem_alloc()


# --- setup -----------------------------------------------------------------------------------

def setup():
    import simboard

    simboard.install()


def check_deployed():
    import railbot.robot

    f = getattr(railbot.robot, "__file__", "")
    if UPY and not f.endswith(".mpy"):
        note("firmware imported from %s, not from .mpy" % f)
        out("upy_firmware_from_mpy", False)
        return False
    if UPY:
        out("upy_firmware_from_mpy", True)
    return True


def run_until(board, cond, limit_ms):
    loop = board.loop
    loop.run_until(board.clock.now_ms + limit_ms, cond)
    return cond()


# --- phase: heap -----------------------------------------------------------------------------

_HEAP_PARTS = ("import railbot.config", "import railbot.alarms", "import railbot.hal (+ pio)",
               "import railbot.motion", "import railbot.site", "import railbot.ledger",
               "import railbot.robot (+ the rest)", "import railbot.link, railbot.port",
               "board data (robot.json, pins.csv)", "Robot()", "Link() (the USB's, as main.py builds it)",
               "start() and homing")


def _sink(data):
    pass


def phase_heap(folder, seed):
    """Generator; returns (board, robot) built and homed, for the tick phase."""
    from simboard.board import SimBoard

    vals = [0] * len(_HEAP_PARTS)  # preallocated: nothing the bench keeps grows between readings
    h0 = yield from heap()
    from railbot import config  # firmware: the SimBoard would import it for itself

    h1 = yield from heap()
    vals[0] = h1 - h0
    board = SimBoard(folder, seed=seed)
    hA = yield from sim_heap(board)
    a = hA
    i = 1
    for name in ("railbot.alarms", "railbot.hal", "railbot.motion", "railbot.site", "railbot.ledger",
                 "railbot.robot", "railbot.link railbot.port"):
        for n in name.split():
            __import__(n)
        b = yield from sim_heap(board)
        vals[i] = b - a
        a = b
        i += 1
    from railbot.robot import Robot
    from railbot.link import Link

    cfg, pins = config.load_board(folder)  # the robot's own board data, as main.py loads it
    b = yield from sim_heap(board)
    vals[8] = b - a
    robot = Robot(cfg, pins)
    find_uarts(robot)
    c = yield from sim_heap(board)
    vals[9] = c - b
    Link(robot, _sink)  # main.py's link on the USB (the simulated board has none): kept by robot.emit
    d = yield from sim_heap(board)
    vals[10] = d - c
    c = d
    robot.start()
    robot.command("home")
    if not run_until(board, lambda: robot.homed, 120000):
        note("homing did not finish: %s" % robot.command("status"))
        out("upy_heap_homed", False)
        return board, robot
    check_deployed()
    _scrub(0, 0, 0, 0, 0, 0, 0, 0)
    hB = yield from sim_heap(board)
    vals[11] = hB - c
    out("upy_heap_firmware_bytes", hB - hA + h1 - h0)
    out("upy_heap_simboard_bytes", hA - h1)
    for i in range(len(vals)):
        note("heap: %6d bytes  %s" % (vals[i], _HEAP_PARTS[i]))
    return board, robot


# --- the replay layer --------------------------------------------------------------------------

def sim_hw_types():
    import machine
    import rp2

    return tuple(getattr(machine, n) for n in ("Pin", "PWM", "ADC", "UART", "WDT", "Timer", "I2C", "SPI")
                 if hasattr(machine, n)) + (rp2.StateMachine, rp2.DMA)


def _attrs(o):
    try:
        d = o.__dict__
    except AttributeError:
        return None
    return d if isinstance(d, dict) else None


def fw_objects(robot):
    """The firmware's own objects the tick can touch: the robot, its axes, hardware drivers, events."""
    hwt = sim_hw_types()
    seen = {}
    order = []
    todo = [robot]
    depth = {id(robot): 0}
    while todo:
        o = todo.pop(0)
        if id(o) in seen:
            continue
        seen[id(o)] = True
        order.append(o)
        d = _attrs(o)
        if d is None or depth[id(o)] >= 3:
            continue
        for v in d.values():
            if isinstance(v, hwt) or isinstance(v, (Recorder, Fake)) or type(v) is type(sys):
                continue
            if isinstance(v, (int, str, bool, float, bytes, bytearray, list, tuple, dict)) or v is None:
                continue
            if _attrs(v) is None or id(v) in seen:
                continue
            depth[id(v)] = depth[id(o)] + 1
            todo.append(v)
    return order


def hw_objects(robot):
    """(owner, attribute, simulated hardware object) for every machine/rp2 object the firmware holds."""
    hwt = sim_hw_types()
    found = []
    for o in fw_objects(robot):
        d = _attrs(o)
        for k in sorted(d):
            v = d[k]
            if isinstance(v, hwt) or isinstance(v, (Recorder, Fake)):
                found.append((o, k, v))
    return found


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
        d = _attrs(o)
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
                raise ValueError("bench replay: %s.%s() has no fake; add it to bench_upy.Fake" % (name, m))
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
            f.ticks_diff = _real_diff  # pure functions: the board's own
            f.ticks_add = _real_add
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


# --- phase: tick -----------------------------------------------------------------------------

SIM_TICKS = 64  # real ticks measured against the simulated hardware
REC_TICKS = 256  # consecutive real ticks recorded, then replayed: 2.5 m at 1 m/s, past 2 markers
BATCHES = 24  # replayed batches timed
# The parts of the tick whose allocation is reported when it allocates (names that no longer
# exist in the firmware are skipped).
PARTS = (("robot", "_read_encoder"), ("encoder", "count"), ("marker", "poll"), ("robot", "_supervise"),
         ("x", "busy"), ("x", "following_error"), ("x", "executing_span"), ("x", "feed"),
         ("x", "_next_word"), ("z", "busy"), ("z", "feed"), ("z", "_next_word"))


def _alloc_ticks(tick, n):
    a = gc.mem_alloc()
    for _ in range(n):
        tick()
    return gc.mem_alloc() - a


def _locked_ticks(tick, n):
    import micropython

    done = 0
    micropython.heap_lock()
    try:
        for _ in range(n):
            tick()
            done += 1
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    return done


def _time_ticks(tick, n):
    """Milliseconds (float) for n calls of tick()."""
    t0 = _now_ms()
    for _ in range(n):
        tick()
    return _now_ms() - t0


def _time_empty():
    t0 = _now_ms()
    for _ in range(1000):
        pass
    return _now_ms() - t0


def _clock_cost():
    """Milliseconds between two back-to-back clock reads: subtracted from every timing."""
    best = 1e9
    for _ in range(50):
        t0 = _now_ms()
        d = _now_ms() - t0
        if d < best:
            best = d
    return best


def _cruising(robot, margin_steps):
    x = robot.x
    if not robot.moving or not x.busy() or robot.alarm:
        return False
    # the planner's cruise phase (railbot.motion._CRUISE) with margin_steps of cruise still to plan
    return x.phase == 3 and x.cruise > margin_steps


def phase_tick(board, robot):
    if not robot.homed:
        note("tick: robot not homed, skipped")
        return
    tick_ms = robot.tick_ms
    clock = board.clock
    reply = robot.command("charge 44")
    if not reply.startswith("ok"):
        note("tick: %s" % reply)
    x = robot.x
    per_tick = (getattr(x, "v_cap", 0) or 20000) * tick_ms // 1000
    margin = (SIM_TICKS + REC_TICKS + 32) * per_tick
    if not run_until(board, lambda: _cruising(robot, margin), 600000):
        note("tick: the carriage never cruised mid-rail: %s" % robot.command("status"))
        out("upy_tick_cruise_found", False)
        return
    note("tick: cruising at x=%d steps, %d steps to go, t=%d ms" % (robot.enc_steps, x.left, clock.now_ms))
    tick = robot.tick

    def advance():
        clock.advance_to(clock.now_ms + tick_ms)

    # 1. real ticks on the simulated hardware: firmware + sim allocations, sim cost included
    clock_cost = _clock_cost()
    total = 0
    t_sim = 0.0
    for _ in range(SIM_TICKS):
        advance()
        a = gc.mem_alloc()
        t0 = _now_ms()
        tick()
        t1 = _now_ms()
        total += gc.mem_alloc() - a
        t_sim += t1 - t0 - clock_cost
    out("upy_alloc_per_tick_sim_bytes", _per(total, SIM_TICKS))
    out("tick_sim_us", t_sim * 1000 / SIM_TICKS)

    # 2. record REC_TICKS consecutive real ticks at the machine/rp2 level
    objs = fw_objects(robot)
    rep = Replay(robot)
    advance()
    s0 = snapshot(objs)
    rep.record()
    try:
        for i in range(REC_TICKS):
            tick()
            if i < REC_TICKS - 1:
                advance()
        s1 = snapshot(objs)
        rep.fake()
    except ValueError as e:  # a hardware method the fakes do not know
        rep.real()
        note("tick: %s" % e)
        out("tick_replay_faithful", False)
        return
    except BaseException:
        rep.real()
        raise
    note("tick: replayed hardware: %s" % ", ".join(
        "%s(%s)" % (f.name, "/".join(f.methods)) for f in rep.fakes if f.methods))
    note("tick: the %d replayed ticks cover %d steps, %d step words (%d DMA re-arms), %d marker bytes, "
         "markers seen %d -> %d" % (
             REC_TICKS, abs(_val(s1, robot.x, "pos") - _val(s0, robot.x, "pos")),
             _val(s1, robot.x, "words_total") - _val(s0, robot.x, "words_total"),
             sum(f.n[CONFIG] for f in rep.fakes), sum(sum(r for r in f.rets[READINTO] if r) for f in rep.fakes),
             _val(s0, robot, "tags_seen"), _val(s1, robot, "tags_seen")))

    try:
        _replayed(robot, rep, objs, s0, s1, tick, clock_cost)
    finally:
        rep.real()
        restore(s1)


# --- phase: segment ------------------------------------------------------------------------------

class _SegOut:
    """A step output that takes every word and keeps none: the planner's own cost, nothing else's."""

    def __init__(self):
        self.n = 0
        self.last = 0

    def space(self):
        return 1

    def pending(self):
        return 0

    def put(self, w):
        self.n += 1
        self.last = w

    def commit(self):
        pass


SEG_LOCKED = 4000  # words planned under heap_lock: the ramp up, at every speed


def phase_segment(folder):
    """Python cost, allocation and heap_lock proof of planning and queueing one step word.

    The SIM carriage's full-rail move is planned word by word (Axis._next_word, which computes and
    puts one word); its cost is compared with 1000 empty `for` iterations, the reference of
    tick_cost_ref_ratio."""
    import micropython
    from railbot import config
    from railbot.motion import Axis

    cfg, pins = config.load_board(folder)
    cx, hz = cfg["x"], cfg["timing"]["pio_hz"]
    cyc = hz // 1000000
    high = (cx["step_pulse_ns"] * cyc + 999) // 1000
    travel = cx["travel_mm"] * cx["steps_per_mm"]
    o = _SegOut()
    ax = Axis(o, cx["steps_per_mm"], cx["v_max_mm_s"], cx["a_max_mm_s2"], hz, high,
              (cx["dir_setup_ns"] * cyc + 999) // 1000)
    nxt = ax._next_word
    clock_cost = _clock_cost()
    # allocation and heap_lock over the ramp (the costliest words)
    ax.move_to(travel)
    a0 = gc.mem_alloc()
    for _ in range(16):
        nxt()
    alloc = gc.mem_alloc() - a0
    done = 0
    micropython.heap_lock()
    try:
        while done < SEG_LOCKED and ax.queued_motion():
            nxt()
            done += 1
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    out("upy_alloc_per_segment_bytes", _per(alloc, 16))
    out("upy_segment_heap_lock_ok", done == SEG_LOCKED)
    # cost: the whole move, best of 3, against the empty loop
    best = 1e9
    words = 0
    for _ in range(3):
        ax.set_position(0)
        ax.move_to(travel)
        o.n = 0
        t0 = _now_ms()
        while ax.queued_motion():
            nxt()
        t = _now_ms() - t0 - clock_cost
        words = o.n
        if t < best:
            best = t
    ref = 1e9
    for _ in range(24):
        r = _time_empty() - clock_cost
        if r < ref:
            ref = r
    seg_us = best * 1000 / words
    out("segment_words_full_rail", words)
    out("segment_us", seg_us)
    out("segment_empty_loop_1000_us", ref * 1000)
    out("segment_cost_ref_ratio", seg_us / (ref * 1000))


def _val(snap, obj, name):
    for o, k, v, _ in snap:
        if o is obj and k == name:
            return v
    return -1


def _per(total, n):
    return total // n if total % n == 0 else total / n


def _replayed(robot, rep, objs, s0, s1, tick, clock_cost):
    # fidelity: the replay must end in the very state the real ticks ended in
    rep.rewind(s0)
    for _ in range(REC_TICKS):
        tick()
    mism, div = rep.faults()
    diff = same_state(s1, snapshot(objs))
    faithful = mism == 0 and div == 0 and not diff and not robot.alarm
    out("tick_replay_faithful", faithful)
    if not faithful:
        note("tick: replay mismatches=%d diverged=%d alarm=%d state diff: %s" % (
            mism, div, robot.alarm, "; ".join(diff[:6])))

    # allocation of the replayed tick (nothing is freed inside a step: the difference is exact)
    rep.rewind(s0)
    total = _alloc_ticks(tick, REC_TICKS)
    out("upy_alloc_per_tick_bytes", _per(total, REC_TICKS))

    # where it allocates: each part of the tick measured inside it (inclusive of what it calls)
    if total:
        try:
            _alloc_parts(robot, rep, s0, tick)
        except Exception as e:  # a diagnosis only: the figures above and below stand
            note("tick: the allocation breakdown failed: %r" % (e,))

    # proof under heap_lock
    rep.rewind(s0)
    done = _locked_ticks(tick, REC_TICKS)
    out("upy_tick_heap_lock_ok", done == REC_TICKS)
    if done != REC_TICKS:
        note("tick: MemoryError under heap_lock in replayed tick %d of %d" % (done + 1, REC_TICKS))

    # cost: replayed ticks vs 1000 iterations of an empty loop, interleaved, best of BATCHES
    best_tick = best_ref = 1e9
    for b in range(BATCHES):
        rep.rewind(s0)
        t = _time_ticks(tick, REC_TICKS) - clock_cost
        r = _time_empty() - clock_cost
        if t < best_tick:
            best_tick = t
        if r < best_ref:
            best_ref = r
    out("tick_replay_us", best_tick * 1000 / REC_TICKS)
    out("empty_loop_1000_us", best_ref * 1000)
    out("clock_read_us", clock_cost * 1000)


def _alloc_parts(robot, rep, s0, tick):
    hw = robot.hw
    owners = {"robot": robot, "x": robot.x, "z": robot.z, "hw": hw, "encoder": getattr(hw, "encoder", None),
              "marker": getattr(hw, "marker", None), "wdt": getattr(hw, "wdt", None)}
    acc = [0] * len(PARTS)
    calls = [0] * len(PARTS)
    installed = []
    mem = gc.mem_alloc

    def wrap(k, real):
        # fixed optional parameters: a *args wrapper would allocate a tuple per call
        def w(a=_NA, b=_NA, c=_NA):
            m = mem()
            if a is _NA:
                r = real()
            elif b is _NA:
                r = real(a)
            elif c is _NA:
                r = real(a, b)
            else:
                r = real(a, b, c)
            acc[k] += mem() - m
            calls[k] += 1
            return r
        return w

    for k in range(len(PARTS)):
        on, name = PARTS[k]
        o = owners.get(on)
        if o is None or isinstance(o, Fake) or not hasattr(o, name):
            continue
        setattr(o, name, wrap(k, getattr(o, name)))
        installed.append((o, name))
    try:
        rep.rewind(s0)
        for _ in range(REC_TICKS):
            tick()
    finally:
        for o, name in installed:
            delattr(o, name)
    for k in range(len(PARTS)):
        if calls[k]:
            on, name = PARTS[k]
            note("tick alloc in %s.%s: %d bytes in %d calls over %d ticks" % (
                on, name, acc[k], calls[k], REC_TICKS))


# --- phase: day ------------------------------------------------------------------------------

def short_cars(seed, n):
    """n cars in about two and a half hours, all gone by the end: a day in miniature."""
    from simboard.day import Car, MIN_MS
    from simboard.rng import Rng

    rng = Rng(seed * 31 + 5)
    cars = []
    bays = list(range(1, 45))
    for i in range(n):
        bay = bays.pop(rng.below(len(bays)))
        arrive = (5 + 12 * i) * MIN_MS
        cars.append(Car(i + 1, bay, arrive, rng.between(60, 80) * MIN_MS, rng.between(10, 30) * MIN_MS,
                        1 * MIN_MS, rng.between(1, 3) * MIN_MS, rng.between(2, 6) * MIN_MS))
    return cars


def _scrub(a, b, c, d, e, f, g, h):
    """Called with zeros to overwrite this generator's dead value-stack slots: MicroPython's GC
    scans a suspended generator's whole state, so a stale slot keeps its garbage alive."""


def phase_day(folder, seed, hours, short):
    """Generator: a simulated day; heap growth (MicroPython) and wall time."""
    from simboard.board import SimBoard
    from simboard import vasyncio as aio
    from simboard.day import Day, plan_day

    board = SimBoard(folder, seed=seed)
    robot = board.robot()  # its record on the simulated flash, as make sim runs
    if short:
        cars = short_cars(seed, short)
        end_ms = max(c.leave_ms for c in cars) + 10 * 60000
    else:
        cars = plan_day(seed, hours=hours)
        end_ms = (hours + 12) * HOUR_MS  # the evening's cars leave in the morning
        if cars and cars[-1].leave_ms + 600000 > end_ms:
            end_ms = max(c.leave_ms for c in cars) + 600000
    find_uarts(robot)
    # The cars' tasks are created after the first reading and are all finished (and freed) by
    # the last one: a suspended coroutine keeps whatever its dead stack slots still point to
    # (MicroPython scans a generator's whole state), so kept tasks would count the sim's garbage.
    day = Day(board, robot, [], log=None)
    day.start()  # the robot's tasks and `home`
    homed = run_until(board, lambda: robot.homed, 120000)
    check_deployed()
    # One job before the first reading (a unit fetched to bay 1, its session released): what the
    # firmware and the simulation make once, on first use (a capture's DMA binding, the record's
    # files, names interned on a first call), is the working set, not growth over the day.
    if robot.command("charge 1").startswith("ok"):
        run_until(board, lambda: not robot.jobs and robot.state == "IDLE", 600000)
        robot.command("release 1")
    _scrub(0, 0, 0, 0, 0, 0, 0, 0)
    h0 = 0
    if UPY:
        h0 = yield from sim_heap(board, day)
    day.cars = cars
    for car in cars:  # what Day.start() does for each car
        aio.create_task(day.car_life(car))
    t_start = board.clock.now_ms
    wall = 0.0
    t = t_start
    while t < end_ms:
        t = t + HOUR_MS if t + HOUR_MS < end_ms else end_ms
        t0 = _now_ms()
        day.run(t)
        wall += _now_ms() - t0
        _scrub(0, 0, 0, 0, 0, 0, 0, 0)
        yield None  # back to the top level, where the port collects garbage
    h1 = 0
    if UPY:
        h1 = yield from sim_heap(board, day)
    s = day.summary()
    impl = "upy" if UPY else "cpython"
    out(impl + "_day_wall_s", wall / 1000)
    out(impl + "_day_sim_s", (end_ms - t_start) // 1000)
    if UPY:
        out("upy_heap_growth_day_bytes", h1 - h0)
    for k in ("served", "requests", "violations", "alarms", "tick_late_max_ms", "flash_erases"):
        out(impl + "_day_" + k, s[k])
    note("%s day: %d cars, %d requests, %d served, %d alarms, %d violations, %d tasks left, homed=%s, %s" % (
        impl, len(cars), s["requests"], s["served"], s["alarms"], s["violations"], len(board.loop.queue), homed,
        robot.command("status")))


# --- phase: grip ----------------------------------------------------------------------------------

def phase_grip():
    """The DC gripper's loop, step by step (simboard.rig.grip_loop_steps): allocation by mem_alloc
    around each step, then the same moves with every step under heap_lock."""
    from simboard.rig import Rig, DC_GRIPPER, grip_loop_steps

    rig = Rig(home=False, gripper=DC_GRIPPER)
    alloc, n, ends = grip_loop_steps(rig, lock=False)
    out("grip_loop_alloc_bytes", alloc)
    note("grip: %d steps, moves ended %r (2 stall, 1 done)" % (n, ends))
    ok = False
    rig = Rig(home=False, gripper=DC_GRIPPER)  # the same moves from open jaws
    try:
        _, n, ends = grip_loop_steps(rig, lock=True)
        ok = ends == [2, 1, 1]
        note("grip: under heap_lock %d steps, moves ended %r" % (n, ends))
    except MemoryError:
        note("grip: MemoryError under heap_lock")
    out("upy_grip_heap_lock_ok", ok)


# --- driver ----------------------------------------------------------------------------------

USAGE = "usage: bench_upy.py --board DIR [--seed N] [--hours H] [--short N] heap|tick|day|segment|grip ..."


def steps(argv):
    """The whole bench as a generator (see the module doc); sets RC."""
    global RC
    folder = None
    seed = 1
    hours = 24
    short = 0
    phases = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--board", "--seed", "--hours", "--short") and i + 1 < len(argv):
            v = argv[i + 1]
            i += 1
            if a == "--board":
                folder = v
            elif a == "--seed":
                seed = int(v)
            elif a == "--hours":
                hours = int(v)
            else:
                short = int(v)
        else:
            phases.append(a)
        i += 1
    bad = [p for p in phases if p not in ("heap", "tick", "day", "segment", "grip")]
    if folder is None or not phases or bad:
        print(USAGE)
        RC = 2
        return
    if not UPY and [p for p in phases if p != "day"]:
        print("bench_upy.py: heap, tick and segment need MicroPython; CPython runs `day` only")
        RC = 2
        return
    setup()
    board = robot = None
    for p in phases:
        if p == "heap" or (p == "tick" and robot is None):
            board, robot = yield from phase_heap(folder, seed)
        if p == "tick":
            phase_tick(board, robot)
        elif p == "segment":
            phase_segment(folder)
        elif p == "grip":
            phase_grip()
        elif p == "day":
            board = robot = None
            yield GC
            yield from phase_day(folder, seed, hours, short)
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":  # CPython (or MicroPython's unix port): the steps in one go
    g = steps(sys.argv[1:])
    while step(g):
        pass
    sys.exit(RC)
