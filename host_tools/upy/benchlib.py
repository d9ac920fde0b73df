"""What the bench scripts share: a fine wall clock, the reference loop, the `BENCH name value` /
`NOTE ...` lines railbot_host.bench reads, and the scripts' argument parsing and stepping.
Runs under MicroPython (WebAssembly port) and CPython."""
import gc
import sys
import time as _time

UPY = sys.implementation.name == "micropython"
GC = "gc"  # yielded by a bench step that wants a collection before the next one

# The board's own pure tick arithmetic, taken before simboard.install() puts the virtual `time` in
# sys.modules (every bench script imports this module first).
real_ticks_diff = getattr(_time, "ticks_diff", None)
real_ticks_add = getattr(_time, "ticks_add", None)

try:
    import js  # the WebAssembly port: performance.now() has sub-microsecond resolution

    now_ms = js.performance.now  # (this port's ticks_us only moves in whole milliseconds)
except ImportError:
    now_ms = None
if now_ms is None:
    if UPY:
        _ticks_us = _time.ticks_us

        def now_ms():
            return _ticks_us() / 1000
    else:
        _perf = _time.perf_counter

        def now_ms():
            return _perf() * 1000


def time_empty():
    """Milliseconds of the reference loop `for _ in range(1000): pass`, the yardstick of every cost ratio."""
    t0 = now_ms()
    for _ in range(1000):
        pass
    return now_ms() - t0


def clock_cost():
    """Milliseconds between two back-to-back clock reads: subtracted from every timing."""
    best = 1e9
    for _ in range(50):
        t0 = now_ms()
        d = now_ms() - t0
        if d < best:
            best = d
    return best


def per(total, n):
    """total / n, an integer when it divides."""
    return total // n if total % n == 0 else total / n


# Figures renamed on the way out (bench_board.py runs bench_tick.py's measurement again under
# other names): None prints every figure as named, else only the names in the map, renamed.
_renames = None
_prefix = ""


def renamed(names, prefix=""):
    """Print only the figures in `names` (old -> new name), and every note with `prefix`; None undoes it."""
    global _renames, _prefix
    _renames = names
    _prefix = prefix


def out(name, value):
    if _renames is not None:
        name = _renames.get(name)
        if name is None:
            return
    if value is True or value is False:
        value = "true" if value else "false"
    elif isinstance(value, float):
        value = "%.3f" % value
    print("BENCH %s %s" % (name, value))


def note(text):
    print("NOTE " + _prefix + text)


def parse_args(argv, options, phases, need_phase=True):
    """(values, phases asked) from argv: `--name VALUE` for each name in `options` (a dict of
    defaults; an int default takes an int), the rest are phases, each one of `phases`. None when
    argv is not that (a value missing or not a number, an unknown phase, no phase when need_phase)."""
    values = dict(options)
    asked = []
    i = 0
    while i < len(argv):
        a = argv[i]
        name = a[2:] if a.startswith("--") else None
        if name is not None and name in options:
            if i + 1 >= len(argv):
                return None
            v = argv[i + 1]
            if isinstance(options[name], int):
                try:
                    v = int(v)
                except ValueError:
                    return None
            values[name] = v
            i += 2
            continue
        if a not in phases:
            return None
        asked.append(a)
        i += 1
    if need_phase and not asked:
        return None
    return values, asked


def step(g):
    """One top-level step of a bench script's `steps()` generator (bench.mjs calls it; the WebAssembly
    port collects garbage only between top-level calls): True while there are more."""
    try:
        v = next(g)
    except StopIteration:
        return False
    if v == GC:
        gc.collect()
    return True


def run(g):
    """All the steps of `g` in one go (a script run directly: CPython, or MicroPython's unix port)."""
    while step(g):
        pass
