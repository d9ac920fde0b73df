"""Virtual clock of the simulated board: whole milliseconds plus microseconds into the current one, as fast as possible or paced."""
# MicroPython's ticks wrap at 2**30; the virtual ticks do the same so wrap bugs show here too.
TICKS_PERIOD = 1 << 30
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD >> 1
SOFT_DEPTH = 8  # MICROPY_SCHEDULER_DEPTH of the rp2 port

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
        # micropython.schedule's queue (simboard.micropython): functions an interrupt handler asked
        # for, run as soon as time has moved (the real port runs them at the next bytecode boundary,
        # or at once from its idle wait); SOFT_DEPTH slots, as MICROPY_SCHEDULER_DEPTH, allocated once
        self.soft_fn = [None] * SOFT_DEPTH
        self.soft_arg = [None] * SOFT_DEPTH
        self.soft_n = 0
        self._in_soft = False
        self._in_step = False  # the listeners run: time is between now_ms and the next step
        # split(t0_ms, t1_ms): the ms in (t0, t1] to stop at first (the board: where an input with an
        # interrupt armed may change, e.g. a limit switch the carriage may reach, or when the safety
        # relay's delay ends), so an interrupt's scheduled function runs in the ms its input changed,
        # not at the end of a long sleep
        self.split = None

    def listen(self, fn):
        self._listeners.append(fn)

    def advance_to(self, t_ms):
        """On to the start of ms t_ms (nothing if that is not later than now_ms)."""
        if t_ms <= self.now_ms:
            return
        if self.speed:
            self._pace(t_ms)
        split = self.split
        if split is not None:
            while True:
                t = split(self.now_ms, t_ms)
                if t >= t_ms:
                    break
                self._step(t)
        self._step(t_ms)

    def _step(self, t_ms):
        t0 = self.now_ms
        self._in_step = True
        try:
            for fn in self._listeners:
                fn(t0, t_ms)
        finally:
            self._in_step = False
        self.now_ms = t_ms
        self.now_us = 0
        if self.soft_n:
            self.run_soft()

    def schedule(self, fn, arg):
        """micropython.schedule: queue fn(arg); False when the queue is full (the port raises
        RuntimeError then: simboard.micropython does). Allocates nothing (a hard handler may call it)."""
        n = self.soft_n
        if n >= SOFT_DEPTH:
            return False
        self.soft_fn[n] = fn
        self.soft_arg[n] = arg
        self.soft_n = n + 1
        return True

    def poke(self):
        """An interrupt handler ran: its scheduled functions run now, unless time is in the middle of a
        step (a plant's input changed in a listener): then at the step's end, when now_ms is its ms."""
        if self.soft_n and not self._in_step:
            self.run_soft()

    def run_soft(self):
        """Run the scheduled functions, in order (not from within one of them: the port does not nest)."""
        if self._in_soft:
            return
        self._in_soft = True
        try:
            while self.soft_n:
                fn, arg = self.soft_fn[0], self.soft_arg[0]
                n = self.soft_n - 1
                for i in range(n):
                    self.soft_fn[i] = self.soft_fn[i + 1]
                    self.soft_arg[i] = self.soft_arg[i + 1]
                self.soft_fn[n] = self.soft_arg[n] = None
                self.soft_n = n
                fn(arg)
        finally:
            self._in_soft = False

    def advance_us(self, us):
        """On by us microseconds (us >= 0, below 2**30): a blocking wait or the CPU busy, so no task
        runs; the listeners see every ms boundary crossed."""
        f = self.now_us + us
        if f >= 1000:
            self.advance_to(self.now_ms + f // 1000)
            f %= 1000
        self.now_us = f
        if self.soft_n:
            self.run_soft()

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
