"""The robot: builds the parts for a board (docs/architecture.md) and runs them, the control tick
and the tasks that call it."""
import asyncio
import time
from railbot import alarms, commands
from railbot.blackbox import BlackBox
from railbot.hal import Hardware
from railbot.grip import gripper
from railbot.site import Site
from railbot.ledger import Ledger
from railbot.supervisor import Supervisor
from railbot.carriage import Carriage
from railbot.motion import pulse_cycles
from railbot.record import Record
from railbot.handling import Handling
from railbot.mission import Mission

_PARTS = ("sup", "carriage", "mission", "handling", "record")  # where __getattr__ looks, in this order


class Robot:
    """The composition: `sup` (state, alarms, tasks), `carriage` (axes, position, moves),
    `record` (flash), `handling` (gripper, pick and place) and `mission` (jobs). A part's state is
    read here by its own name too (`robot.alarm`, `robot.enc_steps`: __getattr__), for tests and
    the REPL; the firmware's parts always name the part."""

    def __init__(self, cfg, pins, emit=None, store=None):
        self.cfg = cfg
        t = cfg["timing"]
        self.tick_ms = t["tick_ms"]
        self.idle_tick_ms = t["idle_tick_ms"]
        self.cfg_path = None  # the board data file cfg came from (main.py sets it): `config set` writes it
        self.emit = emit if emit is not None else (lambda kind, fields: None)
        self.blackbox = BlackBox(self, store)  # wraps emit: every event from here on is kept
        self.tick_late_max_ms = 0  # the longest a control tick of a move came late (motion_task)
        text = store.load() if store is not None else None
        side = 1 if text is not None and "\ns=1\n" in text else 0
        xh, zh = pulse_cycles(cfg)
        self.hw = hw = Hardware(pins, t["watchdog_ms"], t["pio_hz"], xh, zh, side, cfg["x"]["marker_baud"])
        self.site = Site(cfg["site"])
        self.ledger = Ledger(self.site, cfg["site"]["units"])
        self.sup = Supervisor(self)
        self.carriage = c = Carriage(self, cfg, (xh, zh))
        self.x, self.z = c.x, c.z
        self.record = Record(self, store)
        self.handling = Handling(self, gripper(cfg["gripper"], pins, hw, self.sup))
        self.mission = Mission(self)
        hw.arm_safety(self.sup.on_safety)  # the e-stop and the limits on interrupts, once every part exists
        if hw.reset_by_watchdog:
            self.sup.trip(alarms.WATCHDOG_RESET, "reset cause")
        if text is not None:
            self.record.restore(text)
        elif store is not None and store.exists():
            self.sup.trip(alarms.LEDGER_INVALID, "stored record unreadable")
        elif hw.unit_present_sw.value() and not hw.jaw_open_sw.value() and not hw.port_latched_sw.value():
            self.sup.trip(alarms.LEDGER_INVALID, "a unit the ledger does not know is in the gripper")

    def __getattr__(self, name):
        """A part's field or method by its own name (only when the robot has no such attribute)."""
        if name not in _PARTS:  # a part not built yet is just missing
            for p in _PARTS:
                try:
                    return getattr(getattr(self, p), name)
                except AttributeError:
                    pass
        raise AttributeError(name)

    # --- the control tick: position read, supervision, step feed; allocates nothing ---------------
    def tick(self):
        hw, c, sup = self.hw, self.carriage, self.sup
        hw.wdt.feed()
        c.sense()
        if not sup.alarm:
            sup.check()
        x, z = c.x, c.z
        x.feed()
        z.feed()
        if sup.stopping and not x.busy() and not z.busy():
            hw.x_step.enable(False)
            hw.z_step.enable(False)
            sup.stopping = False

    async def supervise_task(self):
        c, record = self.carriage, self.record
        while True:
            if not c.moving:
                self.tick()
                if record.save_due:
                    record.save()
                self.blackbox.flush()  # at rest only (it checks): docs/storage.md, "The black box"
            await asyncio.sleep_ms(self.idle_tick_ms)

    async def motion_task(self):
        """The control tick every tick_ms while an axis moves. tick_late_max_ms keeps the longest a
        tick came later than that (anything that blocked the CPU meanwhile: the step ring's lead
        shrinks by as much; docs/motion.md, "What may block")."""
        c, record = self.carriage, self.record
        x, z = c.x, c.z
        while True:
            await c.motion.wait()
            c.motion.clear()
            last = -1  # the previous tick, if the move still had words to queue then
            while c.moving or x.busy() or z.busy():
                now = time.ticks_ms()
                if last >= 0:
                    late = time.ticks_diff(now, last) - self.tick_ms
                    if late > self.tick_late_max_ms:
                        self.tick_late_max_ms = late
                self.tick()
                last = now if x.planning() or z.planning() else -1
                await asyncio.sleep_ms(self.tick_ms)
            c.moving = False
            if record.save_due:
                record.save()
            self.blackbox.flush()

    def start(self):
        """Create the robot's tasks on the running event loop (once: a second call returns them)."""
        return self.sup.start((("supervise", self.supervise_task), ("motion", self.motion_task),
                               ("mission", self.mission.mission_task)))

    def command(self, line):
        """One command line -> one reply line, `ok ...` or `error: ...`; an error changes nothing."""
        return commands.run(self, line)
