"""A rig: the simulated board with the firmware robot on it, helpers to run it to a condition, and
the measured scenarios that tests and `make bench` share. Runs under CPython and MicroPython."""
from simboard.board import SimBoard
from railbot import config
from simboard import machine


def _board_folder():
    # <repo>/boards/SIM/simboard/rig.py -> <repo>/boards/SIM (no os.path on MicroPython)
    return "/".join(__file__.replace("\\", "/").split("/")[:-2]) or "."


BOARD = _board_folder()


# A DC gear-motor gripper for the SIM board (its robot.json has the servo): 100 % duty closing,
# 30 % holding; a stall is over 1200 mA for 5 ms (the plant's motor: 250 mA free, 2000 mA stalled).
DC_GRIPPER = {"kind": "dc", "move_timeout_ms": 1500, "pwm_hz": 20000, "duty_pct": 100, "hold_duty_pct": 30,
              "isense_ma_fs": 3000, "stall_ma": 1200, "stall_ms": 5, "hold_min_ma": 400, "backoff_ms": 150}
DC_PINS = (("grip_dir", "GP23"), ("grip_isense", "GP27"))  # free on the SIM board


def sim_config(units=None, gripper=None, **changes):
    """The SIM board's robot config, with units placed as given ([(id, "PORT"), ...]), another
    gripper's data, and changes given as section_key=value (e.g. x_home_speed_mm_s=50)."""
    cfg = config.load_robot(BOARD + "/robot.json")
    if gripper is not None:
        cfg["gripper"] = gripper
    if units is not None:
        cfg["site"]["units"] = [{"id": uid, "port": port} for uid, port in units]
    for name, value in changes.items():
        section = [s for s in cfg if name.startswith(s + "_")][0]  # e.g. pick_place_grip_tries
        key = name[len(section) + 1:]
        assert key in cfg[section], name
        cfg[section][key] = value
    return cfg


def wire_gripper(board, gripper):
    """A DC gripper's pins, wired on the simulated board (a servo needs none beyond grip_pwm)."""
    if gripper is not None and gripper["kind"] == "dc":
        for name, pin in DC_PINS:
            board.pins[name] = pin
            board.wiring[pin] = name


class Rig:
    def __init__(self, units=None, seed=1, home=True, gripper=None, cpu_costs=None, flash=None, truth=True,
                 **changes):
        """truth=False: the nominal plant (simboard.plant), for a test that needs exact figures."""
        self.board = SimBoard(BOARD, seed=seed, robot_cfg=sim_config(units, gripper, **changes), cpu_costs=cpu_costs,
                              flash=flash, truth=truth)
        self.plant = self.board.plant
        wire_gripper(self.board, gripper)
        self.events = []
        self.crashes_allowed = 0  # a test that crashes firmware tasks on purpose raises this
        self.robot = self._boot()
        if home:
            assert self.robot.command("home").startswith("ok")
            self.until(lambda: self.robot.homed, 120)

    def _boot(self):
        robot = self.board.robot(emit=self._event)
        robot.start()
        return robot

    def reboot(self, cause=machine.PWRON_RESET):
        """The board comes back after a reset or a power cut: a new robot, same plant and flash."""
        self.board.reboot(cause)
        self.robot = self._boot()
        return self.robot

    def _event(self, kind, fields):
        self.events.append((kind, fields))

    def kinds(self):
        return [k for k, _ in self.events]

    def now_ms(self):
        return self.board.clock.now_ms

    def _no_crash(self):
        """A task that crashed is a firmware bug (the firmware turns it into an alarm, but a test
        must not pass over it): fail, unless the test crashed it on purpose."""
        robot = self.robot
        if robot.crashes > self.crashes_allowed:
            raise AssertionError("a firmware task crashed: %s" % robot.alarm_detail)

    def run(self, seconds):
        self.board.loop.run_until(self.now_ms() + seconds * 1000)
        self._no_crash()

    def until(self, cond, limit_s, step_ms=100):
        """Run until cond() is true; fail if it is not within limit_s simulated seconds."""
        end = self.now_ms() + limit_s * 1000
        while not cond():
            if self.now_ms() >= end:
                raise AssertionError("condition not reached within %d s (status %s)" % (limit_s, self.robot.command("status")))
            self.board.loop.run_until(self.now_ms() + step_ms)
            self._no_crash()

    def cmd(self, line):
        return self.robot.command(line)

    def port(self, name):
        return self.plant.port_index(name)

    def unit_port_name(self, uid):
        p = self.plant.units[uid].port
        return "carried" if p is None else self.plant.port_name[p]


