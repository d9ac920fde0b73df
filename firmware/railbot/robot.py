"""The robot: control tick, safety supervision, homing, pick and place, the job queue, the command interface."""
import asyncio
import time
from micropython import const
from railbot import alarms, interlock
from railbot.hal import Hardware
from railbot.grip import gripper
from railbot.motion import Axis
from railbot.site import Site
from railbot.ledger import Ledger, CARRIED, UNKNOWN, FREE, SERVING, IN_USE
from railbot.unitsense import cp_read, holster_in

_FAST_TRIES = const(4)  # fast moves towards a station's approach point (lost steps leave it short)
_CORRECTIONS = const(3)  # short moves after the marker re-reference
_TRAVEL_CAP = const(0x400000)  # travel counters stop here: limits stay small ints
_RESTARTS_MAX = const(5)  # a task that keeps crashing stays down (the watchdog has the last word)


class Abort(Exception):
    """Unwinds a sequence when an alarm is raised; the alarm itself is the record."""


def _steady(pin, level, n, where):
    """A check, true once `pin` has read `level` n times in a row (one reading a call); `first[0]`
    then holds where() at the first reading of that run: the edge, without the debounce's lag."""
    run = [0]
    first = [0]

    def check():
        if pin.value() == level:
            if run[0] == 0:
                first[0] = where()
            run[0] += 1
        else:
            run[0] = 0
        return run[0] >= n

    return check, first


