"""The simulated board's `asyncio`: the subset of MicroPython's asyncio the firmware uses, on the virtual clock.

Semantics follow MicroPython's asyncio: a task yields only at an `await`; `sleep_ms(0)` lets
the others run; tasks that wake at the same time run in the order they were scheduled. Time
moves only when every runnable task has yielded, so a day of the car park runs as fast as the
host can compute it (or paced, see `vclock.Clock.speed`).
"""
import heapq
from simboard import vclock


class CancelledError(BaseException):
    pass


class TimeoutError(Exception):
    pass


class Task:
    def __init__(self, coro):
        self.coro = coro
        self.done = False
        self.value = None
        self.exc = None
        self.waiting = []
        self.throw_in = None
        self.seq = 0

    def __iter__(self):
        if not self.done:
            self.waiting.append(_loop[0].cur)
            yield
        if self.exc is not None:
            raise self.exc
        return self.value

    __await__ = __iter__

    def cancel(self):
        if self.done:
            return False
        self.throw_in = CancelledError()
        loop = _loop[0]
        if loop.cur is not self:
            loop.push(self, loop.clock.now_ms)
        return True


class _SleepOp:
    """One shared awaitable for every sleep, as in MicroPython: set, awaited at once, consumed."""

    def __init__(self):
        self.wake_ms = None
        self.stop = StopIteration()

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        if self.wake_ms is not None:
            loop = _loop[0]
            loop.push(loop.cur, self.wake_ms)
            self.wake_ms = None
            return None
        self.stop.__traceback__ = None  # else MicroPython grows its traceback on every raise
        raise self.stop


class _Park:
    """Awaitable that suspends the current task once; whoever parked it pushes it back."""

    def __init__(self):
        self.parked = False

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        if not self.parked:
            self.parked = True
            return None
        raise StopIteration


_sleep = _SleepOp()


def sleep_ms(ms):
    _sleep.wake_ms = _loop[0].clock.now_ms + (ms if ms > 0 else 0)
    return _sleep


def sleep(s):
    return sleep_ms(int(s * 1000))


class Event:
    def __init__(self):
        self.state = False
        self.waiting = []

    def is_set(self):
        return self.state

    def set(self):
        self.state = True
        if self.waiting:
            loop = _loop[0]
            for t in self.waiting:
                loop.push(t, loop.clock.now_ms)
            self.waiting = []

    def clear(self):
        self.state = False

    async def wait(self):
        if not self.state:
            self.waiting.append(_loop[0].cur)
            await _Park()
        return True


class ThreadSafeFlag:
    """Set from an interrupt handler, awaited by one task; `wait` clears it."""

    def __init__(self):
        self.state = False
        self.waiter = None

    def set(self):
        self.state = True
        if self.waiter is not None:
            loop = _loop[0]
            loop.push(self.waiter, loop.clock.now_ms)
            self.waiter = None

    def clear(self):
        self.state = False

    async def wait(self):
        if not self.state:
            self.waiter = _loop[0].cur
            await _Park()
        self.state = False


async def gather(*aws):
    tasks = [a if isinstance(a, Task) else create_task(a) for a in aws]
    out = []
    for t in tasks:
        out.append(await t)
    return out


class Loop:
    """The scheduler: a heap of (wake_ms, seq, task) on the board's virtual clock."""

    def __init__(self, clock):
        self.clock = clock
        self.queue = []
        self.seq = 0
        self.cur = None
        self.error = None

    def push(self, task, t_ms):
        self.seq += 1
        task.seq = self.seq
        heapq.heappush(self.queue, (t_ms, self.seq, task))

    def create_task(self, coro):
        t = Task(coro)
        self.push(t, self.clock.now_ms)
        return t

    def _step(self, task):
        self.cur = task
        exc = task.throw_in
        task.throw_in = None
        try:
            if exc is None:
                task.coro.send(None)
            else:
                task.coro.throw(exc)
            return
        except StopIteration as e:
            task.value = e.value
        except CancelledError as e:
            task.exc = e
        except Exception as e:  # a crashed task is a firmware bug: stop the run loudly
            task.exc = e
            if not task.waiting:
                self.error = e
        finally:
            self.cur = None
        task.done = True
        for t in task.waiting:
            self.push(t, self.clock.now_ms)
        task.waiting = []

    def run_until(self, t_ms, stop=None):
        """Run every task due up to virtual time t_ms (or until stop() is true); return the time."""
        q = self.queue
        while q and q[0][0] <= t_ms:
            wake, seq, task = heapq.heappop(q)
            if task.done or seq != task.seq:
                continue
            if wake > self.clock.now_ms:
                self.clock.advance_to(wake)
            self._step(task)
            if self.error is not None:
                e = self.error
                self.error = None
                raise e
            if stop is not None and stop():
                return self.clock.now_ms
        self.clock.advance_to(t_ms)
        return t_ms

    def run_until_complete(self, task, limit_ms=None):
        limit = limit_ms if limit_ms is not None else self.clock.now_ms + 10 * 24 * 3600 * 1000
        self.run_until(limit, lambda: task.done)
        if not task.done:
            raise TimeoutError("task not finished by t=%d ms" % limit)
        if task.exc is not None:
            raise task.exc
        return task.value


_loop = [None]


def new_event_loop(clock):
    _loop[0] = Loop(clock)
    return _loop[0]


def get_event_loop():
    return _loop[0]


def current_task():
    return _loop[0].cur


def create_task(coro):
    return _loop[0].create_task(coro)


def run(coro):
    loop = _loop[0]
    return loop.run_until_complete(loop.create_task(coro))
