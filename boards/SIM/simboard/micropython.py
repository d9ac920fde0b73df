"""`micropython` for the simulated board, under CPython and MicroPython alike (simboard.install puts
it where firmware imports it): schedule() queues on the board's virtual clock (simboard.vclock), as
the port's scheduler queues for its next bytecode boundary, so an interrupt's scheduled function runs
in the simulated ms its input changed, never in the middle of the plant's own step. Everything else
is MicroPython's own module where there is one, or a stand-in with its meaning under CPython."""
import sys
from simboard import vclock

if sys.implementation.name == "micropython":
    import micropython as _real  # the builtin (this file is simboard.micropython)

    for _k in dir(_real):
        if not _k.startswith("__"):
            globals()[_k] = getattr(_real, _k)
else:

    def const(x):
        return x

    def heap_lock():
        return 0

    def heap_unlock():
        return 0

    def native(fn):
        return fn

    viper = native


def schedule(fn, arg):
    """Queue fn(arg) to run soon; RuntimeError when the queue is full, as the port. Allocates nothing."""
    if not vclock._current[0].schedule(fn, arg):
        raise RuntimeError("schedule queue full")