def hold_from_full_speed(rig):
    """Hold a traverse at full speed: ms from the command to standstill (v/a plus the queued lead)."""
    robot = rig.robot
    rig.cmd("charge 2")  # the unit is at the far end: a long traverse back west follows
    rig.until(lambda: robot.x.busy() and robot.x.v >= robot.x.v_max and rig.plant.held is not None, 600, 10)
    rig.cmd("hold")
    rig.until(lambda: robot.hold_standstill_ms >= 0, 10, 10)
    return robot.hold_standstill_ms


def homing_errors_um(rig, count, scatter_um=200, chatter_um=50):
    """Home `count` times from different places with the switch's trigger point scattered by
    +-scatter_um and chatter within chatter_um of it; each time the true position minus the
    declared one, in um."""
    robot, plant = rig.robot, rig.plant
    plant.home_bounce_um = chatter_um
    errors = []
    for i in range(count):
        plant.home_edge_um = rig.board.rng.between(-scatter_um, scatter_um)
        robot.carriage.homed = False
        assert rig.cmd("home") == "ok homing"
        rig.until(lambda: robot.homed and robot.state == "IDLE", 120)
        errors.append(plant.x.um() - robot.enc_steps * 1000 // robot.x_spm)
        rig.events = []
        assert rig.cmd("jog %d" % (100 + 37 * (i % 20))).startswith("ok")  # start the next one elsewhere
        rig.until(lambda: "jogged" in rig.kinds(), 60)
    return errors


def run_task(rig, coro, limit_s):
    """Run one firmware coroutine (e.g. robot.go_to_port(p)) on the board until it ends (or aborts)."""
    from simboard import vasyncio
    done = [False]

    async def wrap():
        try:
            await coro
        except Exception:  # an Abort: the alarm is the record
            pass
        done[0] = True

    vasyncio.create_task(wrap())
    rig.until(lambda: done[0], limit_s, 10)


def position_faults(plant, lost_steps_ppm=5000):
    """The closed-loop figure's faults: 0-3 % varying wheel slip, lost drive steps, +-2 counts of
    encoder noise, +-1 mm marker-edge jitter, the marker line at 9600 baud."""
    plant.inject_position_faults(slip_max_pct_x100=300, lost_steps_ppm=lost_steps_ppm, noise_counts=2,
                                 jitter_um=1000, baud=9600)


def bay_stops(rig, count, lost_steps_ppm=5000):
    """`count` moves from station to random other stations (bay ports) under position_faults; returns
    (true x minus port x in um for each stop, approach ms for each stop). Stops at the first alarm."""
    robot, plant, rng = rig.robot, rig.plant, rig.board.rng
    position_faults(plant, lost_steps_ppm)
    errors, approach = [], []
    station = -1
    for _ in range(count):
        port = 2 * rng.below(robot.site.bays // 2)
        while robot.site.port_station[port] == station:
            port = 2 * rng.below(robot.site.bays // 2)
        station = robot.site.port_station[port]
        run_task(rig, robot.go_to_port(port), 300)
        if robot.alarm:
            break
        errors.append(plant.x.um() - plant.port_x_um[port])
        approach.append(robot.approach_ms)
    return errors, approach


def shuffled(rng, items):
    """items in a random order drawn from rng (Fisher-Yates; the same on every interpreter)."""
    items = list(items)
    for i in range(len(items) - 1):
        j = i + rng.below(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items


def true_station_stops(seed, faults=True):
    """A rig of this seed (the plant's truth drawn from it) stops at every station (its left port) in
    a random order, under position_faults unless faults=False. Returns (the carriage's true x minus the
    port's true place in um for each stop, the plant, the robot's alarm). Stops at the first alarm."""
    rig = Rig(seed=seed)
    robot, plant = rig.robot, rig.plant
    if faults:
        position_faults(plant)
    errors = []
    for port in shuffled(rig.board.rng, [p for p in range(len(plant.port_x_um)) if plant.port_side[p] == 0]):
        run_task(rig, robot.go_to_port(port), 300)
        if robot.alarm:
            break
        errors.append(plant.x.um() - plant.port_x_um[port])
    return errors, plant, robot.alarm


CP_STATES = "ABCDEF"


def cp_readings(rig, count):
    """`count` debounced control-pilot readings of a gripped unit, each with a random state, PWM duty
    (5..96 %, or steady), phase and, in state A, steady +12 V or PWM (an EVSE offering current), under
    the plant's noise and spikes. Returns (correct readings, dangerous ones: B, C or D read as A)."""
    from railbot.unitsense import cp_read
    plant, rng = rig.plant, rig.board.rng
    uid = min(plant.units)
    u = plant.units[uid]
    plant.held, plant.jaw, plant.jaw_target = uid, 1000, 1000  # the jaws hold the unit's handle
    correct = dangerous = 0
    for _ in range(count):
        u.cp = CP_STATES[rng.below(6)]
        u.cp_duty_pct = 100 if rng.below(10) == 0 else rng.between(5, 96)
        u.cp_pwm_in_a = rng.below(2) == 1
        u.cp_phase_us = rng.below(1000)
        got = cp_read(rig.robot.hw.pilot)  # a few blocking ms, as in a pick
        rig.board.loop.run_until(rig.now_ms() + 1 + rng.below(4))  # the firmware's tasks (watchdog)
        if got == u.cp:
            correct += 1
        elif got == "A":
            dangerous += 1
    return correct, dangerous


def grip_rate_hz(rig, close=True):
    """The grip loop's rate over one move of the gripper (simulated time): step intervals a second."""
    g = rig.robot.gripper
    t, n = [0, 0], [0]

    async def timed():
        import time
        s, t[0] = g.steps, time.ticks_ms()
        await rig.robot.grip(close)
        n[0], t[1] = g.steps - s, time.ticks_ms()

    run_task(rig, timed(), 10)
    return (n[0] - 1) * 1000 // (t[1] - t[0]) if t[1] > t[0] else 0


def grip_jam_cutoff_ms(rig, at_position=500):
    """Close the gripper into a jam at at_position: the plant's worst time from a jam stop to motor
    current off (simulated ms), the stops cut, the alarm raised."""
    rig.plant.jam_jaws(at_position)
    run_task(rig, rig.robot.grip(True), 10)
    rig.plant.jam_jaws(None)
    return rig.plant.jam_cut_worst_ms, rig.plant.jam_cuts, rig.robot.alarm


def grip_loop_steps(rig, lock=True):
    """The DC grip loop driven a step at a time on the virtual clock, 1 ms apart: a close into a jam
    (free running, then the stall's cut), an open, a close to the end stop (confirmed, holding).
    Only the steps run under micropython.heap_lock() (with lock); the plant moves between them.
    Returns (bytes the steps allocated by gc.mem_alloc, or -1 without it; steps; how each move ended)."""
    import gc
    import micropython
    g, clock, plant = rig.robot.gripper, rig.board.clock, rig.plant
    mem = getattr(gc, "mem_alloc", None)
    total = n = 0
    ends = []
    for close, jam in ((True, 500), (False, None), (True, None)):
        plant.jam_jaws(jam)
        g.start(close, g.timeout_ms)
        r = 0
        while not r and n < 5000:
            rig.robot.hw.wdt.feed()  # the robot's own tasks do not run here
            clock.advance_to(clock.now_ms + 1)
            a = mem() if mem else 0
            if lock:
                micropython.heap_lock()
            try:
                r = g.step()
            finally:
                if lock:
                    micropython.heap_unlock()
            if mem:
                total += mem() - a
            n += 1
        ends.append(r)
    g.drv.off()
    return (total if mem else -1), n, ends


POWERCUT_UNITS = [(1, "D24L"), (2, "D25L")]
POWERCUT_BAY = 1


def powercut_mission(rig):
    """The power-cut mission: `charge` a bay (unit 1 fetched from D24L, latched at B1), then
    `release` it, each request sent again after a reset unless the record shows it was taken, as
    a host does when its request got no reply."""
    from railbot.ledger import SERVING
    robot, bay = rig.robot, POWERCUT_BAY
    led = robot.ledger
    if bay not in robot.jobs and led.state[1] != SERVING:
        assert rig.cmd("charge %d" % bay).startswith("ok")
    rig.until(lambda: led.state[1] == SERVING and not robot.jobs, 300)
    assert rig.cmd("release %d" % bay).startswith("ok")


def _powercut_done(rig):
    from railbot.ledger import FREE
    robot, name = rig.robot, "B%d" % POWERCUT_BAY
    return rig.unit_port_name(1) == name and robot.ledger.port[1] == rig.port(name) and \
        robot.ledger.state[1] == FREE and not robot.jobs


def powercut_steps():
    """The flash write steps of the mission without a cut."""
    rig = Rig(units=POWERCUT_UNITS)
    s0 = rig.board.flash.steps
    powercut_mission(rig)
    assert _powercut_done(rig) and not rig.plant.violations
    return rig.board.flash.steps - s0


def powercut_case(k):
    """Cut the power at the k-th flash write step of the mission, reboot; the ledger must name every
    unit's physical place before anything moves; then home and finish. The failures (none: passed)."""
    rig = Rig(units=POWERCUT_UNITS)
    rig.board.flash.cut_after(k)
    try:
        powercut_mission(rig)
        return ["step %d: no power cut" % k]
    except machine.BoardReset:
        pass
    truth = {}
    for uid, u in rig.plant.units.items():
        truth[uid] = -1 if u.port is None else u.port
    held = rig.plant.held
    robot = rig.reboot()
    bad = []
    if robot.ledger.port != truth:
        bad.append("step %d: ledger %r after reboot, units at %r (held %r)" % (k, robot.ledger.port, truth, held))
    if robot.alarm:
        return bad + ["step %d: alarm %d %s after reboot" % (k, robot.alarm, robot.alarm_detail)]
    try:
        assert robot.command("home").startswith("ok")
        rig.until(lambda: robot.homed, 900)
        powercut_mission(rig)
    except AssertionError as e:
        return bad + ["step %d: %s" % (k, e)]
    if not _powercut_done(rig):
        bad.append("step %d: mission not finished: %s" % (k, robot.command("ledger")))
    if rig.plant.violations:
        bad.append("step %d: %r" % (k, rig.plant.violations))
    if robot.alarm:
        bad.append("step %d: alarm %d %s" % (k, robot.alarm, robot.alarm_detail))
    return bad


def powercut_campaign(stride=1):
    """(cases, failed cases, failure texts) of cutting the power at every stride-th write step."""
    bad, cases, failed = [], 0, 0
    for k in range(1, powercut_steps() + 1, stride):
        cases += 1
        b = powercut_case(k)
        failed += 1 if b else 0
        bad += b
    return cases, failed, bad


# --- task crashes (docs/safety.md, "Task crashes") --------------------------------------------------
TASK_CRASH_CASES = ("supervise_idle", "motion_cruise", "mission_cruise", "mission_lift", "link_cruise")


class _CrashPort:
    """A link port (railbot.port protocol) whose readinto raises once when armed."""

    def __init__(self):
        self.armed = False
        self.reads = 0

    def readinto(self, buf):
        self.reads += 1
        if self.armed:
            self.armed = False
            raise OSError(5, "injected port fault")
        return 0

    def room(self):
        return 64

    def write(self, data):
        return len(data)


def _speed_trace(rig):
    """(t_ms, x steps) after every advance of the virtual clock: the carriage's real motion."""
    trace = []
    plant = rig.plant
    rig.board.clock.listen(lambda t0, t1: trace.append((t1, plant.x.steps)))
    return trace


def _max_decel_mm_s2(trace, spm, t_from, window_ms=20):
    """The carriage's largest drop in speed (mm/s^2) between consecutive windows after t_from; the
    position between two samples of the trace is interpolated (time moves in uneven steps)."""
    pts = [p for p in trace if p[0] >= t_from - 2 * window_ms]
    if len(pts) < 2:
        return 0
    i = [0]

    def at(t):
        while i[0] + 1 < len(pts) and pts[i[0] + 1][0] <= t:
            i[0] += 1
        k = i[0]
        if k + 1 >= len(pts):
            return pts[k][1]
        (t0, s0), (t1, s1) = pts[k], pts[k + 1]
        return s0 + (s1 - s0) * (t - t0) // (t1 - t0)

    worst = 0
    v_prev = None
    t = pts[0][0]
    s_prev = at(t)
    while t + window_ms <= pts[-1][0]:
        t += window_ms
        s = at(t)
        v = abs(s - s_prev)  # steps a window
        if v_prev is not None and v_prev - v > worst:
            worst = v_prev - v
        v_prev, s_prev = v, s
    return worst * 1000 * 1000 // (window_ms * window_ms) // spm


def task_crash_case(name):
    """Crash one firmware task (TASK_CRASH_CASES) in the phase the name gives; the robot must stop
    under control (no faster than 2 x a_max), switch the drivers off, raise TASK_CRASH, keep its
    watchdog fed and its tasks running, and serve again after `reset` and `home`. Returns the
    list of what went wrong ([]: handled)."""
    from railbot import alarms
    from railbot.link import Link
    rig = Rig(units=[(1, "D24L")])
    rig.crashes_allowed = 1
    robot, plant = rig.robot, rig.plant
    trace = _speed_trace(rig)
    port = _CrashPort()
    robot.spawn("link0", Link(robot, port=port).serve, port)
    task, phase = name.split("_")
    real_tick = robot.tick

    def tick_raises():
        robot.tick = real_tick
        raise RuntimeError("injected fault in tick")

    if phase == "cruise":  # at full speed: a jog, or carrying the unit from the dock to the far end
        busy = task == "mission" or task == "link"
        assert rig.cmd("charge 44" if busy else "jog 40000").startswith("ok")
        rig.until(lambda: robot.x.busy() and robot.x.v >= robot.x.v_max and (plant.held or not busy), 300, 10)
    elif phase == "lift":  # the lift rising into the dock's port to fetch the unit
        assert rig.cmd("charge 44").startswith("ok")
        rig.until(lambda: robot.z.busy() and robot.z.pos > robot.z_clear, 300, 10)
    t_crash = rig.now_ms()
    if task in ("supervise", "motion"):
        robot.tick = tick_raises  # called next by supervise_task at rest, by motion_task while moving
    elif task == "link":
        port.armed = True
    else:
        robot.task(task).throw_in = RuntimeError("injected fault in the %s task" % task)
    bad = []
    try:
        rig.run(5)
        reads = port.reads
        rig.run(5)  # ten seconds in all: the watchdog (2 s) would have reset a robot whose tick died
    except machine.BoardReset as e:
        return ["%s: the board reset (cause %d): the tick did not survive" % (name, e.cause)]
    except AssertionError as e:
        return ["%s: %s" % (name, e)]
    if robot.crashes != 1:
        bad.append("%s: %d crashes seen, not 1" % (name, robot.crashes))
    if robot.alarm != alarms.TASK_CRASH:
        bad.append("%s: alarm %d, not TASK_CRASH" % (name, robot.alarm))
    if robot.hw.x_step.enabled() or robot.hw.z_step.enabled() or robot.x.busy() or robot.z.busy():
        bad.append("%s: not at rest with the drivers off 10 s after the crash" % name)
    decel = _max_decel_mm_s2(trace, robot.x_spm, t_crash)
    if decel > 2 * robot.cfg["x"]["a_max_mm_s2"]:
        bad.append("%s: the carriage stopped at %d mm/s^2 (a_max %d): no controlled stop"
                   % (name, decel, robot.cfg["x"]["a_max_mm_s2"]))
    if port.reads == reads:
        bad.append("%s: the link task no longer reads its port" % name)
    if plant.violations:
        bad.append("%s: %r" % (name, plant.violations))
    if bad:
        return bad
    try:
        rig.until(lambda: not robot.z.busy(), 10)
        assert rig.cmd("reset").startswith("ok"), "reset refused"
        assert rig.cmd("home").startswith("ok"), "home refused"
        rig.until(lambda: robot.homed and robot.state == "IDLE", 300)
        if 44 not in robot.jobs and robot.ledger.unit_at(rig.port("B44")) != 1:
            assert rig.cmd("charge 44").startswith("ok")
        rig.until(lambda: rig.unit_port_name(1) == "B44" and not robot.jobs, 600)
    except (AssertionError, machine.BoardReset) as e:
        bad.append("%s: after reset and home: %s" % (name, e))
    if robot.alarm or plant.violations:
        bad.append("%s: after the job: alarm %d, %r" % (name, robot.alarm, plant.violations))
    return bad


def task_crash_campaign():
    """(cases, uncontrolled cases, what went wrong) over TASK_CRASH_CASES."""
    bad, failed = [], 0
    for name in TASK_CRASH_CASES:
        b = task_crash_case(name)
        failed += 1 if b else 0
        bad += b
    return len(TASK_CRASH_CASES), failed, bad
