"""The simulated board's `asyncio`: the subset of MicroPython's asyncio the firmware uses, on the virtual clock.

Semantics follow MicroPython's asyncio: a task yields only at an `await`; `sleep_ms(0)` lets
the others run; tasks that wake at the same time run in the order they were scheduled. Time
moves only when every runnable task has yielded, so a day of the car park runs as fast as the
host can compute it (or paced, see `vclock.Clock.speed`).

A task's exception is MicroPython's too (extmod/asyncio/core.py): only the main task's leaves
`run`/`run_until_complete`; a task nobody awaits is queued once more and then handed to the
loop's exception handler ("Task exception wasn't retrieved"; the default one prints it), and
the loop goes on without it. A `Halt` (the board resets or loses power) is no task's exception:
it leaves the loop at once, as a real reset leaves nothing running.
"""
import heapq
import sys
from simboard import vclock


class Halt(BaseException):
    """The board stops running (simboard.machine.BoardReset): out of every task and the loop."""


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
        self.unretrieved = False  # ended on an exception nobody has awaited (yet)

    def __iter__(self):
        if not self.done:
            self.waiting.append(_loop[0].cur)
            yield
        if self.exc is not None:
            self.unretrieved = False
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
        self.main = None  # the task run_until_complete runs: its exception leaves the loop
        self.handler = None  # set_exception_handler's; None: default_exception_handler
        self.unretrieved = []  # exceptions the default handler reported, for tests to look at

    def set_exception_handler(self, handler):
        self.handler = handler

    def get_exception_handler(self):
        return self.handler

    def call_exception_handler(self, context):
        (self.handler or default_exception_handler)(self, context)

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
        except Exception as e:
            task.exc = e
            if not task.waiting and task is not self.main:
                # nobody awaits it: queued once more, then reported (another task may take it first)
                task.unretrieved = True
                self.push(task, self.clock.now_ms)
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
            if seq != task.seq:
                continue
            if task.done:
                if task.unretrieved:
                    task.unretrieved = False
                    self.call_exception_handler(
                        {"message": "Task exception wasn't retrieved", "exception": task.exc, "future": task})
                continue
            if wake > self.clock.now_ms:
                self.clock.advance_to(wake)
            self._step(task)
            if stop is not None and stop():
                return self.clock.now_ms
        self.clock.advance_to(t_ms)
        return t_ms

    def run_until_complete(self, task, limit_ms=None):
        self.main = task
        limit = limit_ms if limit_ms is not None else self.clock.now_ms + 10 * 24 * 3600 * 1000
        self.run_until(limit, lambda: task.done)
        if not task.done:
            raise TimeoutError("task not finished by t=%d ms" % limit)
        if task.exc is not None:
            raise task.exc
        return task.value


def default_exception_handler(loop, context):
    """MicroPython's default: print the message, the task and the traceback; the loop goes on."""
    exc = context["exception"]
    loop.unretrieved.append(exc)
    print(context["message"])
    print("future:", context["future"], "coro=", context["future"].coro)
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stdout)


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
