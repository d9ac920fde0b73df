"""The plant: one physical model of the car park behind every simulated sensor and actuator.

Carriage, lift, gripper, ports, units and cars live here; the simulated `machine` and `rp2`
modules only read and write its signals. Nothing moves unless a step word is executed (see
`StepAxis` and docs/motion.md). Breaches of PRODUCT.md's rules are recorded in
`violations` so tests can assert what physically happened.

The plant has its own truth (docs/motion.md, "The plant's truth"): its mechanics differ from the
board data the firmware reads, drawn once per seed within realistic tolerances: the measuring
wheel's diameter (+-WHEEL_PPM), each marker tag's place along the rail (+-MARKER_UM; the ports of
its station move with it), the stow switch's and the latch's heights (+-STOW_UM, +-LATCH_UM).
`Plant(cfg, rng, truth=False)` builds the nominal plant for the few tests that need exact figures.
And the carriage has mass: a CARRIAGE_KG carriage on a drive of DRIVE_FORCE_N accelerates at most
at a_drive; a change of the commanded step rate faster than that (beyond the stepper's start-stop
rate, START_STOP_MM_S) loses steps: the carriage coasts on at a_drive against the command until the
rates meet again, and `violations` records it.
"""

# Step program law (railbot/hal/pio.py, docs/motion.md): a word is L<<8 | (n-1)<<1 | dir, under 2**30.
# With h the high count the program holds in ISR, the period is P = L + h + 5 cycles; a word pulled at
# cycle s has its rising edges at s + 5 + L + i*P (i = 0..n-1) and the next pull at s + 3 + n*P.
WORD_OVERHEAD = 3
PERIOD_OVERHEAD = 5
FIRST_EDGE = 5
FIFO_DEPTH = 8  # TX FIFO joined

# The plant's truth: tolerances of the drawn mechanics (uniform within +-)
WHEEL_PPM = 5000  # measuring-wheel diameter: +-0.5 %
MARKER_UM = 3000  # each marker tag along the rail (its station's ports with it): +-3 mm
STOW_UM = 1000  # the lift's stow switch height: +-1 mm
LATCH_UM = 1000  # the ports' latch height: +-1 mm
# The latch catches (and the gripper reaches the handle) within +-2.5 mm of the latch's height: its
# lead-in. The firmware lifts to engage_mm above its stow switch, so the stack is the switch's and the
# latch's tolerances (+-2 mm together) plus the lift homing's stop inside the switch (0.13 mm): 0.37 mm
# to spare at the worst corner (tests/firmware/test_plant_truth.py tries the corners).
LATCH_CAPTURE_UM = 2500
# The carriage's mass and its drive (a documented plausible figure, not board data): 30 kg on a
# rack-and-pinion stepper that gives 45 N over the speed range (NEMA 23 class, 24 V): at most
# 1.5 m/s^2, three times the firmware's a_max. A stepper starts and stops without a ramp below
# its start-stop rate: 10 mm/s with this load.
CARRIAGE_KG = 30
DRIVE_FORCE_N = 45
START_STOP_MM_S = 10

from simboard import vclock
from simboard.rng import Rng

# Control pilot (IEC 61851): the level of each state in V. A, B, C, D are the HIGH level of the
# EVSE's 1 kHz PWM (LOW is -12 V); E and F are steady.
CP_VOLTS = {"A": 12, "B": 9, "C": 6, "D": 3, "E": 0, "F": -12}
VEHICLE_STATES = ("B", "C", "D")
CP_PERIOD_US = 1000
LIMIT_PAST_UM = 50000  # the hard limit switches trip this far past each end of the travel
LIMIT_MIN_UM = -LIMIT_PAST_UM
OPEN = -1  # what a reader answers for an input whose wire is open (Plant.open_wire): nothing drives it


def _open_wire():
    return OPEN


def decode_word(word):
    """(direction +1/-1, step count, low count L) of one step word."""
    return (1 if word & 1 else -1), ((word >> 1) & 0x7F) + 1, (word >> 8) & 0x3FFFFF