def _mm(steps, per_mm):
    v = steps * 100 // per_mm
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    return "%s%d.%02d" % (sign, v // 100, v % 100)


def _cycles(ns, hz):
    """State-machine cycles covering ns nanoseconds at hz (at least 2: the step program's minimum)."""
    c = (ns * (hz // 1000000) + 999) // 1000
    return c if c > 2 else 2


def _axis(out, c, hz, high, track):
    """The planner for one axis from its board data: trapezoidal, or S-curve with `jerk_mm_s3`;
    `track` keeps the per-word records following_error() needs (the carriage, not the lift)."""
    setup = _cycles(c["dir_setup_ns"], hz)
    if c["jerk_mm_s3"]:
        from railbot.scurve import JerkAxis  # only boards that use it pay for the module

        return JerkAxis(out, c["steps_per_mm"], c["v_max_mm_s"], c["a_max_mm_s2"], c["jerk_mm_s3"], hz, high,
                        setup, track)
    return Axis(out, c["steps_per_mm"], c["v_max_mm_s"], c["a_max_mm_s2"], hz, high, setup, track)


class Robot:
    def __init__(self, cfg, pins, emit=None, store=None):
        self.cfg = cfg
        t = cfg["timing"]
        self.tick_ms = t["tick_ms"]
        self.idle_tick_ms = t["idle_tick_ms"]
        cx, cz = cfg["x"], cfg["z"]
        hz = t["pio_hz"]
        xh, zh = _cycles(cx["step_pulse_ns"], hz), _cycles(cz["step_pulse_ns"], hz)
        self.store = store  # railbot.store.Store: the ledger and the unfinished job on flash (None: not kept)
        self.cfg_path = None  # the board data file cfg came from (main.py sets it): `config set` writes it
        record = store.load() if store is not None else None
        side = 1 if record is not None and "\ns=1\n" in record else 0
        self.hw = hw = Hardware(pins, t["watchdog_ms"], hz, xh, zh, side, cx["marker_baud"])
        self.gripper = gripper(cfg["gripper"], pins, hw, self)
        self.x = _axis(hw.x_step, cx, hz, xh, True)
        self.z = _axis(hw.z_step, cz, hz, zh, False)  # no measuring system on the lift
        self.x_spm = cx["steps_per_mm"]
        self.z_spm = cz["steps_per_mm"]
        self.z_clear = cz["engage_mm"] * self.z_spm // 2  # below this the head is clear of the ports
        self.x_cpm = cx["counts_per_mm"]
        self.fe_max_steps = cx["following_error_max_mm"] * self.x_spm
        self.slip_pct = cx["slip_max_pct"]
        self.loss_pct = cx["drive_loss_max_pct"]
        self.enc_fault_steps = cx["encoder_fault_mm"] * self.x_spm
        self.win_steps = cx["marker_window_mm"] * self.x_spm
        self.travel_steps = cx["travel_mm"] * self.x_spm
        self.creep_steps = cx["creep_mm"] * self.x_spm
        self.corr_steps = (self.x_spm + 3) // 4  # a stop closer than a quarter millimetre is done
        # every marker: its tag id and its rail position in steps
        st = cfg["site"]["stations"]
        self.marker_id = [st["first_id"] + i for i in range(st["count"])] + [d["id"] for d in cfg["site"]["docks"]]
        self.marker_x = [(st["first_x_mm"] + i * st["pitch_mm"]) * self.x_spm for i in range(st["count"])] + \
            [d["x_mm"] * self.x_spm for d in cfg["site"]["docks"]]
        self.site = Site(cfg["site"])
        self.ledger = Ledger(self.site, cfg["site"]["units"])
        self.emit = emit if emit is not None else (lambda kind, fields: None)
        self.state = "IDLE"
        self.alarm = 0
        self.alarm_detail = ""
        self.homed = False
        self.paused = False
        self.hold = False  # feed hold: ramp down, keep the job, wait for resume
        self.hold_started_ms = 0
        self.hold_standstill_ms = -1  # last hold: from the command to standstill
        self.home_requested = False
        self.jog_target = -1  # a pending jog target in steps (soft limits keep it >= 0), -1 = none
        self.stopping = False
        self.jobs = []  # bays, first come first served
        self.busy_bay = 0
        self.enc_steps = 0
        self.enc_raw = 0  # the wheel's count as last read
        self.x_shift = 0  # steps added to the wheel's reading: its re-reference at the markers
        self.tick_us = time.ticks_us()
        self.x_dir = 1  # direction of the last X move
        self.ref_travel = 0  # wheel travel (steps) since the position was last referenced at standstill
        self.mark_travel = 0  # wheel travel (steps) since the last marker or reference
        self.still_raw = 0  # count and following error when the count last changed (encoder fault)
        self.still_fe = 0
        self.tags_seen = 0
        self.last_tag = -1
        self.at_station = -1  # station id of the last completed station stop, -1 after any other move
        self.referenced = False  # homed once since boot: a position estimate exists for `reref`
        self.rerefing = False
        self.reref_requested = False
        self.stop_requested = False
        self.approach_ms = 0  # last station stop: time from the end of the fast move to arrival
        self.transit_unit = 0  # the unit being picked or placed (journalled), 0 = none
        self.transit_to = 0  # ... and where to: CARRIED, or a port index
        self.manual = None  # a technician's `lift` or `grip` command waiting for the mission task
        self.tasks = None  # [name, coroutine function, args, task, restarts] of each task spawn() started
        self.crashes = 0  # tasks ended by an uncaught exception since boot
        self.tick_late_max_ms = 0  # the longest a control tick of a move came late (motion_task)
        self.save_due = False  # a save asked for while an axis moved: made at the next standstill
        self.wake = asyncio.Event()
        self.motion = asyncio.Event()
        self.moving = False
        self.x.set_position(self._read_encoder())
        if hw.reset_by_watchdog:
            self.trip(alarms.WATCHDOG_RESET, "reset cause")
        if record is not None:
            self._restore(record)
        elif store is not None and store.exists():
            self.trip(alarms.LEDGER_INVALID, "stored record unreadable")
        elif hw.unit_present_sw.value() and not hw.jaw_open_sw.value() and not hw.port_latched_sw.value():
            self.trip(alarms.LEDGER_INVALID, "a unit the ledger does not know is in the gripper")

    # --- the record on flash: the ledger, the requests, the unit in transit -----------------------
    def save(self):
        """Persist the ledger, the requests and the unit in transit (atomically: railbot/store.py).
        Not while an axis moves: a flash erase stops the CPU (interrupts off, 45 ms typical, 400 ms
        at worst) for longer than the step ring's lead, so the save waits for the next standstill
        (save_due; docs/storage.md, "Saves and motion"). False when it waits."""
        if self.store is None:
            return True
        if self.x.busy() or self.z.busy():
            self.save_due = True
            return False
        self.save_due = False
        self.store.save("%sj=%s\nt=%d,%d\ns=%d\n" % (
            self.ledger.dump(), ",".join("%d" % b for b in self.jobs), self.transit_unit, self.transit_to,
            self.hw.side_sel.value()))
        return True

    def _restore(self, record):
        """After a reset: take the record, then place the unit that was in transit by what the gripper's
        sensors say now (no motion): still latched where it was, carried, or, if neither can be
        true, unknown (an alarm). docs/storage.md has the cases."""
        jobs, transit = [], (0, 0)
        try:
            for line in record.split("\n"):
                if line.startswith("j="):
                    jobs = [int(b) for b in line[2:].split(",") if b]
                elif line.startswith("t="):
                    u, d = line[2:].split(",")
                    transit = (int(u), int(d))
        except ValueError:
            jobs = None
        led = self.ledger
        uid, dest = transit
        if jobs is None or not self.ledger.load(record) or (uid and uid not in led.port) \
                or [b for b in jobs if not 1 <= b <= self.site.bays] or not -1 <= dest < self.site.ports:
            self.trip(alarms.LEDGER_INVALID, "stored record unreadable")
            return
        self.jobs = jobs
        self.transit_unit, self.transit_to = uid, dest
        hw = self.hw
        held = 0 if uid else led.carried()
        self._settle()
        gripped = hw.unit_present_sw.value() and not hw.jaw_open_sw.value()
        if held and not gripped:
            led.port[held] = UNKNOWN
            self.save()
        elif gripped and not led.carried() and not hw.port_latched_sw.value():
            self.trip(alarms.LEDGER_INVALID, "a unit the ledger does not know is in the gripper")
        self.emit("restored", (("ledger", led.describe()), ("jobs", len(jobs))))
        lost = led.unit_at(UNKNOWN)
        if lost:
            self.emit("unit_missing", (("unit", lost), ("port", "gripper")))
            self.trip(alarms.UNIT_MISSING, "unit %d not in the gripper after reset" % lost)

    def _settle(self):
        """Place the unit in transit by what the gripper's sensors say now, without moving: in closed
        jaws at a latch, it is at the port it was leaving or going into; in closed jaws without one,
        carried; with the jaws empty, still at the port it was leaving (a port lets go only into
        closed jaws), or, on its way into a port, unknown. Then the journal is closed."""
        uid, dest, led, hw = self.transit_unit, self.transit_to, self.ledger, self.hw
        if not uid:
            return
        if hw.unit_present_sw.value() and not hw.jaw_open_sw.value():
            if not hw.port_latched_sw.value():
                led.port[uid] = CARRIED
            elif dest != CARRIED:
                led.port[uid] = dest
        elif dest != CARRIED:
            led.port[uid] = UNKNOWN
        self.transit_unit = 0
        self.save()

    # --- control tick: position read, supervision, step feed; allocates nothing -------------------
    def _read_encoder(self):
        self.enc_raw = self.hw.encoder.count()
        self.enc_steps = self.enc_raw * self.x_spm // self.x_cpm + self.x_shift
        return self.enc_steps

    def tick(self):
        hw = self.hw
        hw.wdt.feed()
        prev = self.enc_steps
        self._read_encoder()
        d = self.enc_steps - prev
        now = time.ticks_us()
        dt = time.ticks_diff(now, self.tick_us)
        self.tick_us = now
        if d:
            a = d if d > 0 else -d
            if self.ref_travel < _TRAVEL_CAP:
                self.ref_travel += a
            if self.mark_travel < _TRAVEL_CAP:
                self.mark_travel += a
        tag = hw.marker.poll()
        if tag >= 0:
            hw.marker.forget()
            self._on_marker(tag, d, dt)
        if not self.alarm:
            self._supervise()
        self.x.feed()
        self.z.feed()
        if self.stopping and not self.x.busy() and not self.z.busy():
            hw.x_step.enable(False)
            hw.z_step.enable(False)
            self.stopping = False

    def _supervise(self):
        hw = self.hw
        if not hw.estop_in.value():
            self.trip(alarms.ESTOP)
        elif hw.limit_min.value() or hw.limit_max.value():
            if self.state == "HOME":  # seeking home, a limit means the home switch was missed
                self.trip(alarms.HOMING_FAILED, "hard limit reached without the home switch")
            else:
                self.trip(alarms.HARD_LIMIT)
        elif hw.x_diag.value():
            self.trip(alarms.DRIVER_FAULT)
        elif self.x.busy():
            code = interlock.traverse(hw, self.z.busy())
            if code:
                self.trip(code, interlock.why[0])
                return
            fe = self.x.following_error(self.enc_steps)
            if self.enc_raw != self.still_raw:
                self.still_raw = self.enc_raw
                self.still_fe = fe
            elif fe - self.still_fe > self.enc_fault_steps:
                self.trip(alarms.ENCODER_FAULT)
                return
            # the wheel under-reads by up to slip_max_pct since the last marker; lost drive steps
            # (up to drive_loss_max_pct) stay in the error until the next stop referenced at a marker
            if fe > self.fe_max_steps + (self.mark_travel * self.slip_pct + self.ref_travel * self.loss_pct) // 100:
                self.trip(alarms.FOLLOWING_ERROR)

    def _on_marker(self, tag, d, dt):
        """A tag line: re-reference the wheel to the marker's edge. The tag entered the window
        (its line, 1 + digits + 1 bytes on the reader's line) plus on average half a tick ago."""
        self.last_tag = tag
        self.tags_seen += 1
        if not (self.homed or self.rerefing):
            return
        sx = -1
        for i in range(len(self.marker_id)):
            if self.marker_id[i] == tag:
                sx = self.marker_x[i]
        if sx < 0:
            self.trip(alarms.POSITION_LOST, "unknown marker")
            return
        direction = 1 if d > 0 else -1 if d < 0 else self.x_dir
        edge = sx - direction * self.win_steps
        nbytes = 3 if tag < 10 else 4 if tag < 100 else 5  # 10 bits a byte at marker_baud
        since = d * (nbytes * 10000000 // self.cfg["x"]["marker_baud"] + dt // 2) // dt if dt > 0 else 0
        shift = edge + since - self.enc_steps
        self.x_shift += shift
        self.enc_steps += shift
        self.mark_travel = 0

    def trip(self, code, detail=""):
        """Raise an alarm: stop category 1 (controlled ramp-down, then driver power off)."""
        if self.alarm:
            return
        self.alarm = code
        self.alarm_detail = detail
        self.x.stop()
        self.z.stop()
        self.stopping = True
        self.state = "ALARM"
        if alarms.needs_homing(code):
            self.homed = False
        self.emit("alarm", (("code", code), ("name", alarms.name(code)), ("detail", detail)))
        self.wake.set()

    def shutdown(self, limit_ms=3000):
        """Ctrl-C or a crash left the event loop: ramp both axes down here (PIO and DMA would keep
        stepping through the queued words), then the drivers off. A second Ctrl-C does not cut it short."""
        self.x.stop()
        self.z.stop()
        waited = 0
        while (self.x.busy() or self.z.busy()) and waited < limit_ms:
            try:
                self.hw.wdt.feed()
                self.x.feed()
                self.z.feed()
                time.sleep_ms(self.tick_ms)
                waited += self.tick_ms
            except KeyboardInterrupt:
                pass
        self.hw.x_step.enable(False)
        self.hw.z_step.enable(False)
        self.moving = False
        return waited

    async def supervise_task(self):
        while True:
            if not self.moving:
                self.tick()
                if self.save_due:
                    self.save()
            await asyncio.sleep_ms(self.idle_tick_ms)

    async def motion_task(self):
        """The control tick every tick_ms while an axis moves. tick_late_max_ms keeps the longest a
        tick came later than that (anything that blocked the CPU meanwhile: the step ring's lead
        shrinks by as much; docs/motion.md, "What may block")."""
        while True:
            await self.motion.wait()
            self.motion.clear()
            last = -1  # the previous tick, if the move still had words to queue then
            while self.moving or self.x.busy() or self.z.busy():
                now = time.ticks_ms()
                if last >= 0:
                    late = time.ticks_diff(now, last) - self.tick_ms
                    if late > self.tick_late_max_ms:
                        self.tick_late_max_ms = late
                self.tick()
                last = now if self.x.planning() or self.z.planning() else -1
                await asyncio.sleep_ms(self.tick_ms)
            self.moving = False
            if self.save_due:
                self.save()

    # --- waiting, moving ---------------------------------------------------------------------------
    async def _wait(self, cond, timeout_ms):
        """Wait until cond() (True) or timeout_ms (False), a tick at a time; Abort on an alarm."""
        waited = 0
        while True:
            if self.alarm:
                raise Abort()
            if cond():
                return True
            if waited >= timeout_ms:
                return False
            await asyncio.sleep_ms(self.tick_ms)
            waited += self.tick_ms

    async def _until(self, cond, timeout_ms, code, detail):
        if not await self._wait(cond, timeout_ms):
            self.trip(code, detail)
            raise Abort()

    def _check(self, code):
        """An interlock refused an action (code != 0): the alarm names the rule; nothing starts."""
        if code:
            self.trip(code, interlock.why[0])
            raise Abort()

    def _start(self, axis, target, v_mm_s):
        """Plan the move, prime the FIFO at once and wake the 10 ms motion task. Every move of either
        axis starts here, behind its interlock (rule 2; rule 3 for the lift rising into a port)."""
        if axis is self.x:
            self._check(interlock.traverse(self.hw, self.z.busy()))
        else:
            self._check(interlock.lift(self.hw, self.x.busy(), target > axis.pos and target > self.z_clear))
        axis.out.enable(True)  # off after an alarm's stop; a move after its reset powers it again
        axis.move_to(target, v_mm_s)
        if axis is self.x:
            self.still_raw = self.enc_raw
            self.still_fe = axis.following_error(self.enc_steps)
        self.moving = True
        self.tick()
        self.motion.set()

    async def _run_axis(self, axis, target, v_mm_s=0, until=None):
        """Move one axis; return early (after a controlled stop) when until() becomes true."""
        if self.alarm:
            raise Abort()
        self._start(axis, target, v_mm_s)
        hit = False
        try:
            while axis.busy():
                await asyncio.sleep_ms(self.tick_ms)
                if self.alarm:
                    raise Abort()
                if until is not None and not hit and until():
                    hit = True
                    axis.stop()
                if self.stop_requested and axis is self.x and not hit:
                    axis.stop()  # `stop`: ramp down and abandon the move
                    while axis.busy():
                        await asyncio.sleep_ms(self.tick_ms)
                    raise Abort()
                if self.hold and not hit:
                    await self._hold(axis)
                    self._start(axis, target, v_mm_s)  # from where it stopped
        finally:
            self.moving = False  # the motion task still ticks until the axes are idle
        return hit or (until is not None and until())

    async def _hold(self, axis):
        """Feed hold: ramp down with what is queued, stand still until resume (or an alarm)."""
        axis.stop()
        while axis.busy():
            await asyncio.sleep_ms(self.tick_ms)
            if self.alarm:
                raise Abort()
        self.hold_standstill_ms = time.ticks_diff(time.ticks_ms(), self.hold_started_ms)
        self.emit("held", (("standstill_ms", self.hold_standstill_ms),))
        self.moving = False
        while self.hold:
            self.wake.clear()
            await self.wake.wait()
            if self.alarm or self.stop_requested:
                raise Abort()

    def _before_traverse(self, target):
        if self.stop_requested:
            raise Abort()
        self._check(interlock.traverse(self.hw, self.z.busy()))
        if not 0 <= target <= self.travel_steps:
            self.trip(alarms.SOFT_LIMIT, "x " + _mm(target, self.x_spm))
            raise Abort()

    async def _move_x_by(self, delta, v_mm_s=0, until=None):
        """Move the carriage by delta steps (of the wheel's estimate) from where it stands."""
        if self.stop_requested:
            raise Abort()
        self.x_dir = 1 if delta >= 0 else -1
        self.at_station = -1
        return await self._run_axis(self.x, self.x.pos + delta, v_mm_s, until)

    async def move_x(self, target_steps, v_mm_s=0):
        """A plain move (jog, pull-off) to target_steps within 0..travel; no marker approach."""
        self._before_traverse(target_steps)
        await self._move_x_by(target_steps - self._read_encoder(), v_mm_s)
        # the wheel may be off by the slip since the last marker and the lost steps since the last reference
        tol = self.cfg["x"]["arrive_tolerance_mm"] * self.x_spm + (
            self.mark_travel * self.slip_pct + self.ref_travel * self.loss_pct) // 100
        err = self._read_encoder() - target_steps
        if err > tol or err < -tol:
            self.trip(alarms.FOLLOWING_ERROR, "arrival off by %d steps" % err)
            raise Abort()

    def _slip_allow(self, target, dirn, dist):
        """What the wheel may under-read by when the carriage reaches `target`: slip over the travel
        since the last marker it will have passed (the one nearest before target, or none)."""
        since = self.mark_travel + dist
        here = self.enc_steps
        w = self.win_steps
        for mx in self.marker_x:
            if mx != target and (mx - here) * dirn > w and (target - mx) * dirn > 0:
                d = (target - mx) * dirn
                if d < since:
                    since = d
        return since * self.slip_pct // 100

    async def move_to_station(self, target, station):
        """Stop at a station's port position to the millimetre: fast to just before its marker window,
        creep until the marker is read (the wheel is re-referenced to its edge), then correct."""
        self._before_traverse(target)
        self.at_station = -1
        w, spm = self.win_steps, self.x_spm
        for _ in range(_FAST_TRIES):  # lost steps leave a long move short: go again
            rem = target - self._read_encoder()
            dirn = 1 if rem >= 0 else -1
            allow = w + self.creep_steps + self._slip_allow(target, dirn, rem * dirn)
            if rem * dirn <= allow:
                break
            await self._move_x_by(dirn * (rem * dirn - allow))
        t_fast = time.ticks_ms()
        rem = target - self._read_encoder()
        dirn = 1 if rem >= 0 else -1
        slack = self.mark_travel * self.slip_pct // 100 + spm
        if rem * dirn < w + slack:  # (maybe) inside the window: no entry to see, back out first
            back = target - dirn * (w + self.creep_steps + slack)
            back = 0 if back < 0 else self.travel_steps if back > self.travel_steps else back
            await self._move_x_by(back - self.enc_steps)
            rem = target - self._read_encoder()
            dirn = 1 if rem >= 0 else -1
        seen = self.tags_seen
        end = target + dirn * w
        end = 0 if end < 0 else self.travel_steps if end > self.travel_steps else end
        if not await self._move_x_by(end - self.enc_steps, self.cfg["x"]["creep_speed_mm_s"], lambda: self.tags_seen != seen):
            self.trip(alarms.POSITION_LOST, "no marker %d" % station)
            raise Abort()
        if self.last_tag != station:
            self.trip(alarms.POSITION_LOST, "marker %d, not %d" % (self.last_tag, station))
            raise Abort()
        for _ in range(_CORRECTIONS):
            err = target - self._read_encoder()
            if -self.corr_steps <= err <= self.corr_steps:
                break
            await self._move_x_by(err, self.cfg["x"]["creep_speed_mm_s"])
        err = self._read_encoder() - target
        tol = self.cfg["x"]["arrive_tolerance_mm"] * spm
        if err > tol or err < -tol:
            self.trip(alarms.FOLLOWING_ERROR, "arrival off by %d steps" % err)
            raise Abort()
        self._referenced_here()
        self.at_station = station
        self.approach_ms = time.ticks_diff(time.ticks_ms(), t_fast)

    def _referenced_here(self):
        """Standing still where the position is known: commanded position := the estimate."""
        self.x.set_position(self.enc_steps)
        self.ref_travel = 0
        self.mark_travel = 0

    async def move_z(self, target_mm):
        if not 0 <= target_mm <= self.cfg["z"]["travel_mm"]:
            self.trip(alarms.SOFT_LIMIT, "z %d" % target_mm)
            raise Abort()
        await self._run_axis(self.z, target_mm * self.z_spm)

    async def stow(self):
        await self.move_z(0)
        await self._until(lambda: self.hw.z_stow_sw.value(), 500, alarms.LIFT_TIMEOUT, "stow switch")

    # --- homing ------------------------------------------------------------------------------------
    async def _home_lift(self):
        """Lift: down to the stow switch, up until it releases, back until it is made again: z = 0.
        The switch counts only after `home_debounce_samples` equal readings in a row (one a tick)."""
        hw, cz = self.hw, self.cfg["z"]
        n = cz["home_debounce_samples"]
        if hw.unit_present_sw.value() and hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
            await self.grip(False)  # a reset while gripping a latched unit: let go, it stays where it is
        if not hw.z_stow_sw.value():
            self.z.set_position(cz["travel_mm"] * self.z_spm * 3 // 2)
            if not await self._run_axis(self.z, 0, cz["home_speed_mm_s"], _steady(hw.z_stow_sw, 1, n, lambda: 0)[0]):
                self.trip(alarms.HOMING_FAILED, "lift stow switch not found")
                raise Abort()
        self.z.set_position(0)
        await self._run_axis(self.z, cz["pull_off_mm"] * self.z_spm, 1, _steady(hw.z_stow_sw, 0, n, lambda: 0)[0])
        if not await self._run_axis(self.z, -cz["pull_off_mm"] * self.z_spm, 1, _steady(hw.z_stow_sw, 1, n, lambda: 0)[0]):
            self.trip(alarms.HOMING_FAILED, "lift stow switch did not return")
            raise Abort()
        self.z.set_position(0)  # just inside the stow switch: z = 0 is always stowed

    async def home(self):
        hw, cx = self.hw, self.cfg["x"]
        self.state = "HOME"
        self.homed = False  # no marker re-references while the switch defines the zero
        self.emit("homing", ())
        hw.x_step.enable(True)
        hw.z_step.enable(True)
        await self._home_lift()
        # carriage: seek the home switch (1.5 x travel), locate its releasing edge slowly, pull off;
        # the switch counts only after `home_debounce_samples` equal readings in a row (one a tick)
        n = cx["home_debounce_samples"]
        self.x.set_position(self._read_encoder())
        seen = [self.enc_steps]
        if not hw.home_sw.value():
            found, seen = _steady(hw.home_sw, 1, n, self._read_encoder)
            seek = self.x.pos - cx["travel_mm"] * self.x_spm * 3 // 2
            if not await self._run_axis(self.x, seek, cx["home_speed_mm_s"], found):
                self.trip(alarms.HOMING_FAILED, "home switch not found within 1.5 x travel")
                raise Abort()
        self.x.set_position(self._read_encoder())
        locate, edge = _steady(hw.home_sw, 0, n, self._read_encoder)
        # back over the overshoot (twice what the seek ran past the switch) plus the pull-off allowance
        span = 2 * (seen[0] - self.x.pos) + 4 * cx["pull_off_mm"] * self.x_spm
        if not await self._run_axis(self.x, self.x.pos + span, cx["locate_speed_mm_s"], locate):
            self.trip(alarms.PULL_OFF_FAILED, "home switch still made after %s mm" % _mm(span, self.x_spm))
            raise Abort()
        hw.encoder.offset += edge[0] * self.x_cpm // self.x_spm
        self.x.set_position(self._read_encoder())
        self._referenced_here()
        await self.move_x(cx["pull_off_mm"] * self.x_spm)
        self._referenced_here()
        self.homed = True
        self.referenced = True
        self.paused = False
        self.state = "IDLE"
        self.emit("homed", (("x_steps", self.enc_steps),))

    async def reref(self):
        """Re-establish the position at the nearest station marker (after an alarm lost it): stow the
        lift, search towards the marker the estimate says is nearest at home speed, at most
        reref_search_mm (more than the widest gap between markers); its edge gives the position."""
        hw, cx = self.hw, self.cfg["x"]
        self.state = "REREF"
        self.homed = False
        self.emit("rereferencing", ())
        hw.x_step.enable(True)
        hw.z_step.enable(True)
        await self._home_lift()
        if not hw.z_stow_sw.value():
            self.trip(alarms.LIFT_NOT_STOWED, "before the marker search")
            raise Abort()
        here = self._read_encoder()
        best = self.marker_x[0]
        for mx in self.marker_x:
            if abs(mx - here) < abs(best - here):
                best = mx
        dirn = 1 if best >= here else -1
        self._referenced_here()
        seen = self.tags_seen
        self.rerefing = True
        try:
            found = await self._move_x_by(dirn * cx["reref_search_mm"] * self.x_spm, cx["home_speed_mm_s"],
                                          lambda: self.tags_seen != seen)
        finally:
            self.rerefing = False
        if not found or self.alarm:
            self.trip(alarms.POSITION_LOST, "no marker")
            raise Abort()
        self._referenced_here()
        self.homed = True
        self.paused = False
        self.state = "IDLE"
        self.emit("rereferenced", (("marker", self.last_tag), ("x_steps", self.enc_steps)))

    # --- gripper and unit sense --------------------------------------------------------------------
    async def grip(self, close):
        if not close:
            self._check(interlock.open_jaws(self.hw))
        code = await self.gripper.move(close)  # the 1 kHz grip loop (railbot/grip.py)
        if code or self.alarm:
            self.trip(code, self.gripper.detail)
            raise Abort()

    def cable_in_use(self):
        """Rule 1, read through the gripper: "" when the gun is holstered and the pilot reads A (no
        vehicle), else why not: "gun out of holster, pilot <state>" or "control pilot state <state>"."""
        state = cp_read(self.hw.pilot)
        if not holster_in(self.hw.holster_sw):
            return "gun out of holster, pilot " + state
        if state != "A":
            return "control pilot state " + state
        return ""

    def _unit_in_use(self, uid, name, why):
        if why == "gun out of holster, pilot A":  # no vehicle on it: the car left with the gun out
            self.emit("gun_left_out", (("unit", uid), ("port", name)))
        self.emit("unit_in_use", (("unit", uid), ("port", name), ("why", why)))
        self.ledger.state[uid] = IN_USE

    async def _make_safe(self):
        """After a handling alarm (not one of rule 4's: those stop all motion): let go of a unit that
        is latched, keep a carried one gripped, bring the lift down to stowed. The alarm stands;
        a new one raised on the way stands instead."""
        code, detail = self.alarm, self.alarm_detail
        if not code or alarms.needs_homing(code):
            return
        hw = self.hw
        self.alarm = 0
        self.stopping = False
        try:
            if hw.unit_present_sw.value() and hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
                await self.grip(False)
            await self.stow()
        except Abort:
            pass
        if not self.alarm:
            self.alarm, self.alarm_detail, self.stopping, self.state = code, detail, True, "ALARM"

    async def _handling(self, step):
        """Run one pick or place; a handling alarm on the way ends in the safe state."""
        try:
            return await step
        except Abort:
            self._settle()  # before the safe state changes what the jaws hold
            await self._make_safe()
            raise

    def _transit(self, uid, dest):
        """Journal the unit about to move (0: none) and where to: written before the first physical
        step, so that after a power cut the robot knows which unit its sensors must place."""
        self.transit_unit = uid
        self.transit_to = dest
        self.save()

    async def go_to_port(self, port):
        self.hw.side_sel.value(0)
        target = self.site.port_x_mm[port] * self.x_spm
        station = self.site.port_station[port]
        err = target - self._read_encoder()
        if self.at_station != station or not -self.corr_steps <= err <= self.corr_steps:
            await self.move_to_station(target, station)
        self.hw.side_sel.value(self.site.port_side[port])

    async def pick(self, uid):
        """Take unit uid from its port; False (unit untouched, still latched) if its cable is in use."""
        return await self._handling(self._pick(uid))

    async def _pick(self, uid):
        hw, port, pp = self.hw, self.ledger.port[uid], self.cfg["pick_place"]
        name = self.site.port_names[port]
        await self.go_to_port(port)
        if not hw.port_occupied_sw.value():
            self.ledger.port[uid] = UNKNOWN
            self.emit("unit_missing", (("unit", uid), ("port", name)))
            self.save()
            self.trip(alarms.UNIT_MISSING, "unit %d not at %s" % (uid, name))
            raise Abort()
        self._transit(uid, CARRIED)
        await self.grip(False)
        await self.move_z(self.cfg["z"]["engage_mm"])
        await self._until(lambda: hw.port_latched_sw.value(), pp["present_timeout_ms"], alarms.GRIP_FAILED,
                          "no latched unit in reach at " + name)
        await self._grasp(pp)
        why = self.cable_in_use()
        if why:
            self._unit_in_use(uid, name, why)
            await self.grip(False)
            await self.stow()
            self._transit(0, 0)
            return False
        self._check(interlock.unlatch(hw, why))
        for _ in range(pp["unlatch_tries"]):
            hw.unlatch.value(1)
            try:
                free = await self._wait(lambda: not hw.port_latched_sw.value(), self.cfg["timing"]["latch_timeout_ms"])
            finally:
                hw.unlatch.value(0)
            if free:
                break
            await asyncio.sleep_ms(pp["retry_pause_ms"])
        else:
            self.trip(alarms.UNLATCH_FAILED, "port %s, %d tries" % (name, pp["unlatch_tries"]))
            raise Abort()
        self.ledger.port[uid] = CARRIED
        self.transit_unit = 0
        self.save()
        self.emit("pick", (("unit", uid), ("port", name)))
        await self.stow()
        await self._until(lambda: hw.unit_present_sw.value(), pp["present_timeout_ms"], alarms.GRIP_FAILED,
                          "unit %d lost from the jaws" % uid)
        return True

    async def _grasp(self, pp):
        """Close on the handle; a miss (the jaws closed, no unit between them: the handle slipped
        aside) opens and tries again, grip_tries in all. A jam is the grip loop's alarm at once."""
        hw = self.hw
        for i in range(pp["grip_tries"]):
            if i:
                await self.grip(False)
                await asyncio.sleep_ms(pp["retry_pause_ms"])
            code = await self.gripper.move(True)
            if self.alarm:
                raise Abort()
            if code and (code != alarms.GRIP_FAILED or not hw.jaw_closed_sw.value()):
                self.trip(code, self.gripper.detail)  # a jam, or jaws that did not close: not a miss
                raise Abort()
            if await self._wait(lambda: hw.unit_present_sw.value(), pp["present_timeout_ms"]) and not code:
                return
            self.emit("grip_missed", (("try", i + 1),))
        self.trip(alarms.GRIP_FAILED, "no unit in the jaws, %d tries" % pp["grip_tries"])
        raise Abort()

    async def place(self, uid, port):
        await self._handling(self._place(uid, port))

    async def _place(self, uid, port):
        hw, name, pp = self.hw, self.site.port_names[port], self.cfg["pick_place"]
        await self.go_to_port(port)
        if hw.port_occupied_sw.value():
            self.trip(alarms.PORT_OCCUPIED, name)
            raise Abort()
        self._transit(uid, port)
        engage = self.cfg["z"]["engage_mm"]
        for i in range(pp["latch_tries"]):
            if i:  # down a little and up again: the latch gets a second go at the handle
                await self.move_z(engage - pp["relatch_drop_mm"])
                await asyncio.sleep_ms(pp["retry_pause_ms"])
            await self.move_z(engage)
            if await self._wait(lambda: hw.port_latched_sw.value(), self.cfg["timing"]["latch_timeout_ms"]):
                break
        else:
            self.trip(alarms.LATCH_FAILED, "port %s, %d tries" % (name, pp["latch_tries"]))
            raise Abort()
        self.ledger.port[uid] = port
        self.transit_unit = 0
        self.save()
        self.emit("place", (("unit", uid), ("port", name)))
        await self.grip(False)
        await self.stow()
        if not hw.port_occupied_sw.value():
            self.trip(alarms.UNIT_MISSING, "unit %d did not stay at %s" % (uid, name))
            raise Abort()

    # --- jobs --------------------------------------------------------------------------------------
    def _nearest_free(self, port):
        best, best_cost = 0, 0
        here = self.enc_steps // self.x_spm
        to = self.site.port_x_mm[port]
        for uid in self.ledger.free_units():
            ux = self.site.port_x_mm[self.ledger.port[uid]]
            cost = (ux - here if ux > here else here - ux) + (ux - to if ux > to else to - ux)
            if best == 0 or cost < best_cost:
                best, best_cost = uid, cost
        return best

    async def serve(self, bay):
        """One step of the job for `bay`: True when done, False when it must wait for a free unit."""
        port = self.site.bay_port(bay)
        led = self.ledger
        uid = led.unit_at(port)
        if uid:  # whatever it was doing, the unit at the bay's own port serves that bay
            led.state[uid] = SERVING
            self.save()
            self.emit("delivered", (("bay", bay), ("unit", uid)))
            return True
        uid = led.carried()
        if not uid:
            uid = self._nearest_free(port)
            if not uid:
                return False
            self.emit("job", (("bay", bay), ("unit", uid), ("from", self.site.port_names[led.port[uid]])))
            if not await self.pick(uid):
                return None  # that unit is in use: choose again
        await self.place(uid, port)
        led.state[uid] = SERVING
        self.save()
        self.emit("delivered", (("bay", bay), ("unit", uid)))
        return True

    def _can_work(self):
        return not self.alarm and self.homed and not self.paused and not self.hold

    def _stopped(self):
        """After `stop` took effect: nothing moves until `resume`; the job stays first in the queue."""
        self.stop_requested = False
        self.jog_target = -1
        self.paused = True
        if not self.alarm:
            self.state = "STOP"
        self.emit("stopped", (("x_steps", self.enc_steps),))

    async def mission_task(self):
        while True:
            self.wake.clear()
            if (self.home_requested or self.reref_requested) and not self.alarm:
                rerefing, self.home_requested, self.reref_requested = self.reref_requested, False, False
                try:
                    await (self.reref() if rerefing else self.home())
                except Abort:
                    pass
                if self.stop_requested:
                    self._stopped()
                continue
            if self.manual is not None and not self.alarm:
                verb, arg = self.manual
                self.manual = None
                try:
                    await (self.move_z(arg) if verb == "lift" else self.grip(arg))
                    self.emit(verb, (("to", arg),))
                except Abort:
                    pass
                continue
            if self.jog_target >= 0 and self._can_work():
                target, self.jog_target = self.jog_target, -1
                self.state = "JOG"
                try:
                    await self.move_x(target)
                    self.emit("jogged", (("x_steps", self.enc_steps),))
                except Abort:
                    pass
                if not self.alarm:
                    self.state = "IDLE"
                if self.stop_requested:
                    self._stopped()
                continue
            if self._can_work() and self.jobs:
                bay = self.jobs[0]
                self.busy_bay = bay
                self.state = "RUN"
                try:
                    done = await self.serve(bay)
                except Abort:
                    done = False
                self.busy_bay = 0
                if not self.alarm:
                    self.state = "IDLE"
                if self.stop_requested:
                    self._stopped()
                if done:
                    if self.jobs and self.jobs[0] == bay:
                        self.jobs.pop(0)
                        self.save()
                    continue
                if done is None:
                    continue
            await self.wake.wait()

    def start(self):
        """Create the robot's tasks on the running event loop and take over the loop's exception
        handler (once: a second call returns the tasks)."""
        if self.tasks is None:
            self.tasks = []
            asyncio.get_event_loop().set_exception_handler(self._on_crash)
            self.spawn("supervise", self.supervise_task)
            self.spawn("motion", self.motion_task)
            self.spawn("mission", self.mission_task)
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
        self.busy_bay = 0
        self.manual = None
        self.jog_target = -1
        self.hold = False
        self._settle()  # a unit in transit is placed by the gripper's sensors, as after a reset
        self.emit("task_crash", (("task", name), ("error", detail)))
        try:
            import sys
            sys.print_exception(exc)
        except (ImportError, AttributeError):
            pass
        if entry is not None and entry[4] < _RESTARTS_MAX:
            entry[4] += 1
            entry[3] = asyncio.create_task(entry[1](*entry[2]))

    # --- the command interface ---------------------------------------------------------------------
    def command(self, line):
        """One command line -> one reply line, `ok ...` or `error: ...`; an error changes nothing."""
        words = line.split()
        if not words:
            return "error: empty command (try help)"
        verb = words[0].lower()
        handler = _COMMANDS.get(verb)
        if handler is None:
            return "error: unknown command %r (try help)" % verb
        fn, nargs = handler
        if nargs < 0:  # the command checks its own arguments
            return fn(self, words[1:])
        if len(words) - 1 != nargs:
            return "error: %s takes %d argument%s, got %d" % (verb, nargs, "" if nargs == 1 else "s", len(words) - 1)
        if nargs == 0:
            return fn(self)
        return fn(self, words[1])

    def _bay(self, text):
        try:
            bay = int(text)
        except ValueError:
            return 0, "error: bay must be a number 1..%d, got %r" % (self.site.bays, text)
        if not 1 <= bay <= self.site.bays:
            return 0, "error: bay %d out of range 1..%d" % (bay, self.site.bays)
        return bay, ""

    def cmd_charge(self, arg):
        bay, err = self._bay(arg)
        if err:
            return err
        if bay in self.jobs:
            return "error: bay %d already has a request" % bay
        uid = self.ledger.unit_at(self.site.bay_port(bay))
        if uid and self.ledger.state[uid] == SERVING:
            return "error: bay %d already has unit %d" % (bay, uid)
        self.jobs.append(bay)
        saved = self.save()
        self.emit("request", (("bay", bay),))
        self.wake.set()
        return "ok charge bay %d queued at %d%s" % (bay, len(self.jobs), "" if saved else ", saved at the next stop")

    def cmd_release(self, arg):
        bay, err = self._bay(arg)
        if err:
            return err
        uid = self.ledger.unit_at(self.site.bay_port(bay))
        if not uid or self.ledger.state[uid] == FREE:
            return "error: no unit serving bay %d" % bay
        self.ledger.state[uid] = FREE
        self.save()
        self.emit("released", (("bay", bay), ("unit", uid)))
        self.wake.set()
        return "ok released unit %d at bay %d" % (uid, bay)

    def cmd_cancel(self, arg):
        bay, err = self._bay(arg)
        if err:
            return err
        if bay not in self.jobs:
            return "error: no request for bay %d" % bay
        if bay == self.busy_bay:
            return "error: bay %d is being served now" % bay
        self.jobs.remove(bay)
        self.save()
        self.emit("cancelled", (("bay", bay),))
        return "ok cancelled bay %d" % bay

    def cmd_home(self):
        if self.alarm:
            return "error: alarm %d %s active: reset first" % (self.alarm, alarms.name(self.alarm))
        if self.busy_bay or self.state in ("HOME", "REREF") or self.reref_requested:
            return "error: busy"
        self.home_requested = True
        self.wake.set()
        return "ok homing"

    def cmd_reref(self):
        if self.alarm:
            return "error: alarm %d %s active: reset first" % (self.alarm, alarms.name(self.alarm))
        if not self.referenced:
            return "error: not homed since boot: home first"
        if self.busy_bay or self.state in ("HOME", "REREF", "JOG") or self.home_requested or self.reref_requested:
            return "error: busy"
        self.reref_requested = True
        self.wake.set()
        return "ok reref"

    def cmd_stop(self):
        if self.alarm:
            return "error: alarm active"
        if self.stop_requested:
            return "error: already stopping"
        if not (self.busy_bay or self.state in ("HOME", "REREF", "JOG") or self.jog_target >= 0
                or self.home_requested or self.reref_requested):
            return "error: nothing to stop"
        self.stop_requested = True
        self.jog_target = -1
        self.home_requested = self.reref_requested = False
        self.hold = False  # a held move is abandoned too
        self.emit("stop", ())
        self.wake.set()
        return "ok stopping"

    def cmd_reset(self):
        if not self.alarm:
            return "error: no alarm to reset"
        hw = self.hw
        if not hw.estop_in.value():
            return "error: e-stop still open"
        if hw.limit_min.value() or hw.limit_max.value():
            return "error: a hard limit switch is still active"
        if hw.x_diag.value():
            return "error: driver still reports a fault"
        if self.x.busy() or self.z.busy():
            return "error: still stopping"
        code = self.alarm
        self.alarm = 0
        self.alarm_detail = ""
        if code == alarms.LEDGER_INVALID:
            self.save()  # the technician has checked the units: the ledger as it stands replaces the record
        self.paused = True
        self.state = "IDLE"
        self.emit("reset", (("code", code),))
        return "ok alarm %d cleared; %s" % (code, "home or reref to continue" if not self.homed else "resume to continue")

    def cmd_hold(self):
        if self.alarm:
            return "error: alarm active"
        if self.hold:
            return "error: already holding"
        self.hold = True
        self.hold_started_ms = time.ticks_ms()
        self.emit("hold", ())
        return "ok hold"

    def cmd_jog(self, arg):
        try:
            mm = int(arg)
        except ValueError:
            return "error: jog takes whole millimetres, e.g. jog -250, got %r" % arg
        cx = self.cfg["x"]
        if self.alarm or not self.homed:
            return "error: jog needs a homed robot without alarm"
        if self.busy_bay or self.moving or self.jog_target >= 0 or self.hold or self.paused:
            return "error: busy"
        if interlock.traverse(self.hw, self.z.busy()):
            return "error: refused, " + interlock.why[0]
        target = self.enc_steps + mm * self.x_spm
        if mm == 0 or not 0 <= target <= cx["travel_mm"] * self.x_spm:
            return "error: jog %d mm would end at %s mm, outside 0..%d" % (mm, _mm(target, self.x_spm), cx["travel_mm"])
        self.jog_target = target
        self.wake.set()
        return "ok jog to %s mm" % _mm(target, self.x_spm)

    def _manual(self, verb, arg, code):
        """A technician's lift or grip action: refused while anything else runs, or by its interlock."""
        if self.alarm:
            return "error: alarm active: reset first"
        if code:
            return "error: refused, " + interlock.why[0]
        if self.manual is not None or self.moving or self.x.busy() or self.z.busy() or self.jog_target >= 0 \
                or (self.busy_bay and not self.paused):
            return "error: busy"
        self.manual = (verb, arg)
        self.wake.set()
        return "ok %s %s" % (verb, arg)

    def cmd_lift(self, arg):
        try:
            mm = int(arg)
        except ValueError:
            return "error: lift takes whole millimetres 0..%d, got %r" % (self.cfg["z"]["travel_mm"], arg)
        if not 0 <= mm <= self.cfg["z"]["travel_mm"]:
            return "error: lift %d mm outside 0..%d" % (mm, self.cfg["z"]["travel_mm"])
        if not self.referenced:
            return "error: the lift is not homed: home first"
        to = mm * self.z_spm
        return self._manual("lift", mm, interlock.lift(self.hw, self.x.busy(), to > self.z.pos and to > self.z_clear))

    def cmd_grip(self, arg):
        if arg not in ("open", "close"):
            return "error: grip takes open or close, got %r" % arg
        close = arg == "close"
        return self._manual("grip", close, 0 if close else interlock.open_jaws(self.hw))

    def cmd_resume(self):
        if self.alarm:
            return "error: alarm active: reset first"
        if self.hold:
            self.hold = False
            self.emit("resume", ())
            self.wake.set()
            return "ok resumed"
        if not self.homed:
            return "error: position not established: home (or reref) first"
        if self.stop_requested:
            return "error: still stopping"
        self.paused = False
        if self.state == "STOP":
            self.state = "IDLE"
        self.wake.set()
        return "ok resumed"

    def cmd_status(self):
        return "ok <%s|x:%s|z:%s|alarm:%d|homed:%d|jobs:%d|carry:%d>" % (
            "HOLD" if self.hold and not self.alarm else self.state, _mm(self.enc_steps, self.x_spm), _mm(self.z.pos, self.z_spm), self.alarm,
            1 if self.homed else 0, len(self.jobs), self.ledger.carried())

    def cmd_alarms(self):
        return _ALARMS_REPLY

    def cmd_config(self, args):
        """`config get KEY` (the running value, and the saved one if a `set` changed it) or
        `config set KEY VALUE` (validated as a whole, written to the board data file, used from the
        next reset; only at rest)."""
        from railbot import config

        if len(args) == 2 and args[0] == "get":
            try:
                v = config.lookup(self.cfg, args[1])
            except KeyError:
                return "error: config: no key %r" % args[1]
            saved = v
            if self.cfg_path is not None:
                try:
                    saved = config.lookup(config.load_robot(self.cfg_path), args[1])
                except (config.ConfigError, KeyError):
                    pass
            if saved != v:
                return "ok %s=%s (saved %s, used from the next reset)" % (args[1], repr(v), repr(saved))
            return "ok %s=%s" % (args[1], repr(v))
        if len(args) == 3 and args[0] == "set":
            if self.cfg_path is None:
                return "error: config set: this robot was not started from a board data file"
            if self.state != "IDLE" and self.state != "ALARM" or self.jobs:
                return "error: config set: only at rest (state %s, %d jobs)" % (self.state, len(self.jobs))
            if self.x.busy() or self.z.busy():  # an alarm's ramp-down: a flash write would starve the ring
                return "error: config set: only at rest (the carriage is still moving)"
            try:
                new = config.with_value(config.load_robot(self.cfg_path), args[1], args[2], self.cfg_path)
                config.save_robot(new, self.cfg_path)
            except config.ConfigError as e:
                return "error: config set: %s" % e
            return "ok %s=%s saved to %s, used from the next reset" % (
                args[1], repr(config.lookup(new, args[1])), self.cfg_path)
        return "error: config get KEY | config set KEY VALUE"

    def cmd_ledger(self):
        return "ok " + self.ledger.describe()

    def cmd_help(self):
        return "ok commands: " + " ".join(sorted(_COMMANDS))

    def cmd_build(self):
        """What firmware this is: railbot/build_id.py, frozen into the image or written by
        `railbot deploy`. Imported only when asked: a few short strings (frozen: in flash)."""
        try:
            from railbot import build_id
        except ImportError:
            return "ok build none (firmware from source)"
        return "ok build src=%s tree=%s commit=%s board=%s image=%s" % (
            getattr(build_id, "SRC", build_id.TREE), build_id.TREE, getattr(build_id, "COMMIT", "unknown"),
            build_id.BOARD, getattr(build_id, "IMAGE", "deployed"))


# the alarm table never changes: its reply is built once, at import (3 ms on the rp2 port per request)
_ALARMS_REPLY = "ok " + ";".join("%d=%s" % (c, alarms.TABLE[c][0]) for c in sorted(alarms.TABLE))

_COMMANDS = {
    "charge": (Robot.cmd_charge, 1),
    "release": (Robot.cmd_release, 1),
    "cancel": (Robot.cmd_cancel, 1),
    "home": (Robot.cmd_home, 0),
    "reset": (Robot.cmd_reset, 0),
    "resume": (Robot.cmd_resume, 0),
    "hold": (Robot.cmd_hold, 0),
    "stop": (Robot.cmd_stop, 0),
    "reref": (Robot.cmd_reref, 0),
    "jog": (Robot.cmd_jog, 1),
    "lift": (Robot.cmd_lift, 1),
    "grip": (Robot.cmd_grip, 1),
    "status": (Robot.cmd_status, 0),
    "alarms": (Robot.cmd_alarms, 0),
    "ledger": (Robot.cmd_ledger, 0),
    "help": (Robot.cmd_help, 0),
    "build": (Robot.cmd_build, 0),
    "config": (Robot.cmd_config, -1),
}
