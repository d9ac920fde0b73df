"""The supervisor: the robot's state (grbl-like names), alarms, the safety inputs of each control
tick, the controlled stop, and the tasks it restarts after a crash. Every other part asks it."""
import asyncio
import time
from micropython import const
from railbot import alarms, interlock

_ESTOP_SEEN = const(1)  # railbot.hal's Hardware.safety[0] bits
_LIMIT_SEEN = const(2)
_RESTARTS_MAX = const(5)  # a task that keeps crashing stays down (the watchdog has the last word)

# the robot's states; HOLD is reported while `hold` is set (status), the others are `state`
IDLE = "IDLE"
RUN = "RUN"
HOME = "HOME"
REREF = "REREF"
JOG = "JOG"
STOP = "STOP"
ALARM = "ALARM"


class Abort(Exception):
    """Unwinds a sequence when an alarm is raised; the alarm itself is the record."""


class Supervisor:
    def __init__(self, robot):
        self.r = robot
        self.state = IDLE
        self.alarm = 0
        self.alarm_detail = ""
        self.paused = False  # after `stop` or `reset`: no job starts until `resume`
        self.hold = False  # feed hold: ramp down, keep the job, wait for resume
        self.hold_started_ms = 0
        self.hold_standstill_ms = -1  # last hold: from the command to standstill
        self.stop_requested = False
        self.stopping = False  # an alarm's ramp-down: the drivers go off once both axes stand still
        self.tasks = None  # [name, coroutine function, args, task, restarts] of each task spawn() started
        self.crashes = 0  # tasks ended by an uncaught exception since boot
        self.wake = asyncio.Event()

    # --- alarms --------------------------------------------------------------------------------------
    def trip(self, code, detail=""):
        """Raise an alarm: stop category 1 (controlled ramp-down, then driver power off)."""
        if self.alarm:
            return
        c = self.r.carriage
        self.alarm = code
        self.alarm_detail = detail
        c.x.stop()
        c.z.stop()
        self.stopping = True
        self.state = ALARM
        if alarms.needs_homing(code):
            c.homed = False
        self.r.emit("alarm", (("code", code), ("name", alarms.name(code)), ("detail", detail)))
        self.wake.set()

    def on_safety(self, _):
        """The e-stop and hard-limit interrupts' second half (hal.Hardware.arm_safety schedules it):
        the step queues are cut at once, the carriage ramps down from where it is (an e-stop, stop
        category 1) or stays stopped (a hard limit: the handler already stopped the step programs
        and the drivers, category 0), then the alarm. The tick's check() sees the latched bits too."""
        hw, c = self.r.hw, self.r.carriage
        seen = hw.safety[0]
        hw.safety[1] = 0
        if seen & _LIMIT_SEEN:
            c.x.cut(False)
            c.z.cut(False)
            self.stopping = True
        elif seen & _ESTOP_SEEN:
            c.x.cut(True)
            c.z.cut(True)
        if not self.alarm:
            self.check()

    def check(self):
        """The control tick's safety inputs (no alarm standing); allocates nothing."""
        hw, c = self.r.hw, self.r.carriage
        seen = hw.safety[0]
        if seen & _ESTOP_SEEN or not hw.estop_in.value():
            self.trip(alarms.ESTOP)
        elif seen & _LIMIT_SEEN or hw.limit_min.value() or hw.limit_max.value():
            if self.state == HOME:  # seeking home, a limit means the home switch was missed
                self.trip(alarms.HOMING_FAILED, "hard limit reached without the home switch")
            else:
                self.trip(alarms.HARD_LIMIT)
        elif hw.x_diag.value():
            self.trip(alarms.DRIVER_FAULT)
        elif c.x.busy():
            code = interlock.traverse(hw, c.z.busy())
            if code:
                self.trip(code, interlock.why[0])
                return
            code = c.following_fault()
            if code:
                self.trip(code)

    def refuse(self, code):
        """An interlock refused an action (code != 0): the alarm names the rule; nothing starts."""
        if code:
            self.trip(code, interlock.why[0])
            raise Abort()

    def fail(self, code, detail):
        """Raise the alarm and unwind the sequence that found it."""
        self.trip(code, detail)
        raise Abort()

    def inputs_clear(self):
        """Why `reset` cannot clear an alarm yet ("" when it can): a rule-4 input still active, or
        an axis still ramping down."""
        hw, c = self.r.hw, self.r.carriage
        if not hw.estop_in.value():
            return "e-stop still open"
        if hw.limit_min.value() or hw.limit_max.value():
            return "a hard limit switch is still active"
        if hw.x_diag.value():
            return "driver still reports a fault"
        if c.x.busy() or c.z.busy():
            return "still stopping"
        return ""

    # --- waiting ------------------------------------------------------------------------------------
    async def wait(self, cond, timeout_ms):
        """Wait until cond() (True) or timeout_ms (False), a tick at a time; Abort on an alarm."""
        waited = 0
        tick_ms = self.r.tick_ms
        while True:
            if self.alarm:
                raise Abort()
            if cond():
                return True
            if waited >= timeout_ms:
                return False
            await asyncio.sleep_ms(tick_ms)
            waited += tick_ms

    async def until(self, cond, timeout_ms, code, detail):
        if not await self.wait(cond, timeout_ms):
            self.fail(code, detail)

    # --- the controlled stop when the event loop is left ---------------------------------------------
    def shutdown(self, limit_ms=3000):
        """Ctrl-C or a crash left the event loop: ramp both axes down here (PIO and DMA would keep
        stepping through the queued words), then the drivers off. A second Ctrl-C does not cut it short."""
        r = self.r
        c, hw = r.carriage, r.hw
        c.x.stop()
        c.z.stop()
        waited = 0
        while (c.x.busy() or c.z.busy()) and waited < limit_ms:
            try:
                hw.wdt.feed()
                c.x.feed()
                c.z.feed()
                time.sleep_ms(r.tick_ms)
                waited += r.tick_ms
            except KeyboardInterrupt:
                pass
        hw.x_step.enable(False)
        hw.z_step.enable(False)
        c.moving = False
        return waited

    # --- tasks ------------------------------------------------------------------------------------------
    def start(self, tasks):
        """Create `tasks` ((name, coroutine function), ...) on the running event loop and take over the
        loop's exception handler (once: a second call returns the tasks)."""
        if self.tasks is None:
            self.tasks = []
            asyncio.get_event_loop().set_exception_handler(self._on_crash)
            for name, fn in tasks:
                self.spawn(name, fn)
        return self.tasks

    def spawn(self, name, fn, *args):
        """Run fn(*args) as the task `name`, restarted by the crash handler (main.py's links too)."""
        entry = [name, fn, args, asyncio.create_task(fn(*args)), 0]
        self.tasks.append(entry)
        return entry[3]

    def task(self, name):
        """The running task `name` (its latest start), or None."""
        for e in self.tasks or ():
            if e[0] == name:
                return e[3]
        return None

    def _on_crash(self, loop, context):
        """The event loop's exception handler. On MicroPython only the main task's exception leaves
        asyncio.run: any other task that raises just ends, with a message. Whichever it was (the
        tick's tasks, the mission, a link), the queued steps are ramped down here at once, the
        drivers are switched off, an alarm is raised and the task is started again, so the robot
        still answers and waits for `reset` and `home` (docs/safety.md, "Task crashes")."""
        exc = context.get("exception")
        task = context.get("future")
        entry = None
        for e in self.tasks or ():
            if e[3] is task:
                entry = e
        name = entry[0] if entry is not None else "a task"
        self.crashes += 1
        detail = "%s in %s: %s" % (type(exc).__name__, name, exc)
        self.trip(alarms.TASK_CRASH, detail)
        self.shutdown()  # the control tick may be the task that died: ramp down here, drivers off
        self.stopping = False
        self.hold = False
        self.r.mission.forget()
        self.r.record.settle()  # a unit in transit is placed by the gripper's sensors, as after a reset
        self.r.emit("task_crash", (("task", name), ("error", detail)))
        try:
            import sys
            sys.print_exception(exc)
        except (ImportError, AttributeError):
            pass
        if entry is not None and entry[4] < _RESTARTS_MAX:
            entry[4] += 1
            entry[3] = asyncio.create_task(entry[1](*entry[2]))
