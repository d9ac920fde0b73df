"""The firmware's objects on the simulated board (walked from the robot), and heap readings with the
simulation's own growth kept out, for the heap, tick and day measurements (bench_heap.py,
bench_tick.py, bench_day.py). MicroPython subset.

How the simulation's own costs are kept out:
- heap: sim containers that keep the capacity of their busiest moment (scheduler heap, step
  FIFOs, marker bytes, violations, the day's waiting cars) are compacted, and the plant's random
  state (a boxed int 3 times in 4) is held unboxed at every reading. The simulated asyncio's one
  shared StopIteration grows a traceback entry (12 bytes) per sleep: it is replaced by a fresh one
  at every reading. A script's own dead stack slots are overwritten (scrub) before readings, as
  MicroPython's GC scans a suspended generator's whole state.
- garbage: the GC is conservative, here as on a board: any raw word (bytecode, qstr text, array
  data, a big int's digits) equal to the address of a dead block keeps that block, and what it
  points to, alive from one collection to the next. So what the sim leaves as garbage can be held
  and counted as growth: the simulated hardware makes none per control tick or step word (no
  product past 2**30, no tuple or dict per word, no bound method per call), and the firmware
  zeroes its step rings once the DMA has read them.
"""
import gc
import sys

from benchlib import GC, UPY, note, out


def sim_hw_types():
    import machine
    import rp2

    return tuple(getattr(machine, n) for n in ("Pin", "PWM", "ADC", "UART", "WDT", "Timer", "I2C", "SPI")
                 if hasattr(machine, n)) + (rp2.StateMachine, rp2.DMA)


def attrs(o):
    try:
        d = o.__dict__
    except AttributeError:
        return None
    return d if isinstance(d, dict) else None


def _stand_in(v):
    """A stand-in for a hardware object (benchreplay's Recorder and Fake)."""
    return getattr(type(v), "stand_in", False)


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
        d = attrs(o)
        if d is None or depth[id(o)] >= 3:
            continue
        for v in d.values():
            if isinstance(v, hwt) or _stand_in(v) or type(v) is type(sys):
                continue
            if isinstance(v, (int, str, bool, float, bytes, bytearray, list, tuple, dict)) or v is None:
                continue
            if attrs(v) is None or id(v) in seen:
                continue
            depth[id(v)] = depth[id(o)] + 1
            todo.append(v)
    return order


def hw_objects(robot):
    """(owner, attribute, simulated hardware object) for every machine/rp2 object the firmware holds."""
    hwt = sim_hw_types()
    found = []
    for o in fw_objects(robot):
        d = attrs(o)
        for k in sorted(d):
            v = d[k]
            if isinstance(v, hwt) or _stand_in(v):
                found.append((o, k, v))
    return found


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
        d = attrs(o) if not isinstance(o, type) else None
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
    """Generator: compact the sim, collect at the top level, return gc.mem_alloc() less what the
    simulated flash's files take (the sim's contents, growing with the black box's files over a
    day, not the firmware's heap): measured as the heap an equal dict of fresh names and contents
    of the same lengths takes (flash_copy), collected again after.

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
    copy = flash_copy(board)
    yield GC
    m_flash = gc.mem_alloc() - m
    copy = None  # noqa: F841  (freed at the next collection)
    rng.state = (hi << 16) | lo
    return m - m_flash


def flash_copy(board):
    """A dict like the simulated flash's files: fresh names, contents of the same lengths."""
    files = board.flash.files
    copy = {}
    for k in files:
        copy[(k + ".")[:-1]] = bytes(len(files[k]))
    return copy


def heap():
    """Generator: collect at the top level, return gc.mem_alloc()."""
    yield GC
    return gc.mem_alloc()


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
    """Run the simulated board until cond() or limit_ms of simulated time; cond()."""
    loop = board.loop
    loop.run_until(board.clock.now_ms + limit_ms, cond)
    return cond()


def scrub(a, b, c, d, e, f, g, h):
    """Called with zeros to overwrite this generator's dead value-stack slots: MicroPython's GC
    scans a suspended generator's whole state, so a stale slot keeps its garbage alive."""
