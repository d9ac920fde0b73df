"""`micropython` for CPython runs of the simulated board: the few names firmware uses, with their meaning."""


def const(x):
    return x


def schedule(fn, arg):
    fn(arg)
    return True


def heap_lock():
    return 0


def heap_unlock():
    return 0


def native(fn):
    return fn


viper = native
