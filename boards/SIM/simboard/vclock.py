"""Virtual clock of the simulated board: whole milliseconds plus microseconds into the current one, as fast as possible or paced."""
# MicroPython's ticks wrap at 2**30; the virtual ticks do the same so wrap bugs show here too.
TICKS_PERIOD = 1 << 30
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD >> 1

try:
    import utime as _wall  # MicroPython's own clock stays reachable after `time` is replaced
except ImportError:
    import time as _wall


# Bound now, before simboard.install() gives CPython's `time` virtual ticks and sleep_ms.
if hasattr(_wall, "monotonic"):  # CPython

    def _wall_ms():
        return int(_wall.monotonic() * 1000)

    def _wall_sleep_ms(ms):
        _wall.sleep(ms / 1000)

else:  # MicroPython
    _wall_ms = _wall.ticks_ms
    _wall_sleep_ms = _wall.sleep_ms


class Clock:
    """Virtual time: now_ms whole ms, plus now_us (0..999) us into the current ms; `speed` 0 runs as
    fast as possible, N paces it to N times wall-clock time.

    Two small ints rather than one count of us: a simulated day is 8.6e10 us, a big int (allocated
    at every step) under MicroPython beyond 2**30. Listeners (the plant, the watchdog, the USB) see
    whole ms: `fn(t0_ms, t1_ms)` runs before now_ms moves on, whether a task's wake-up moves it
    (advance_to) or a blocking wait or a charged CPU cost crosses a ms boundary (advance_us).
    """

    def __init__(self, speed=0):
        self.now_ms = 0
        self.now_us = 0
        self.speed = speed
        self._listeners = []  # called with (t0_ms, t1_ms) before time moves on
        self._wall0 = _wall_ms()
        self._virt0 = 0

    def listen(self, fn):
        self._listeners.append(fn)

    def advance_to(self, t_ms):
        """On to the start of ms t_ms (nothing if that is not later than now_ms)."""
        if t_ms <= self.now_ms:
            return
        if self.speed:
            self._pace(t_ms)
        t0 = self.now_ms
        for fn in self._listeners:
            fn(t0, t_ms)
        self.now_ms = t_ms
        self.now_us = 0

    def advance_us(self, us):
        """On by us microseconds (us >= 0, below 2**30): a blocking wait or the CPU busy, so no task
        runs; the listeners see every ms boundary crossed."""
        f = self.now_us + us
        if f >= 1000:
            self.advance_to(self.now_ms + f // 1000)
            f %= 1000
        self.now_us = f

    def _pace(self, t_ms):
        target_wall = self._wall0 + (t_ms - self._virt0) // self.speed
        while True:
            lag = target_wall - _wall_ms()
            if lag <= 0:
                return
            _wall_sleep_ms(lag)


_current = [None]


def current():
    return _current[0]


def set_current(clock):
    _current[0] = clock


def ticks_diff(a, b):
    return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF


def ticks_add(a, delta):
    return (a + delta) & TICKS_MASK
