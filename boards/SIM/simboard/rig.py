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
    def __init__(self, units=None, seed=1, home=True, gripper=None, **changes):
        self.board = SimBoard(BOARD, seed=seed, robot_cfg=sim_config(units, gripper, **changes))
        self.plant = self.board.plant
        wire_gripper(self.board, gripper)
        self.events = []
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

    def run(self, seconds):
        self.board.loop.run_until(self.now_ms() + seconds * 1000)

    def until(self, cond, limit_s, step_ms=100):
        """Run until cond() is true; fail if it is not within limit_s simulated seconds."""
        end = self.now_ms() + limit_s * 1000
        while not cond():
            if self.now_ms() >= end:
                raise AssertionError("condition not reached within %d s (status %s)" % (limit_s, self.robot.command("status")))
            self.board.loop.run_until(self.now_ms() + step_ms)

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
        robot.homed = False
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


CP_STATES = "ABCDEF"


def cp_readings(rig, count):
    """`count` debounced control-pilot readings of a gripped unit, each with a random state, PWM duty
    (5..96 %, or steady), phase and, in state A, steady +12 V or PWM (an EVSE offering current), under
    the plant's noise and spikes. Returns (correct readings, dangerous ones: B, C or D read as A)."""
    from railbot.robot import cp_read
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
