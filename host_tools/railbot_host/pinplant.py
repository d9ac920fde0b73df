"""The plant on the pins of the emulated RP2040: the fast tiers' one plant model (boards/SIM/simboard/plant.py) wired to the PICO pin map, in lockstep with emulated time.

`host_tools/silicon/plant.mjs` stops the emulated chip every millisecond of its clock and hands this
side what its pins did: the STEP rising edges (time and DIR level), the words each step program
pulled, the outputs' levels and the gripper's PWM. The plant advances by that millisecond, judges it
as in the fast tiers (`Plant.violations`), and answers with the switch levels, the measuring wheel's
count, the marker reader's bytes (timed at the board's baud rate by the plant) and, mid-millisecond
on request, one ADC conversion of the pilot. Emulated time stands still while this side computes::

    pp = PinPlant.for_board("PICO", site="short")
    with EmulatedBoard(frozen_uf2(), files=pp.files, speed=0, plant=pp) as eb:
        pp.until(lambda p: p.t_ms > 1000, emu_s=2)

`step_law` checks the edges against the step program's closed-form law (railbot_host.steptiming,
the law the PIO emulator tier proves) and counts underruns: the step program waiting for a word
it should already have had, while the axis ran faster than it can stop from in one step.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from pathlib import Path

from railbot_host import upy

BOARDS = upy.REPO_ROOT / "boards"
for _p in (upy.REPO_ROOT / "firmware", BOARDS / "SIM"):
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

from railbot import config  # noqa: E402
from simboard import vclock  # noqa: E402
from simboard.plant import OPEN, Plant, on_pins  # noqa: E402
from simboard.rng import Rng  # noqa: E402

# Inputs the plant drives (pin levels as the PICO wiring reads them) and outputs it listens to.
INPUTS = ("home_sw", "limit_min", "limit_max", "x_diag", "z_stow_sw", "jaw_open_sw", "jaw_closed_sw",
          "unit_present_sw", "holster_sw", "port_latched_sw", "port_occupied_sw", "estop_in")
OUTPUTS = ("x_enable", "z_enable", "side_sel", "unlatch")
AXES = ("x", "z")
NS_PER_CYCLE = 8  # the 125 MHz system clock the step programs run at (divider 1)


class PlantError(RuntimeError):
    """The lockstep broke (the chip's side sent something this side cannot take)."""


def gpio(pin: str) -> int:
    return int(pin[2:])


def pwm_slice(pin: int) -> tuple[int, int]:
    """(slice, channel B?) of a GPIO's PWM output (RP2040 datasheet 4.5.2)."""
    return (pin >> 1) & 7, pin & 1


def board_data(board: str = "PICO", site: str | None = None) -> tuple[dict, dict, dict[str, bytes]]:
    """(robot config, pins, the flash root's files) of `board`, its robot.json overlaid with
    boards/<board>/sites/<site>.json where a site is named (a short site keeps jobs short)."""
    d = BOARDS / board
    robot = json.loads((d / "robot.json").read_text())
    if site is not None:
        overlay_path = d / "sites" / f"{site}.json"
        if not overlay_path.is_file():
            raise config.ConfigError(f"{overlay_path}: no such site for board {board}")
        for section, values in json.loads(overlay_path.read_text()).items():
            if section not in robot:
                raise config.ConfigError(f"{overlay_path}: {section}: no such section in robot.json")
            robot[section].update(values) if section != "site" else robot.__setitem__("site", values)
    text = json.dumps(robot, indent=2).encode()
    cfg = config.check_robot(json.loads(text), f"{d}/robot.json + site {site}")
    pins = config.load_pins(str(d / "pins.csv"), config.PIN_NAMES,
                            config.DC_GRIP_PINS + config.LINK_PINS, cfg["pin_names"])
    return cfg, pins, {"robot.json": text, "pins.csv": (d / "pins.csv").read_bytes()}


class PinPlant:
    """The plant of one emulated board; served on the pipes EmulatedBoard(plant=...) opens."""

    def __init__(self, cfg: dict, pins: dict, files: dict[str, bytes] | None = None, seed: int = 1):
        self.cfg = cfg
        self.pins = pins
        self.files = files
        self.clock = vclock.Clock()
        vclock.set_current(self.clock)
        self.plant = p = Plant(cfg, Rng(seed))
        on_pins(p)
        p.make_readers()
        # the marker reader's line at its baud rate: a tag line's bytes arrive 10 bits apart
        p.marker_byte_us = 10_000_000 // cfg["x"]["marker_baud"]
        self.clock.listen(p.advance)
        self.cv = threading.Condition()
        self.t_ns = 0
        self.t_ms = 0
        self.out_levels = [None] * len(OUTPUTS)
        self.pwm = None
        self.edges = [[] for _ in AXES]  # per axis: (ns, +1/-1)
        self.pulls = [[] for _ in AXES]  # per axis: (ns, word, machine enabled)
        self.deliveries: list[tuple[int, str, int]] = []  # (unit, port, carriage - port in um) at each latch
        self._latched = {u.id: (u.port if u.latched else None) for u in p.units.values()}
        self.adc_reads = 0
        self.in_levels = [None] * len(INPUTS)
        self.input_changes: list[tuple[int, str, int | None]] = []  # (ns, input, level) as the chip got them
        self.error: str | None = None
        self.done = False

    @classmethod
    def for_board(cls, board: str = "PICO", site: str | None = None, seed: int = 1) -> "PinPlant":
        cfg, pins, files = board_data(board, site)
        return cls(cfg, pins, files, seed)

    def wiring(self) -> dict:
        pins = self.pins
        return {
            "step": [[gpio(pins[f"{a}_step"]), gpio(pins[f"{a}_dir"])] for a in AXES],
            "outputs": [gpio(pins[n]) for n in OUTPUTS],
            "inputs": [gpio(pins[n]) for n in INPUTS],
            "enc": [gpio(pins["enc_a"]), gpio(pins["enc_b"])],
            "uart": 0 if gpio(pins["marker_rx"]) in (1, 13, 17, 29) else 1,  # RX pins of UART0
            "adc": gpio(pins["cp_adc"]) - 26,
            "pwm": list(pwm_slice(gpio(pins["grip_pwm"]))),
        }

    # --- the lockstep, on the serving thread -------------------------------------------------------
    def serve(self, rfile, wfile) -> None:
        """Answer the chip's side on these pipes until it closes them (a thread of its own)."""
        wfile.write((json.dumps(self.wiring()) + "\n").encode())
        wfile.flush()
        threading.Thread(target=self._serve, args=(rfile, wfile), daemon=True, name="pinplant").start()

    def _serve(self, rfile, wfile) -> None:
        try:
            for line in rfile:
                msg = json.loads(line)
                with self.cv:
                    vclock.set_current(self.clock)
                    reply = self._adc(msg["adc"]) if "adc" in msg else self._step(msg)
                    self.cv.notify_all()
                wfile.write((json.dumps(reply) + "\n").encode())
                wfile.flush()
        except Exception as e:  # noqa: BLE001 - whatever broke the lockstep is reported by until()
            with self.cv:
                self.error = f"{type(e).__name__}: {e}"
        finally:
            with self.cv:
                self.done = True
                self.cv.notify_all()
            try:
                wfile.close()  # the chip's side, blocked on its next read, then exits
            except OSError:
                pass

    def _adc(self, t_ns: int) -> dict:
        self.adc_reads += 1
        t_us = t_ns // 1000
        return {"code": self.plant.cp_code_at(t_us // 1000, t_us % 1000)}

    def _step(self, msg: dict) -> dict:
        p = self.plant
        t_ns = msg["t"]
        if t_ns < self.t_ns:
            raise PlantError(f"the chip's clock went back: {t_ns} ns after {self.t_ns}")
        for i, v in enumerate(msg["o"]):
            if v != self.out_levels[i]:
                self.out_levels[i] = v
                p.write(OUTPUTS[i], v)
        pwm = msg.get("pwm")
        if pwm is not None and pwm != self.pwm:
            self.pwm = pwm
            p.pwm("grip_pwm", pwm[0], pwm[1] or 50)
        e = msg["e"]
        axes = (p.x, p.z)
        for i in range(0, len(e), 3):
            d = 1 if e[i + 2] else -1
            axes[e[i]].edge(d)
            self.edges[e[i]].append((e[i + 1], d))
        q = msg["p"]
        for i in range(0, len(q), 4):
            self.pulls[q[i]].append((q[i + 1], q[i + 2], q[i + 3]))
        self.t_ns = t_ns
        self.t_ms = t_ns // 1_000_000
        self.clock.advance_to(self.t_ms)  # the plant moves (Plant.advance) and judges
        self._note_deliveries()
        levels = []
        for i, name in enumerate(INPUTS):
            v = p.read(name)
            v = None if v == OPEN else v
            if v != self.in_levels[i]:
                self.in_levels[i] = v
                self.input_changes.append((t_ns, name, v))
            levels.append(v)
        uart = list(p.marker_rx)
        p.marker_rx[:] = b""
        return {"in": levels, "enc": p.encoder_counts(), "uart": uart}

    def _note_deliveries(self) -> None:
        p = self.plant
        for u in p.units.values():
            port = u.port if u.latched else None
            if port != self._latched.get(u.id):
                self._latched[u.id] = port
                if port is not None:
                    self.deliveries.append((u.id, p.port_name[port], p.x.um() - p.port_x_um[port]))

    # --- for the test or bench thread ----------------------------------------------------------------
    def until(self, cond, emu_s: float, wall_s: float = 900.0):
        """Wait until cond(self) holds (evaluated under the lock, after an exchange); fail if emulated
        time passes emu_s first. wall_s only guards against a hung emulator, it bounds nothing."""
        with self.cv:
            end_ms = self.t_ms + emu_s * 1000
            deadline = time.monotonic() + wall_s
            while True:
                v = cond(self)
                if v:
                    return v
                if self.error or self.done:
                    raise PlantError(f"the lockstep ended: {self.error or 'the chip side closed'}")
                if self.t_ms >= end_ms:
                    raise AssertionError(f"not reached within {emu_s} s of emulated time (t={self.t_ms} ms)")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the emulator made no progress for {wall_s} s of wall time")
                self.cv.wait(1.0)

    def run(self, emu_s: float) -> None:
        t = self.t_ms + emu_s * 1000
        self.until(lambda pp: pp.t_ms >= t, emu_s + 1)

    def do(self, fn):
        with self.cv:
            return fn(self.plant)

    def step_law(self, axis: int = 0) -> dict:
        with self.cv:
            return step_law(self.pulls[axis], self.edges[axis], self.cfg[AXES[axis]], self.cfg["timing"]["pio_hz"])


def step_law(pulls: list[tuple[int, int, int]], edges: list[tuple[int, int]], axis_cfg: dict,
             pio_hz: int = 125_000_000) -> dict:
    """The rising edges heard at the pins against the step program's law (docs/motion.md): a word
    pulled at cycle s has its edges at s + 5 + L + i*P, P = L + h + 5, and wants its successor at
    s + 3 + n*P. `pulls` are (ns, word, enabled): the pull of a stopped machine (enabled 0, the
    start-up exec) carries the high count h. Each word is judged on its own window, up to the next
    pull (a word cut short by a stop has fewer edges; that is counted, not hidden).

    Returns edges_checked, err_us_max, words, short_words (fewer edges than the law), extra_edges
    (edges no word explains), underruns (the program waited for a word while running faster than
    sqrt(2a), the speed it can stop from within one step), underrun_at (the first five: emulated ms,
    word index, steps/s, stall us) and stall_max_us."""
    cyc_ns = 1e9 / pio_hz
    a = axis_cfg["a_max_mm_s2"] * axis_cfg["steps_per_mm"]  # steps/s^2
    v_stop = math.sqrt(2 * a)
    h = None
    words = []  # (s in cycles, word)
    for ns, w, enabled in pulls:
        if not enabled:
            h = w
        else:
            words.append((ns / cyc_ns, w))
    fig = {"edges_checked": 0, "err_us_max": 0.0, "words": len(words), "short_words": 0,
           "extra_edges": 0, "underruns": 0, "stall_max_us": 0.0, "underrun_at": []}
    if not words:
        fig["extra_edges"] = len(edges)
        return fig
    if h is None:
        raise PlantError("step words with no high count pulled first")
    times = sorted(ns / cyc_ns for ns, _ in edges)
    fig["extra_edges"] = sum(1 for t in times if t < words[0][0])
    k = fig["extra_edges"]
    from_rest = True  # the word starts after the program waited: a lone step then sets no speed
    for j, (s, w) in enumerate(words):
        low = w >> 8
        n = ((w >> 1) & 0x7F) + 1
        period = low + h + 5
        nxt = words[j + 1][0] if j + 1 < len(words) else math.inf
        seen = []
        while k < len(times) and times[k] < nxt:
            seen.append(times[k])
            k += 1
        if len(seen) < n:
            fig["short_words"] += 1
        elif len(seen) > n:
            fig["extra_edges"] += len(seen) - n
        for i, t in enumerate(seen[:n]):
            err = abs(t - (s + 5 + low + i * period)) * cyc_ns / 1000
            fig["err_us_max"] = max(fig["err_us_max"], err)
            fig["edges_checked"] += 1
        wanted = s + 3 + n * period
        waited = nxt != math.inf and nxt > wanted + pio_hz // 1_000_000  # more than 1 us late
        lone = n == 1 and from_rest  # a one-step move (its period is DIR's set-up): nothing was due after it
        from_rest = waited
        if waited:
            fig["stall_max_us"] = max(fig["stall_max_us"], (nxt - wanted) * cyc_ns / 1000)
            if pio_hz / period > v_stop and not lone:
                fig["underruns"] += 1
                if len(fig["underrun_at"]) < 5:  # where: (ms, word index, steps/s, stall us) for a failure's message
                    fig["underrun_at"].append((round(s * cyc_ns / 1e6, 1), j, round(pio_hz / period),
                                               round((nxt - wanted) * cyc_ns / 1000, 1)))
    return fig


def status(link) -> str:
    """The robot's `status` over the link (PlantError if it is not an ok status line)."""
    reply = link.request("status")
    if not reply.startswith("ok <"):
        raise PlantError(f"status: {reply}")
    return reply


def wait_status(pp: PinPlant, link, word: str, emu_s: float) -> str:
    """Poll the robot's status until it holds `word`, within emu_s of emulated time (else PlantError)."""
    end = pp.t_ms + emu_s * 1000
    while True:
        s = status(link)
        if word in s:
            return s
        if pp.t_ms >= end:
            raise PlantError(f"{word!r} not in the status within {emu_s} s of emulated time: {s}")
        time.sleep(0.3)


def undrained(pulls: list[tuple[int, int, int]], pio_hz: int = 125_000_000) -> list[tuple[int, int, int]]:
    """The pulls less those the firmware drained (StepOutput.swap's `pull noblock` while the program
    runs): a word pulled sooner after the one before than that one's first edge could come (5 + L
    cycles) was never the program's. The h pull of a stopped machine is kept."""
    cyc_ns = 1e9 / pio_hz
    kept = []
    for i, (ns, w, enabled) in enumerate(pulls):
        if enabled and i + 1 < len(pulls) and pulls[i + 1][2]:
            if (pulls[i + 1][0] - ns) / cyc_ns < 5 + (w >> 8) and kept and kept[-1][2]:
                continue  # drained: the next pull came before this word could make an edge
        kept.append((ns, w, enabled))
    return kept


def estop_to_decel(edges_ns: list[int], t_open_ns: int, window_ns: int = 20_000_000) -> tuple[float, float]:
    """(us from the chain opening at the pin to the first step interval longer than the cruise
    interval, that cruise interval in us): the cruise interval is the longest between the edges of
    the window_ns before the opening; the figure is taken at the edge that ends the longer interval
    (+ 0.5 us: the words' whole-cycle rounding)."""
    before = [t for t in edges_ns if t_open_ns - window_ns <= t < t_open_ns]
    if len(before) < 3:
        raise PlantError(f"too few steps before the chain opened ({len(before)}): not at speed")
    cruise = max(b - a for a, b in zip(before, before[1:]))
    prev = before[-1]
    for t in edges_ns:
        if t <= prev:
            continue
        if t - prev > cruise + 500:
            return (t - t_open_ns) / 1000, cruise / 1000
        prev = t
    raise PlantError("no step interval longer than the cruise interval after the chain opened")


def estop_at_speed(pp: "PinPlant", link, errors: list[str], jog_mm: int = 4000) -> dict:
    """A jog of jog_mm (from rest: up to speed, a cruise, the ramp down), the e-stop chain opened
    mid-cruise: the figures of stop category 1 on the chip (named without their si_)."""
    x0 = pp.do(lambda p: p.x.um())
    with pp.cv:
        n_pulls, n_edges = len(pp.pulls[0]), len(pp.edges[0])
    reply = link.request(f"jog {jog_mm}")
    if not reply.startswith("ok jog to"):
        raise PlantError(f"jog {jog_mm}: {reply}")
    pp.until(lambda pp: pp.plant.x.um() > x0 + jog_mm * 1000 // 2, 10)  # mid-cruise
    t_press = pp.do(lambda p: p.press_estop() or pp.t_ns)
    wait_status(pp, link, "ALARM", 1)
    pp.run(3.0)
    with pp.cv:
        edges = [ns for ns, _ in pp.edges[0]]
        opened = [t for t, name, v in pp.input_changes if name == "estop_in" and v == 0 and t >= t_press]
        relay_ms = pp.plant.relay_cut_ms
        law = step_law(undrained([q for q in pp.pulls[0][:n_pulls] if not q[2]] + pp.pulls[0][n_pulls:],
                                 pp.cfg["timing"]["pio_hz"]),
                       pp.edges[0][n_edges:], pp.cfg["x"], pp.cfg["timing"]["pio_hz"])
    if not opened:
        raise PlantError("the chip never saw the e-stop chain open")
    t_open = opened[0]
    latency_us, cruise_us = estop_to_decel(edges, t_open)
    a = pp.cfg["x"]["a_max_mm_s2"] * pp.cfg["x"]["steps_per_mm"]
    v = 1e6 / cruise_us
    stand_ms = (edges[-1] - t_open) / 1e6
    if relay_ms is None:
        errors.append("silicon (plant): the safety relay never cut driver power after the e-stop")
    if law["underruns"] or law["short_words"] > 1 or law["extra_edges"]:  # one word is cut short: the swap
        errors.append(f"silicon (plant): the jog and its e-stop ramp against the step law: {law}")
    return {
        "estop_ramp_underruns": law["underruns"],
        "estop_ramp_edge_err_us_max": round(law["err_us_max"], 3),
        "estop_to_decel_us": round(latency_us, 1),
        "estop_cruise_steps_s": round(v),
        "estop_standstill_ms": round(stand_ms, 1),
        "estop_standstill_over_v_a_ms": round(stand_ms - v / a * 1000, 1),
    }


def measure(uf2: Path, say=None) -> tuple[dict, list[str]]:
    """The charge on the real port (`make bench`): the frozen image with the plant on its pins on
    the short site, the flash at its worst-case times; home, then `charge 1`, and while the unit is
    carried along the rail a second `charge` arrives (its save must wait for the stop). Returns the
    figures (emulated time; named without their si_) and the checks that failed."""
    import serial

    from railbot_host.link import Link
    from railbot_host.silicon import EmulatedBoard

    say = say or (lambda m: None)
    pp = PinPlant.for_board("PICO", site="short")
    errors: list[str] = []
    with EmulatedBoard(uf2, files=pp.files, speed=0, plant=pp, flash_times="max") as eb:
        eb.wait_boot(1)
        say("silicon (frozen image, plant on the pins): home, then a charge on the short site")
        stream = serial.serial_for_url(eb.url, baudrate=115200, timeout=0.02)
        try:
            link = Link(stream, timeout_s=120.0)
            link.hello()
            if link.request("home") != "ok homing":
                raise PlantError("home refused")
            wait_status(pp, link, "homed:1", 10)
            if not link.request("charge 1").startswith("ok charge bay 1"):
                raise PlantError("charge 1 refused")
            # carried along the rail at speed: the second request's save must wait for the stop
            pp.until(lambda pp: pp.plant.held is not None and pp.plant.x.um() > 900_000, 30)
            x_asked = pp.do(lambda p: p.x.um())
            reply = link.request("charge 2")
            if not reply.endswith("saved at the next stop"):
                errors.append(f"silicon (plant): a charge asked for mid-traverse was answered {reply!r}")
            busy0 = eb.stats()["flash_busy_ns"]
            pp.until(lambda pp: pp.deliveries, 40)
            wait_status(pp, link, "IDLE", 10)
            stats = eb.stats()
            with pp.cv:
                charge_pulls = [list(q) for q in pp.pulls]
                charge_edges = [list(e) for e in pp.edges]
            say("silicon (frozen image, plant on the pins): the e-stop chain opens at full speed")
            fig_estop = estop_at_speed(pp, link, errors)
        finally:
            stream.close()
    laws = [step_law(pulls, edges, pp.cfg[a], pp.cfg["timing"]["pio_hz"])
            for a, pulls, edges in zip(AXES, charge_pulls, charge_edges)]
    for name, law in zip(AXES, laws):
        if law["short_words"] or law["extra_edges"] or law["edges_checked"] < 1000:
            errors.append(f"silicon (plant): {name} step edges do not match the words pulled: {law}")
        if law["underruns"]:  # the bound fails on the count; this line says where
            errors.append(f"silicon (plant): {name} step ring ran dry under way at (ms, word, steps/s, "
                          f"stall us) {law['underrun_at']}")
    fig = {  # silicon_bench names them si_...
        "step_edge_err_us_max": round(max(law["err_us_max"] for law in laws), 3),
        "step_edges_checked": sum(law["edges_checked"] for law in laws),
        "save_step_underruns": sum(law["underruns"] for law in laws),
        "plant_violations": len(pp.plant.violations),
        "plant_charge_emulated_s": round(pp.t_ms / 1000, 2),
        "plant_flash_busy_ms_after_request": round((stats["flash_busy_ns"] - busy0) / 1e6, 1),
        "plant_save_asked_at_x_mm": x_asked // 1000,
    }
    fig.update(fig_estop)
    if pp.deliveries:
        fig["charge_bay_error_mm"] = round(abs(pp.deliveries[0][2]) / 1000, 3)
    else:
        errors.append("silicon (plant): the unit was never latched at a port")
    if pp.plant.violations:
        errors.append(f"silicon (plant): violations: {pp.plant.violations}")
    return fig, errors