class StepAxis:
    """A stepper driver fed by the step program's TX FIFO; position integrates executed steps only."""

    def __init__(self, name, steps_per_mm, min_um, max_um):
        self.name = name
        self.steps_per_mm = steps_per_mm
        self.steps = 0
        self.min_steps = min_um * steps_per_mm // 1000
        self.max_steps = max_um * steps_per_mm // 1000
        self.fifo = []
        self.dma = None  # a simulated rp2.DMA channel refilling the FIFO
        self.cyc = 125  # state-machine cycles per us (set from the StateMachine's freq)
        self.h = None  # the high count in ISR (set by the program's start-up exec)
        self.word = None  # the step word being executed, decoded (in cycles) into w_dir .. w_end
        self.w_dir = self.w_n = self.w_first = self.w_period = self.w_end = 0
        self.w_lone = False  # the word is one step started from rest
        self.phase = 0  # cycles into the word
        self.enable_pin = 1  # TMC2209 EN is active low: 1 = off
        self.estop = False
        self.fault = False  # injected driver fault (DIAG high, no torque)
        self.output_ok = True  # injected: step pulses never reach the driver
        self.crashed = False
        self.active = False
        self.words_executed = 0
        # the step program found its TX FIFO empty after a word faster than fast_period_us a step:
        # the ring ran dry under way (a feed came too late), not a move's slow last step
        self.underruns = 0
        self.fast_period_us = 2000
        self.dry = True  # the FIFO ran dry and stays so (an underrun counts once)
        self.t0_ms = 0  # the virtual ms advance() starts from (the plant sets it; a small int)
        self.on_word = None  # optional fn(t_us, period_cycles, n): a word starts executing (tests, bench)
        # the mass model (set_mass; a_drive 0: none, the axis follows every step as commanded)
        self.a_drive = 0  # steps/s^2 the drive can give the load
        self.ss_rate = 0  # steps/s the motor starts and stops at without a ramp
        self.rate = 0  # signed steps/s of the word executing (0 at rest or for a lone start step)
        self.rate_us = 0  # that word's duration, us
        self.coasting = False  # out of step: the carriage runs on by its own momentum
        self.coast_v = 0  # its speed then, signed steps/s
        self.coast_acc = 0  # steps x us not yet made (remainder, under 10**6)
        self.overdrives = 0  # episodes of a rate change harder than the drive can give
        self.overdrive = None  # (from, to) steps/s of the last one, until the plant records it
        self.stall_lost_steps = 0  # commanded steps the carriage did not make while coasting

    def set_mass(self, a_drive_mm_s2, start_stop_mm_s):
        self.a_drive = a_drive_mm_s2 * self.steps_per_mm
        self.ss_rate = start_stop_mm_s * self.steps_per_mm

    def _rate_change(self, rate, us):
        """The commanded rate changes to `rate` (signed steps/s) for a word of `us`: the change
        spread between the two words' middles must be within what the drive can give the mass."""
        d = rate - self.rate
        if d < 0:
            d = -d
        t = (self.rate_us + us) // 2
        if t > 1000000:
            t = 1000000
        if not self.coasting and self.powered() and d > self.ss_rate + self.a_drive * (t // 100) // 10000:
            self.coasting = True
            self.coast_v = self.rate
            self.coast_acc = 0
            self.overdrives += 1
            self.overdrive = (self.rate, rate)
        self.rate = rate
        self.rate_us = us

    def _coast(self, moved, dt_us):
        """Out of step: the carriage runs on at its own speed, which the drive's force (and the
        rail's friction) brings towards the commanded rate at a_drive, a ms at a time; the commanded
        steps are lost. In step again once within ss_rate of the command (to within this advance)."""
        goal = self.rate
        made = 0
        left = dt_us
        while left > 0 and self.coasting:
            t = 1000 if left > 1000 else left
            left -= t
            v0 = v = self.coast_v
            dv = self.a_drive * t // 1000000
            if v > goal:
                v = v - dv if v - dv > goal else goal
            else:
                v = v + dv if v + dv < goal else goal
            acc = self.coast_acc + (v0 + v) * t // 2
            k = acc // 1000000
            self.coast_acc = acc - k * 1000000
            self.coast_v = v
            made += k
            if -self.ss_rate <= v - goal <= self.ss_rate:
                self.coasting = False
                self.coast_acc = 0
        s = self.steps + made
        if s < self.min_steps or s > self.max_steps:  # the mechanical end stop
            self.crashed = True
            s = self.min_steps if s < self.min_steps else self.max_steps
        made = s - self.steps
        self.steps = s
        lost = moved - made
        self.stall_lost_steps += lost if lost > 0 else -lost
        return made

    def powered(self):
        return self.enable_pin == 0 and not self.estop and not self.fault

    def um(self):
        return self.steps * 1000 // self.steps_per_mm

    def put(self, word):
        if len(self.fifo) >= FIFO_DEPTH:
            raise RuntimeError("%s step FIFO overflow: the firmware must not block on put" % self.name)
        self.fifo.append(word)

    def _refill(self):
        dma = self.dma
        while dma is not None and len(self.fifo) < FIFO_DEPTH:
            w = dma._next_word()
            if w is None:
                break
            self.fifo.append(w)

    def level(self):
        self._refill()
        return len(self.fifo)

    def idle(self):
        self._refill()
        return self.word is None and not self.fifo

    def advance(self, dt_us):
        """Execute dt_us of the step program; return the signed steps the motor made."""
        if not self.active or not self.output_ok:
            if self.rate:
                self._rate_change(0, 0)  # step output ends at once under way (program stopped, line cut)
            if self.active:
                self._execute(dt_us)  # the program runs on; its edges do not reach the motor
            moved = 0
        else:
            moved = self._execute(dt_us)
        if self.coasting:
            return self._coast(moved, dt_us)
        return self.drive(moved)

    def _execute(self, dt_us):
        """The step program for dt_us: the signed step edges it makes on the STEP pin."""
        moved = 0
        left = dt_us * self.cyc
        while left > 0:
            if self.word is None:
                self._refill()
                if not self.fifo:
                    if self.rate and self.a_drive:
                        self._rate_change(0, 0)  # no next word: the motor stops dead
                    if not self.dry:
                        self.dry = True
                        # a lone step from rest (a one-step move: its period is DIR's set-up) was
                        # all there was to do, not a feed too late
                        if self.w_period < self.fast_period_us * self.cyc and not self.w_lone:
                            self.underruns += 1
                    break
                start = self.dry  # the program was idle: this word's first edge starts from rest
                self.dry = False
                if self.h is None:
                    raise RuntimeError("%s: step words before ISR was loaded with the high count" % self.name)
                # decoded into attributes, not a tuple: a word allocates nothing (the bench's heap readings)
                w = self.fifo.pop(0)
                n = ((w >> 1) & 0x7F) + 1
                low = (w >> 8) & 0x3FFFFF
                period = low + self.h + PERIOD_OVERHEAD
                self.word = w
                self.w_dir = 1 if w & 1 else -1
                self.w_n = n
                self.w_first = FIRST_EDGE + low
                self.w_period = period
                self.w_end = WORD_OVERHEAD + n * period
                self.phase = 0
                if self.on_word is not None:
                    self.on_word(self.t0_ms * 1000 + dt_us - left // self.cyc, period, n)
                self.w_lone = start and n == 1
                if self.a_drive:
                    # a lone step from rest (a move's first, with DIR's set-up) has no rate yet
                    r = 0 if (n == 1 and start) or not self.output_ok else self.cyc * 1000000 // period
                    self._rate_change(r if w & 1 else -r, self.w_end // self.cyc)
            n = self.w_n
            first = self.w_first
            period = self.w_period
            end = self.w_end
            take = end - self.phase
            if take > left:
                take = left
            before = self._edges(self.phase, n, first, period)
            self.phase += take
            moved += self.w_dir * (self._edges(self.phase, n, first, period) - before)
            left -= take
            if self.phase >= end:
                self.word = None
                self.words_executed += 1
        return moved

    def drive(self, moved):
        """`moved` signed step edges reach the driver: the motor turns them if it is powered and
        the pulses arrive, up to the mechanical end stops. Returns the steps it made."""
        if moved and self.powered() and self.output_ok:
            s = self.steps + moved
            if s < self.min_steps or s > self.max_steps:  # the mechanical end stop
                self.crashed = True
                s = self.min_steps if s < self.min_steps else self.max_steps
            moved = s - self.steps
            self.steps = s
            return moved
        return 0

    @staticmethod
    def _edges(phase, n, first, period):
        """Edges made in the first `phase` cycles of a word (an edge at cycle e is made once phase > e)."""
        if phase <= first:
            return 0
        k = (phase - first - 1) // period + 1
        return k if k < n else n



class PinStepAxis(StepAxis):
    """A stepper driver fed by the STEP edges a chip makes on its pins (the emulated RP2040 of the
    silicon tier), not by words: the same driver, power and end stops as StepAxis."""

    def __init__(self, axis):
        StepAxis.__init__(self, axis.name, axis.steps_per_mm, 0, 0)
        self.min_steps = axis.min_steps
        self.max_steps = axis.max_steps
        self.active = True
        self.pending = 0  # signed edges heard since the last advance

    def edge(self, direction):
        self.pending += direction

    def _execute(self, dt_us):
        moved = self.pending
        self.pending = 0
        return moved

    def idle(self):
        return True


def on_pins(plant):
    """Drive `plant`'s axes by pin edges (PinStepAxis) instead of the simulated step program."""
    plant.x = PinStepAxis(plant.x)
    plant.z = PinStepAxis(plant.z)
    return plant

class Unit:
    def __init__(self, uid, port, phase_us=0):
        self.id = uid
        self.port = port  # port index, or None while carried (or dropped)
        self.latched = port is not None
        self.gun_out = False
        self.cp = "A"
        # The EVSE's PWM on the pilot: duty 5..96 % (100: steady, no current offered: B1, C1, D1).
        # In state A the pilot is steady +12 V unless cp_pwm_in_a (an EVSE offering current, A2).
        self.cp_duty_pct = 50
        self.cp_pwm_in_a = False
        self.cp_phase_us = phase_us
        self.dropped = False
        self.moves = 0  # times this unit left a port


class Plant:
    def __init__(self, robot_cfg, rng, truth=True):
        """truth: draw the plant's own mechanics from rng's seed (False: exactly the board data)."""
        self.cfg = robot_cfg
        self.rng = rng
        # the pilot's noise has its own generator (seeded from the board's, which it leaves as it
        # is): reading the pilot does not shift the rest of a seeded day
        self.cp_rng = Rng(rng.state ^ 0x43500000)
        self.cp_noise_mv = 300  # uniform +-
        self.cp_spike_per_mille = 3  # per sample: a spike of 1.5..6 V either way
        self.holster_chatter_ppm = 0  # injected: a holster-switch read flips with this probability
        x, z = robot_cfg["x"], robot_cfg["z"]
        # hard limit switches 50 mm past each end, mechanical end stops 150 mm past: room for a
        # controlled stop (stop category 1) from the homing seek speed, not from full speed
        self.x = StepAxis("x", x["steps_per_mm"], -150000, x["travel_mm"] * 1000 + 150000)
        self.z = StepAxis("z", z["steps_per_mm"], -3000, z["travel_mm"] * 1000)
        self.a_drive_mm_s2 = DRIVE_FORCE_N * 1000 // CARRIAGE_KG
        self.x.set_mass(self.a_drive_mm_s2, START_STOP_MM_S)
        self.x_counts_per_mm = x["counts_per_mm"]
        # the plant's truth, from a generator of its own (seeded from the board's, which it leaves
        # as it is): the rest of a seeded day draws what it drew without it
        t = self.truth_rng = Rng(rng.state ^ 0x54525554)
        self.truth = truth
        self.wheel_scale_ppm = t.between(-WHEEL_PPM, WHEEL_PPM) if truth else 0  # diameter vs board data
        self.stow_um = t.between(-STOW_UM, STOW_UM) if truth else 0  # the stow switch makes at z <= this
        self.latch_um = t.between(-LATCH_UM, LATCH_UM) if truth else 0  # the latch height vs engage_mm
        # counts = nominal - nominal * k / 2**20: a wheel wider by ppm turns 10**6 / (10**6 + ppm) as often
        self._wheel_k = self.wheel_scale_ppm * 1048576 // (1000000 + self.wheel_scale_ppm)
        self.engage_um = z["engage_mm"] * 1000 + self.latch_um
        self.z.steps = self.stow_um * self.z.steps_per_mm // 1000  # the lift rests on its stow switch
        self.travel_um = x["travel_mm"] * 1000
        g = robot_cfg["gripper"]
        self.grip_dc = g["kind"] == "dc"
        if not self.grip_dc:
            self.open_us, self.closed_us = g["open_us"], g["closed_us"]
        # The DC gear motor (gripper.kind "dc"): current in mA at 100 % duty running free and stalled
        # (its winding resistance); the current settles with a time constant of about 1.4 ms (half the
        # gap a ms); at a start from rest it is the stall current (no back-EMF yet).
        self.motor_free_ma = 250
        self.motor_stall_ma = 2000
        self.isense_ma_fs = g.get("isense_ma_fs", 3000)
        self.motor_duty_pm = 0  # 0..1000 of the H-bridge's PWM
        self.motor_close = 0  # the H-bridge's direction pin: 1 closes the jaws
        self.motor_ma = 0
        self._noise = 1  # a 16-bit LCG for +-8 mA of sense noise (small ints: nothing allocated)
        self._jaw_acc = 0  # jaw travel below one unit, in 1/1000 units
        self.jam_at = None  # injected: the jaws cannot close past this position (0..1000)
        self.jam_onset_ms = -1  # the last time the closing jaws stopped at the jam
        self.jam_cut_ms = -1  # when the motor current went to 0 after that
        self.jam_cuts = 0  # jam stops ended by the motor going off
        self.jam_cut_worst_ms = 0  # the longest of them from onset to current off
        self._jam_on = False
        self.slip_pending = False  # injected: the next grip misses the handle
        self.slipped = False  # the handle was missed: it is not between the jaws until they open
        self.marker_window_um = x["marker_window_mm"] * 1000
        self._build_site(robot_cfg["site"])
        self.violations = []
        self.port_acts = 0  # latches and grasps at a port
        self.port_x_err_max_um = 0  # the largest |carriage - the port's true place| at one of them
        self.estop_pressed = False
        # the e-stop chain drives a time-delayed safety relay (PRODUCT.md): driver power goes
        # estop_relay_ms after the chain opens, whatever the MCU does (stop category 1)
        self.relay_ms = robot_cfg["timing"]["estop_relay_ms"]
        self.v_limit_um_ms = x["v_max_mm_s"] * 3 // 2  # (um per ms = mm per s) limit_within's bound
        self.relay_due_ms = None  # when the running delay ends (None: not running)
        self.relay_cut_ms = None  # when the relay last cut driver power
        self.estop_ms = None  # when the chain last opened
        self.last_x_step_ms = None  # the end of the last ms in which the carriage made a step
        self.relay_cut_moving = 0  # relay cuts while the carriage still moved (also a violation)
        self.side = 0  # 0 left, 1 right
        self.unlatch_coil = 0
        self.jaw = 0  # 0 = fully open .. 1000 = fully closed
        self.jaw_target = 0
        self.held = None  # the unit whose handle is between closed jaws
        self.broken_latches = {}  # port index -> True: that port's latch never catches
        self.latch_misses = {}  # port index -> n: its latch misses the next n raises of a unit
        self._miss_armed = True
        self.stuck_latches = {}  # port index -> n: its latch ignores the next n unlatch pulses (-1: all)
        self.marker_rx = bytearray()
        self.tag_in_range = None
        self.travel_steps = 0
        self.irq_pins = []  # simulated Pins with an armed irq, checked after every advance
        self.home_edge_um = 0  # where the home switch trips (tests scatter it)
        self.home_bounce_um = 0  # within this distance of the edge the switch chatters
        self.x_pos_log = None  # optional callback(t_ms, x_um) for the timeline
        # Closed-loop faults, all off by default (see inject_position_faults); random ones draw from rng.
        self.wheel_slip_max_ppm = 0  # the measuring wheel under-reads by 0..this, redrawn per slip_period_um
        self.slip_period_um = 100000
        self.slip_ppm = 0
        self._slip_left_um = 0
        self.wheel_lag_nm = 0  # how far the wheel has fallen behind the carriage (slip), signed
        self.lost_steps_ppm = 0  # this fraction of executed X steps does not move the carriage
        self._lost_acc = 0
        self.lost_steps = 0
        self.encoder_noise_counts = 0  # +-N counts on every read
        self.encoder_dead = False  # the wheel's count freezes (cable cut): no count, no noise
        self._dead_counts = 0
        self.marker_jitter_um = 0  # the window edge where a tag is first read moves by +-this each pass
        self._edge_jitter_um = 0
        self.marker_byte_us = 0  # 0: a tag line arrives at once; 1042: 9600 baud, 10 bits a byte
        self.marker_pending = []  # (due_us, byte) on their way from the reader

    # --- site -------------------------------------------------------------------------------
    def _build_site(self, site):
        st = site["stations"]
        t = self.truth_rng
        self.stations = []  # (tag id, x_um), sorted by x: the true places
        self.marker_offset_um = {}  # tag id -> its true place minus the board data's
        self.port_x_um = []
        self.port_side = []
        self.port_name = []
        for i in range(st["count"]):
            off = t.between(-MARKER_UM, MARKER_UM) if self.truth else 0
            self.marker_offset_um[st["first_id"] + i] = off
            sx = (st["first_x_mm"] + i * st["pitch_mm"]) * 1000 + off
            self.stations.append((st["first_id"] + i, sx))
            for side in (0, 1):
                self.port_x_um.append(sx)
                self.port_side.append(side)
                self.port_name.append("B%d" % (2 * i + 1 + side))
        for d in site["docks"]:
            off = t.between(-MARKER_UM, MARKER_UM) if self.truth else 0
            self.marker_offset_um[d["id"]] = off
            self.stations.append((d["id"], d["x_mm"] * 1000 + off))
            for side in (0, 1):
                self.port_x_um.append(d["x_mm"] * 1000 + off)
                self.port_side.append(side)
                self.port_name.append("D%d%s" % (d["id"], "LR"[side]))
        self.stations.sort(key=lambda s: s[1])
        self.units = {}
        for u in site["units"]:
            self.units[u["id"]] = Unit(u["id"], self.port_name.index(u["port"]), self.cp_rng.below(CP_PERIOD_US))

    def port_index(self, name):
        return self.port_name.index(name)

    def unit_at(self, port):
        for u in self.units.values():
            if u.port == port:
                return u
        return None

    def place_unit(self, uid, port_name):
        """Injection: a technician hangs unit `uid` at a port (a new unit if uid is unknown)."""
        port = self.port_index(port_name)
        u = self.units.get(uid)
        if u is None:
            u = self.units[uid] = Unit(uid, port, self.cp_rng.below(CP_PERIOD_US))
        u.port, u.latched, u.dropped = port, True, False
        return u

    def violate(self, what):
        if not self.violations or self.violations[-1] != what:  # one record per episode
            self.violations.append(what)

    # --- the head of the carriage: where the gripper is ----------------------------------------
    def head_port(self):
        """The port the gripper head is under (carriage within 5 mm, side selected), or None."""
        x = self.x.um()
        for p in range(len(self.port_x_um)):
            if self.port_side[p] == self.side and -5000 <= x - self.port_x_um[p] <= 5000:
                return p
        return None

    def stowed(self):
        """The lift is down on its stow switch (the switch's true height)."""
        return self.z.um() <= self.stow_um

    def set_lift_truth(self, stow_um, latch_um):
        """Injection (tests): the stow switch and the latch at these heights (the lift on the switch
        if it was)."""
        on = self.stowed()
        self.stow_um, self.latch_um = stow_um, latch_um
        self.engage_um = self.cfg["z"]["engage_mm"] * 1000 + latch_um
        if on:
            self.z.steps = stow_um * self.z.steps_per_mm // 1000

    def _at_port(self, p):
        """A unit latched into port p or grasped there: how far the carriage stands off its true place."""
        e = self.x.um() - self.port_x_um[p]
        e = e if e >= 0 else -e
        self.port_acts += 1
        if e > self.port_x_err_max_um:
            self.port_x_err_max_um = e

    def at_engage(self):
        return -LATCH_CAPTURE_UM <= self.z.um() - self.engage_um <= LATCH_CAPTURE_UM

    # --- time ----------------------------------------------------------------------------------
    def advance(self, t0_ms, t1_ms):
        dt_us = (t1_ms - t0_ms) * 1000
        z_before = self.z.um()
        x_before = self.x.um()
        self.x.t0_ms = self.z.t0_ms = t0_ms
        dx = self.x.advance(dt_us)
        dz = self.z.advance(dt_us)
        if dx:
            self.last_x_step_ms = t1_ms
        if self.relay_due_ms is not None and t1_ms >= self.relay_due_ms:
            self._relay_cut(t1_ms, dx or dz)
        if self.x.overdrive is not None:
            a, b = self.x.overdrive
            self.x.overdrive = None
            spm = self.x.steps_per_mm
            self.violate("x: a rate change harder than the drive can give (%d -> %d mm/s): steps lost"
                         % (a // spm, b // spm))
        if dx and self.lost_steps_ppm:
            dx = self._lose_steps(dx)
        if dx:
            if self.wheel_slip_max_ppm:
                self._slip(dx)
            self.travel_steps += dx if dx > 0 else -dx
            if z_before - self.stow_um > 1000 or self.z.um() - self.stow_um > 1000:
                self.violate("traverse with the lift raised (z=%d um)" % self.z.um())
            if self.held is not None and self.units[self.held].latched:
                self.violate("traverse while the gripper holds a latched unit")
            self._markers(x_before, t0_ms * 1000, dt_us)
        if self.marker_pending:
            self._deliver_marker_bytes(t1_ms * 1000)
        if dz:
            if dx:
                self.violate("lift moved while traversing")
            self._lift_moved(z_before)
        self._jaws(t0_ms, t1_ms)
        for pin in self.irq_pins:
            pin.check_irq()

    def _lose_steps(self, dx):
        """Injected lost drive steps: take a fraction of the steps StepAxis just made back out."""
        n = dx if dx > 0 else -dx
        acc = self._lost_acc + n * self.lost_steps_ppm
        lost = acc // 1000000
        self._lost_acc = acc - lost * 1000000
        if lost > n:
            lost = n
        if lost:
            back = lost if dx > 0 else -lost
            self.x.steps -= back
            self.lost_steps += lost
            dx -= back
        return dx

    def _slip(self, dx):
        """Injected wheel slip: the wheel turns (1 - slip) of the carriage's travel."""
        d_um = dx * 1000 // self.x.steps_per_mm
        self.wheel_lag_nm += d_um * self.slip_ppm // 1000
        self._slip_left_um -= d_um if d_um > 0 else -d_um
        if self._slip_left_um <= 0:
            self._slip_left_um = self.slip_period_um
            self.slip_ppm = self.rng.between(0, self.wheel_slip_max_ppm)

    def _markers(self, x0, t0_us, dt_us):
        x = self.x.um()
        tag = None
        edge = 0
        w_max = self.marker_window_um + self.marker_jitter_um
        for sid, sx in self.stations:
            d = x - sx
            if sid == self.tag_in_range:  # stays read until the tag is out of any window it may have
                if -w_max <= d <= w_max:
                    tag = sid
                    break
            else:
                w = self.marker_window_um + self._edge_jitter_um
                if -w <= d <= w:
                    tag = sid
                    edge = sx - w if x > x0 else sx + w
                    break
        if tag != self.tag_in_range:
            self.tag_in_range = tag
            if tag is not None:
                if self.marker_jitter_um:
                    self._edge_jitter_um = self.rng.between(-self.marker_jitter_um, self.marker_jitter_um)
                line = b"T%d\n" % tag
                if not self.marker_byte_us:
                    self.marker_rx.extend(line)
                    return
                # the reader starts sending when the tag crosses the edge, inside this advance
                t = t0_us + (dt_us * (edge - x0) // (x - x0) if x != x0 else 0)
                for i in range(len(line)):
                    self.marker_pending.append((t + (i + 1) * self.marker_byte_us, line[i]))

    def _deliver_marker_bytes(self, now_us):
        p = self.marker_pending
        while p and p[0][0] <= now_us:
            self.marker_rx.append(p.pop(0)[1])

    def _lift_moved(self, z_before):
        z = self.z.um()
        if z < self.engage_um - LATCH_CAPTURE_UM:
            self._miss_armed = True
        p = self.head_port()
        if self.held is not None:
            u = self.units[self.held]
            if u.latched and z < z_before:
                self.violate("lift lowered while the gripped unit %d is still latched" % u.id)
            if not u.latched and p is not None and z > z_before and z >= self.engage_um - LATCH_CAPTURE_UM:
                other = self.unit_at(p)
                if other is not None and other is not u:
                    self.violate("unit %d pushed into occupied port %s" % (u.id, self.port_name[p]))
                elif other is None and not self.broken_latches.get(p):
                    if self.latch_misses.get(p):
                        if self._miss_armed:  # this raise goes by; a later one may catch
                            self.latch_misses[p] -= 1
                            self._miss_armed = False
                    else:
                        u.port, u.latched = p, True
                        self._at_port(p)
        elif self.jaw >= 980 and p is not None and self.unit_at(p) and z >= self.engage_um - 10000:
            if z > z_before:
                self.violate("closed jaws pushed into the handle of a unit at %s" % self.port_name[p])

    HANDLE = 990  # a handle between the jaws stops them here (the closed switch makes at 980)
    JAW_UM_PER_MS = 2500  # 1/1000 jaw units a ms at full drive: the whole stroke in 400 ms

    def _handle_in_reach(self):
        if self.held is not None:
            return True
        if self.slipped or not self.at_engage():
            return False
        p = self.head_port()
        return p is not None and self.unit_at(p) is not None

    def _jaws(self, t0_ms, t1_ms):
        """The jaws, a ms at a time: a servo drives them towards its target, the DC motor at its duty;
        the handle, a jam or the end stops block them, and a blocked DC motor draws its stall current.
        Once nothing changes within a ms, the rest of the interval is the same."""
        for t in range(t0_ms + 1, t1_ms + 1):
            if self.grip_dc:
                d = self.motor_duty_pm
                up = self.motor_close == 1
                goal = self.jaw if not d else 1000 if up else 0
            else:
                d = 1000
                goal = self.jaw_target
                up = goal > self.jaw
            lim = goal
            if up:
                if self.jam_at is not None and self.jaw <= self.jam_at < lim:
                    lim = self.jam_at
                if self.jaw <= self.HANDLE < lim and self._handle_in_reach():
                    lim = self.HANDLE
            jaw0, ma0 = self.jaw, self.motor_ma
            if d and self.jaw != lim:
                self._jaw_acc += self.JAW_UM_PER_MS * d // 1000
                mv = self._jaw_acc // 1000
                self._jaw_acc -= mv * 1000
                self.jaw = min(lim, self.jaw + mv) if up else max(lim, self.jaw - mv)
            if d and up and self.jaw == self.jam_at and not self._jam_on:
                self._jam_on = True
                self.jam_onset_ms = t
                self.jam_cut_ms = -1
            if self.grip_dc:
                ma = (self.motor_stall_ma if self.jaw == lim else self.motor_free_ma) * d // 1000
                self.motor_ma += (ma - self.motor_ma) // 2
            self._grasp()
            if self.jaw == jaw0 and self.motor_ma == ma0:
                break

    def _grasp(self):
        if self.held is None:
            if self.jaw >= 980 and self.at_engage() and not self.slipped:
                p = self.head_port()
                u = self.unit_at(p) if p is not None else None
                if u is not None:
                    if self.slip_pending:  # the jaws miss the handle: it is pushed aside
                        self.slip_pending = False
                        self.slipped = True
                    else:
                        self.held = u.id
                        self._at_port(p)
        elif self.jaw < 900:
            u = self.units[self.held]
            self.held = None
            if not u.latched:
                u.dropped = True
                self.violate("gripper opened while carrying unlatched unit %d: unit dropped" % u.id)
        if self.slipped and self.jaw <= 20:
            self.slipped = False

    def jam_jaws(self, at_position):
        """Injection: something jams the jaws: closing, they stop at at_position (0..1000) and the
        DC motor stalls; None clears it. Opening is free."""
        self.jam_at = at_position
        self._jam_on = False

    def slip_next_grip(self):
        """Injection: the next grip misses the handle: the jaws close on nothing, no unit in them."""
        self.slip_pending = True

    def grip_isense(self):
        """The DC motor's current on the ADC (0..isense_ma_fs mA -> 0..65535), with +-8 mA of noise."""
        n = self._noise = (self._noise * 75 + 74) % 65537
        ma = self.motor_ma + (n & 15) - 8 if self.motor_ma else 0
        raw = ma * 65535 // self.isense_ma_fs
        return 0 if raw < 0 else 65535 if raw > 65535 else raw

    # --- actuators -----------------------------------------------------------------------------
    def write(self, name, v):
        if name == "x_enable":
            self.x.enable_pin = v
        elif name == "z_enable":
            self.z.enable_pin = v
        elif name == "side_sel":
            if v != self.side and self.z.um() - self.stow_um > 1000:
                self.violate("side changed with the lift raised")
            self.side = v
        elif name == "grip_dir":
            self.motor_close = v
        elif name == "unlatch":
            if v and not self.unlatch_coil:
                self._unlatch()
            self.unlatch_coil = v
        # direction pins are driven by the step program; other outputs have no physical effect

    def _unlatch(self):
        p = self.head_port()
        u = self.unit_at(p) if p is not None else None
        if u is None or not self.at_engage():
            return
        n = self.stuck_latches.get(p, 0)
        if n:
            self.stuck_latches[p] = n - 1 if n > 0 else n
            return
        if u.gun_out or u.cp in VEHICLE_STATES:
            self.violate("unlatched unit %d while its cable is in use (gun out or vehicle %s)" % (u.id, u.cp))
        u.latched = False
        u.port = None
        u.moves += 1
        if self.held != u.id:
            u.dropped = True
            self.violate("unlatched unit %d with nothing holding it: unit dropped" % u.id)

    def pwm(self, name, duty_ns, freq=50):
        if name != "grip_pwm":
            return
        if self.grip_dc:
            d = duty_ns * freq // 1000000  # per mille of the period (duty_ns * freq < 2**30 here)
            if d and not self.motor_duty_pm:
                self.motor_ma = self.motor_stall_ma * d // 1000  # from rest: no back-EMF yet
            elif not d:
                self.motor_ma = 0  # the winding's current decays in microseconds
                if self._jam_on:
                    self._jam_on = False
                    self.jam_cut_ms = now = vclock._current[0].now_ms
                    self.jam_cuts += 1
                    if now - self.jam_onset_ms > self.jam_cut_worst_ms:
                        self.jam_cut_worst_ms = now - self.jam_onset_ms
            self.motor_duty_pm = d
        elif not duty_ns:
            self.jaw_target = self.jaw  # no pulses: the servo goes limp where it is
        else:
            us = duty_ns // 1000
            t = (us - self.open_us) * 1000 // (self.closed_us - self.open_us)
            self.jaw_target = 0 if t < 0 else 1000 if t > 1000 else t

    # --- sensors -------------------------------------------------------------------------------
    def read(self, name):
        return self.readers[name]()

    def make_readers(self):
        x, z = self.x, self.z

        def held_unit():
            return self.units[self.held] if self.held is not None else None

        def port_unit():
            p = self.head_port()
            return self.unit_at(p) if p is not None else None

        self.stuck = {}
        self.readers = {
            "home_sw": self._home_sw,
            # 50 mm past the ends: a seek at home speed overshoots the home switch by about 20 mm
            "limit_min": lambda: 1 if x.um() <= LIMIT_MIN_UM else 0,
            "limit_max": lambda: 1 if x.um() >= self.travel_um + LIMIT_PAST_UM else 0,
            "x_diag": lambda: 1 if x.fault else 0,
            "z_stow_sw": lambda: 1 if z.um() <= self.stow_um else 0,
            "jaw_open_sw": lambda: 1 if self.jaw <= 20 else 0,
            "jaw_closed_sw": lambda: 1 if self.jaw >= 980 else 0,
            "unit_present_sw": lambda: 1 if self.held is not None or (
                self.at_engage() and port_unit() and not self.slipped) else 0,
            "holster_sw": lambda: self._chatter(1 if held_unit() is not None and not held_unit().gun_out else 0),
            "port_latched_sw": lambda: 1 if self.at_engage() and port_unit() is not None else 0,
            "port_occupied_sw": lambda: 1 if port_unit() is not None else 0,
            "estop_in": lambda: 0 if self.estop_pressed else 1,
        }
        return self.readers

    def _home_sw(self):
        d = self.x.um() - self.home_edge_um
        if self.home_bounce_um and -self.home_bounce_um < d <= self.home_bounce_um:
            return self.rng.below(2)
        return 1 if d <= 0 else 0

    def wheel_counts(self, um):
        """The counts the measuring wheel makes over `um` of its travel: its true diameter."""
        c = um * self.x_counts_per_mm // 1000
        if self._wheel_k:  # c * k / 2**20 in two halves: small ints
            q = c >> 10
            c -= (q * self._wheel_k + (((c - (q << 10)) * self._wheel_k) >> 10)) >> 10
        return c

    def encoder_counts(self):
        if self.encoder_dead:
            return self._dead_counts
        c = self.wheel_counts(self.x.um() - self.wheel_lag_nm // 1000)
        if self.encoder_noise_counts:
            c += self.rng.between(-self.encoder_noise_counts, self.encoder_noise_counts)
        return c

    def cp_mv_at(self, u, t_ms, t_us):
        """The pilot voltage of unit u at the instant t_ms ms + t_us us (t_us may pass 1000), in mV,
        noise-free: the PWM is HIGH for the first duty % of each period, shifted by the unit's phase."""
        high = CP_VOLTS[u.cp] * 1000
        if u.cp in ("E", "F") or (u.cp == "A" and not u.cp_pwm_in_a):
            return high
        t = ((t_ms % CP_PERIOD_US) * 1000 + t_us + u.cp_phase_us) % CP_PERIOD_US
        return high if t * 100 < u.cp_duty_pct * CP_PERIOD_US else -12000

    def cp_mv(self, u):
        """The pilot voltage of unit u now (virtual ms and us), noise-free."""
        clock = vclock._current[0]
        return self.cp_mv_at(u, clock.now_ms, clock.now_us)

    def _chatter(self, v):
        """A switch read through the gripper contacts, flipped with holster_chatter_ppm (the CP noise's
        own Rng, so seeded days are the same with it off)."""
        if self.holster_chatter_ppm and self.cp_rng.below(1000000) < self.holster_chatter_ppm:
            return 1 - v
        return v

    def cp_code_at(self, t_ms, t_us):
        """One ADC conversion of the gripped unit's pilot sampled at t_ms ms + t_us us: 12 bits through
        the divider (-12..+12 V -> 0..4095), with +-cp_noise_mv of noise and spikes."""
        u = self.units[self.held] if self.held is not None else None
        mv = self.cp_mv_at(u, t_ms, t_us) if u is not None else -12000
        rng = self.cp_rng
        mv += rng.between(-self.cp_noise_mv, self.cp_noise_mv)
        if rng.below(1000) < self.cp_spike_per_mille:
            mv += rng.between(1500, 6000) * (1 if rng.below(2) else -1)
        code = (mv + 12000) * 4096 // 24000
        return 0 if code < 0 else 4095 if code > 4095 else code

    # --- injections used by the day and by tests -----------------------------------------------
    def stick(self, name, value):
        """A sensor fault: `name` reads `value` whatever the plant does, until unstick(name)."""
        self.stuck[name] = self.readers[name]
        self.readers[name] = lambda: value
        self.inputs_changed()

    def open_wire(self, name):
        """A broken wire: input `name` is driven by nothing, its pin reads its pull (simboard.machine.Pin),
        until mend_wire(name)."""
        self.stuck[name] = self.readers[name]
        self.readers[name] = _open_wire
        self.inputs_changed()

    def mend_wire(self, name):
        self.unstick(name)

    def unstick(self, name):
        self.readers[name] = self.stuck.pop(name)
        self.inputs_changed()

    def kill_encoder(self, dead=True):
        """The measuring wheel's signal is lost (cable cut): its count freezes where it is."""
        if dead and not self.encoder_dead:
            self._dead_counts = self.encoder_counts()
        self.encoder_dead = dead

    def inject_position_faults(self, slip_max_pct_x100=0, lost_steps_ppm=0, noise_counts=0, jitter_um=0,
                               baud=0):
        """Closed-loop faults: wheel slip varying in 0..slip_max_pct_x100/100 %, lost drive steps,
        encoder noise on reads, marker-edge jitter, and the marker line at `baud` (0: instant)."""
        self.wheel_slip_max_ppm = slip_max_pct_x100 * 100
        self.lost_steps_ppm = lost_steps_ppm
        self.encoder_noise_counts = noise_counts
        self.marker_jitter_um = jitter_um
        self.marker_byte_us = 10000000 // baud if baud else 0

    def press_estop(self, pressed=True):
        """The e-stop chain opens (pressed) or closes again. Opening starts the safety relay's delay
        (relay_ms; 0 cuts at once); closing restores driver power. An interrupt on the chain's
        input sees the change at once."""
        self.estop_pressed = pressed
        if pressed:
            self.estop_ms = vclock._current[0].now_ms
            self.relay_due_ms = self.estop_ms + self.relay_ms
            if not self.relay_ms:
                self._relay_cut(self.estop_ms, False)
        else:
            self.relay_due_ms = None
            self.x.estop = self.z.estop = False
        self.inputs_changed()

    def inputs_changed(self):
        """An injection changed an input: an interrupt armed on it sees that now, not at the next ms."""
        for pin in self.irq_pins:
            pin.check_irq()

    def _relay_cut(self, t_ms, moved):
        self.relay_due_ms = None
        self.relay_cut_ms = t_ms
        self.x.estop = self.z.estop = True
        if moved:
            self.relay_cut_moving += 1
            self.violate("the safety relay cut driver power while an axis still moved")

    def limit_within(self, ms):
        """The carriage might reach a hard limit switch's edge within ms (at 1.5 x v_max, + 5 mm), if
        it has steps to make (SimBoard._split)."""
        x = self.x
        if not x.active or (x.word is None and not x.fifo and (x.dma is None or not x.dma.count)):
            return False
        reach = ms * self.v_limit_um_ms + 5000
        um = x.um()
        return um - reach <= LIMIT_MIN_UM or um + reach >= self.travel_um + LIMIT_PAST_UM
