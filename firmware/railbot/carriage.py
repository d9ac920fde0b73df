"""The carriage: both axes, the position from the measuring wheel re-referenced at the station
markers, moves behind their interlocks, the closed loop that stops at a station's port to the
millimetre, the following error, homing and re-referencing."""
import asyncio
import time
from micropython import const
from railbot import alarms, interlock
from railbot.grammar import mm
from railbot.motion import axis_for
from railbot import supervisor as sv
from railbot.supervisor import Abort

_FAST_TRIES = const(4)  # fast moves towards a station's approach point (lost steps leave it short)
_CORRECTIONS = const(3)  # short moves after the marker re-reference
_TRAVEL_CAP = const(0x400000)  # travel counters stop here: limits stay small ints


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


class Carriage:
    def __init__(self, robot, cfg, high_cycles):
        """high_cycles: (x, z) step pulse high times in state-machine cycles, as the hardware got them."""
        self.r = robot
        self.sup = robot.sup
        self.hw = hw = robot.hw
        self.cfg = cfg
        cx, cz = cfg["x"], cfg["z"]
        hz = cfg["timing"]["pio_hz"]
        xh, zh = high_cycles
        self.x = axis_for(hw.x_step, cx, hz, xh, True)
        self.z = axis_for(hw.z_step, cz, hz, zh, False)  # no measuring system on the lift
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
        self.homed = False  # the position is established (homed or re-referenced since the last loss)
        self.referenced = False  # homed once since boot: a position estimate exists for `reref`
        self.rerefing = False  # a marker search: markers re-reference the wheel before `homed`
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
        self.approach_ms = 0  # last station stop: time from the end of the fast move to arrival
        self.moving = False  # a move was started and has words to plan (the motion task ticks)
        self.motion = asyncio.Event()  # wakes the motion task
        self.x.set_position(self.read_encoder())

    # --- the control tick's part: position read, markers; allocates nothing -------------------------
    def read_encoder(self):
        self.enc_raw = self.hw.encoder.count()
        self.enc_steps = self.enc_raw * self.x_spm // self.x_cpm + self.x_shift
        return self.enc_steps

    def sense(self):
        """Read the wheel, count its travel, take a marker line if the reader has one."""
        prev = self.enc_steps
        self.read_encoder()
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
        marker = self.hw.marker
        tag = marker.poll()
        if tag >= 0:
            marker.forget()
            self._on_marker(tag, d, dt)

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
            self.sup.trip(alarms.POSITION_LOST, "unknown marker")
            return
        direction = 1 if d > 0 else -1 if d < 0 else self.x_dir
        edge = sx - direction * self.win_steps
        nbytes = 3 if tag < 10 else 4 if tag < 100 else 5  # 10 bits a byte at marker_baud
        since = d * (nbytes * 10000000 // self.cfg["x"]["marker_baud"] + dt // 2) // dt if dt > 0 else 0
        shift = edge + since - self.enc_steps
        self.x_shift += shift
        self.enc_steps += shift
        self.mark_travel = 0

    def following_fault(self):
        """The carriage moving: ENCODER_FAULT (the wheel stands still while the error grows),
        FOLLOWING_ERROR (beyond what slip and lost steps allow) or 0."""
        fe = self.x.following_error(self.enc_steps)
        if self.enc_raw != self.still_raw:
            self.still_raw = self.enc_raw
            self.still_fe = fe
        elif fe - self.still_fe > self.enc_fault_steps:
            return alarms.ENCODER_FAULT
        # the wheel under-reads by up to slip_max_pct since the last marker; lost drive steps
        # (up to drive_loss_max_pct) stay in the error until the next stop referenced at a marker
        if fe > self.fe_max_steps + (self.mark_travel * self.slip_pct + self.ref_travel * self.loss_pct) // 100:
            return alarms.FOLLOWING_ERROR
        return 0

    # --- moving -------------------------------------------------------------------------------------
    def _start(self, axis, target, v_mm_s):
        """Plan the move, prime the FIFO at once and wake the 10 ms motion task. Every move of either
        axis starts here, behind its interlock (rule 2; rule 3 for the lift rising into a port)."""
        if axis is self.x:
            self.sup.refuse(interlock.traverse(self.hw, self.z.busy()))
        else:
            self.sup.refuse(interlock.lift(self.hw, self.x.busy(), target > axis.pos and target > self.z_clear))
        axis.out.enable(True)  # off after an alarm's stop; a move after its reset powers it again
        axis.move_to(target, v_mm_s)
        if axis is self.x:
            self.still_raw = self.enc_raw
            self.still_fe = axis.following_error(self.enc_steps)
        self.moving = True
        self.r.tick()
        self.motion.set()

    async def run_axis(self, axis, target, v_mm_s=0, until=None):
        """Move one axis; return early (after a controlled stop) when until() becomes true."""
        sup, tick_ms = self.sup, self.r.tick_ms
        if sup.alarm:
            raise Abort()
        self._start(axis, target, v_mm_s)
        hit = False
        try:
            while axis.busy():
                await asyncio.sleep_ms(tick_ms)
                if sup.alarm:
                    raise Abort()
                if until is not None and not hit and until():
                    hit = True
                    axis.stop()
                if sup.stop_requested and axis is self.x and not hit:
                    axis.stop()  # `stop`: ramp down and abandon the move
                    while axis.busy():
                        await asyncio.sleep_ms(tick_ms)
                    raise Abort()
                if sup.hold and not hit:
                    await self._hold(axis)
                    self._start(axis, target, v_mm_s)  # from where it stopped
        finally:
            self.moving = False  # the motion task still ticks until the axes are idle
        return hit or (until is not None and until())

    async def _hold(self, axis):
        """Feed hold: ramp down with what is queued, stand still until resume (or an alarm)."""
        sup = self.sup
        axis.stop()
        while axis.busy():
            await asyncio.sleep_ms(self.r.tick_ms)
            if sup.alarm:
                raise Abort()
        sup.hold_standstill_ms = time.ticks_diff(time.ticks_ms(), sup.hold_started_ms)
        self.r.emit("held", (("standstill_ms", sup.hold_standstill_ms),))
        self.moving = False
        while sup.hold:
            sup.wake.clear()
            await sup.wake.wait()
            if sup.alarm or sup.stop_requested:
                raise Abort()

    def _before_traverse(self, target):
        if self.sup.stop_requested:
            raise Abort()
        self.sup.refuse(interlock.traverse(self.hw, self.z.busy()))
        if not 0 <= target <= self.travel_steps:
            self.sup.fail(alarms.SOFT_LIMIT, "x " + mm(target, self.x_spm))

    async def move_x_by(self, delta, v_mm_s=0, until=None):
        """Move the carriage by delta steps (of the wheel's estimate) from where it stands."""
        if self.sup.stop_requested:
            raise Abort()
        self.x_dir = 1 if delta >= 0 else -1
        self.at_station = -1
        return await self.run_axis(self.x, self.x.pos + delta, v_mm_s, until)

    def _arrived(self, target, tol):
        err = self.read_encoder() - target
        if err > tol or err < -tol:
            self.sup.fail(alarms.FOLLOWING_ERROR, "arrival off by %d steps" % err)

    async def move_x(self, target_steps, v_mm_s=0):
        """A plain move (jog, pull-off) to target_steps within 0..travel; no marker approach."""
        self._before_traverse(target_steps)
        await self.move_x_by(target_steps - self.read_encoder(), v_mm_s)
        # the wheel may be off by the slip since the last marker and the lost steps since the last reference
        self._arrived(target_steps, self.cfg["x"]["arrive_tolerance_mm"] * self.x_spm + (
            self.mark_travel * self.slip_pct + self.ref_travel * self.loss_pct) // 100)

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

    def _clamp(self, steps):
        return 0 if steps < 0 else self.travel_steps if steps > self.travel_steps else steps

    async def move_to_station(self, target, station):
        """Stop at a station's port position to the millimetre: fast to just before its marker window,
        creep until the marker is read (the wheel is re-referenced to its edge), then correct."""
        self._before_traverse(target)
        self.at_station = -1
        w, spm, creep = self.win_steps, self.x_spm, self.cfg["x"]["creep_speed_mm_s"]
        for _ in range(_FAST_TRIES):  # lost steps leave a long move short: go again
            rem = target - self.read_encoder()
            dirn = 1 if rem >= 0 else -1
            allow = w + self.creep_steps + self._slip_allow(target, dirn, rem * dirn)
            if rem * dirn <= allow:
                break
            await self.move_x_by(dirn * (rem * dirn - allow))
        t_fast = time.ticks_ms()
        rem = target - self.read_encoder()
        dirn = 1 if rem >= 0 else -1
        slack = self.mark_travel * self.slip_pct // 100 + spm
        if rem * dirn < w + slack:  # (maybe) inside the window: no entry to see, back out first
            back = self._clamp(target - dirn * (w + self.creep_steps + slack))
            await self.move_x_by(back - self.enc_steps)
            rem = target - self.read_encoder()
            dirn = 1 if rem >= 0 else -1
        seen = self.tags_seen
        end = self._clamp(target + dirn * w)
        if not await self.move_x_by(end - self.enc_steps, creep, lambda: self.tags_seen != seen):
            self.sup.fail(alarms.POSITION_LOST, "no marker %d" % station)
        if self.last_tag != station:
            self.sup.fail(alarms.POSITION_LOST, "marker %d, not %d" % (self.last_tag, station))
        for _ in range(_CORRECTIONS):
            err = target - self.read_encoder()
            if -self.corr_steps <= err <= self.corr_steps:
                break
            await self.move_x_by(err, creep)
        self._arrived(target, self.cfg["x"]["arrive_tolerance_mm"] * spm)
        self.referenced_here()
        self.at_station = station
        self.approach_ms = time.ticks_diff(time.ticks_ms(), t_fast)

    def referenced_here(self):
        """Standing still where the position is known: commanded position := the estimate."""
        self.x.set_position(self.enc_steps)
        self.ref_travel = 0
        self.mark_travel = 0

    async def go_to_port(self, port):
        """To a port's place on the rail (unless already stopped there), the head turned to its side."""
        hw, site = self.hw, self.r.site
        hw.side_sel.value(0)
        target = site.port_x_mm[port] * self.x_spm
        station = site.port_station[port]
        err = target - self.read_encoder()
        if self.at_station != station or not -self.corr_steps <= err <= self.corr_steps:
            await self.move_to_station(target, station)
        hw.side_sel.value(site.port_side[port])

    async def move_z(self, target_mm):
        if not 0 <= target_mm <= self.cfg["z"]["travel_mm"]:
            self.sup.fail(alarms.SOFT_LIMIT, "z %d" % target_mm)
        await self.run_axis(self.z, target_mm * self.z_spm)

    async def stow(self):
        await self.move_z(0)
        await self.sup.until(lambda: self.hw.z_stow_sw.value(), 500, alarms.LIFT_TIMEOUT, "stow switch")

    # --- homing and re-referencing -----------------------------------------------------------------
    async def home_lift(self, grip):
        """Lift: down to the stow switch, up until it releases, back until it is made again: z = 0.
        The switch counts only after `home_debounce_samples` equal readings in a row (one a tick).
        grip(False) opens the jaws (a reset while gripping a latched unit: it stays where it is)."""
        hw, cz, sup = self.hw, self.cfg["z"], self.sup
        n = cz["home_debounce_samples"]
        if hw.unit_present_sw.value() and hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
            await grip(False)
        if not hw.z_stow_sw.value():
            self.z.set_position(cz["travel_mm"] * self.z_spm * 3 // 2)
            if not await self.run_axis(self.z, 0, cz["home_speed_mm_s"], _steady(hw.z_stow_sw, 1, n, lambda: 0)[0]):
                sup.fail(alarms.HOMING_FAILED, "lift stow switch not found")
        self.z.set_position(0)
        await self.run_axis(self.z, cz["pull_off_mm"] * self.z_spm, 1, _steady(hw.z_stow_sw, 0, n, lambda: 0)[0])
        if not await self.run_axis(self.z, -cz["pull_off_mm"] * self.z_spm, 1, _steady(hw.z_stow_sw, 1, n, lambda: 0)[0]):
            sup.fail(alarms.HOMING_FAILED, "lift stow switch did not return")
        self.z.set_position(0)  # just inside the stow switch: z = 0 is always stowed


    def _begin(self, state, event):
        self.sup.state = state
        self.homed = False  # no marker re-references while the switch (or the search) defines the zero
        self.r.emit(event, ())
        self.hw.x_step.enable(True)
        self.hw.z_step.enable(True)


    def _done(self):
        self.homed = True
        self.sup.paused = False
        self.sup.state = sv.IDLE


    async def home(self, grip):
        hw, cx, sup = self.hw, self.cfg["x"], self.sup
        self._begin(sv.HOME, "homing")
        await self.home_lift(grip)
        # carriage: seek the home switch (1.5 x travel), locate its releasing edge slowly, pull off;
        # the switch counts only after `home_debounce_samples` equal readings in a row (one a tick)
        n = cx["home_debounce_samples"]
        self.x.set_position(self.read_encoder())
        seen = [self.enc_steps]
        if not hw.home_sw.value():
            found, seen = _steady(hw.home_sw, 1, n, self.read_encoder)
            seek = self.x.pos - cx["travel_mm"] * self.x_spm * 3 // 2
            if not await self.run_axis(self.x, seek, cx["home_speed_mm_s"], found):
                sup.fail(alarms.HOMING_FAILED, "home switch not found within 1.5 x travel")
        self.x.set_position(self.read_encoder())
        locate, edge = _steady(hw.home_sw, 0, n, self.read_encoder)
        # back over the overshoot (twice what the seek ran past the switch) plus the pull-off allowance
        span = 2 * (seen[0] - self.x.pos) + 4 * cx["pull_off_mm"] * self.x_spm
        if not await self.run_axis(self.x, self.x.pos + span, cx["locate_speed_mm_s"], locate):
            sup.fail(alarms.PULL_OFF_FAILED, "home switch still made after %s mm" % mm(span, self.x_spm))
        hw.encoder.offset += edge[0] * self.x_cpm // self.x_spm
        self.x.set_position(self.read_encoder())
        self.referenced_here()
        await self.move_x(cx["pull_off_mm"] * self.x_spm)
        self.referenced_here()
        self.referenced = True
        self._done()
        self.r.emit("homed", (("x_steps", self.enc_steps),))


    async def reref(self, grip):
        """Re-establish the position at the nearest station marker (after an alarm lost it): stow the
        lift, search towards the marker the estimate says is nearest at home speed, at most
        reref_search_mm (more than the widest gap between markers); its edge gives the position."""
        hw, cx, sup = self.hw, self.cfg["x"], self.sup
        self._begin(sv.REREF, "rereferencing")
        await self.home_lift(grip)
        if not hw.z_stow_sw.value():
            sup.fail(alarms.LIFT_NOT_STOWED, "before the marker search")
        here = self.read_encoder()
        best = self.marker_x[0]
        for mx in self.marker_x:
            if abs(mx - here) < abs(best - here):
                best = mx
        dirn = 1 if best >= here else -1
        self.referenced_here()
        seen = self.tags_seen
        self.rerefing = True
        try:
            found = await self.move_x_by(dirn * cx["reref_search_mm"] * self.x_spm, cx["home_speed_mm_s"],
                                      lambda: self.tags_seen != seen)
        finally:
            self.rerefing = False
        if not found or sup.alarm:
            sup.fail(alarms.POSITION_LOST, "no marker")
        self.referenced_here()
        self._done()
        self.r.emit("rereferenced", (("marker", self.last_tag), ("x_steps", self.enc_steps)))
