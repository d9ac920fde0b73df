"""What the bench scripts share: a fine wall clock and the `BENCH name value` / `NOTE ...` lines
railbot_host.bench reads. Runs under MicroPython (WebAssembly port) and CPython."""
import gc
import sys
import time as _time

UPY = sys.implementation.name == "micropython"
GC = "gc"  # yielded by a bench step that wants a collection before the next one

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


def out(name, value):
    if value is True or value is False:
        value = "true" if value else "false"
    elif isinstance(value, float):
        value = "%.3f" % value
    print("BENCH %s %s" % (name, value))


def note(text):
    print("NOTE " + text)


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
