"""Step timing of the firmware's planner, measured by the step program's law (docs/motion.md).

The planner (firmware/railbot/motion.py, class Axis) is driven here exactly as the firmware drives
it, with a recording output in place of the DMA ring; the words it queues are turned into edge
times by the law the emulator proves cycle by cycle in tests/host/test_pio.py:

    word = L << 8 | (n - 1) << 1 | dir;  P = L + h + 5 cycles
    a word pulled at cycle s has its edges at s + 5 + L + i*P (i < n); the next pull is at s + 3 + n*P

All figures are machine-independent (cycles of the 125 MHz state machine, simulated time). The
fastest stepping (`pio_max_step_rate_hz`) is measured in the PIO emulator itself, on a short burst
of the shipped program at the planner's fastest word (`emulated_max_step_rate`). The ideal
is the closed-form trapezoid of `trapezoid_times`, written here from v and a alone, never from
planner code; tests/host/test_step_timing.py checks these figures against its own closed form.

Run as `python -m railbot_host.steptiming` (firmware/ and boards/SIM on the path) to print the
`BENCH name value` lines that `make bench` collects.
"""

from __future__ import annotations

import bisect
import math
import sys
from dataclasses import dataclass

TICK_US = 10_000  # the control tick feeding the planner
STALL_US = 15_000  # one late tick, placed where it hurts most
WINDOW_US = 10_000  # speed and acceleration are averaged over 10 ms windows


@dataclass
class AxisSpec:
    steps_per_mm: int
    v_max_mm_s: int
    a_max_mm_s2: int
    pio_hz: int = 125_000_000
    pulse_ns: int = 1000
    dir_setup_ns: int = 1000

    @property
    def cyc(self) -> int:
        return self.pio_hz // 1_000_000

    def cycles(self, ns: int) -> int:
        return max(2, -(-ns * self.cyc // 1000))

    @property
    def v(self) -> int:
        return self.v_max_mm_s * self.steps_per_mm

    @property
    def a(self) -> int:
        return self.a_max_mm_s2 * self.steps_per_mm


def sim_x() -> AxisSpec:
    """The SIM board's carriage axis, from boards/SIM/robot.json."""
    from railbot import config
    from simboard.rig import BOARD

    c = config.load_robot(BOARD + "/robot.json")
    x = c["x"]
    return AxisSpec(x["steps_per_mm"], x["v_max_mm_s"], x["a_max_mm_s2"], c["timing"]["pio_hz"],
                    x["step_pulse_ns"], x["dir_setup_ns"])


def sim_travel_steps() -> int:
    from railbot import config
    from simboard.rig import BOARD

    c = config.load_robot(BOARD + "/robot.json")
    return c["x"]["travel_mm"] * c["x"]["steps_per_mm"]


# --- the ideal ---------------------------------------------------------------------------------------

def trapezoid_times(n: int, v: float, a: float) -> list[float]:
    """Seconds at which a trapezoid (or triangle) move from rest to rest reaches steps 1..n."""
    j = v * v / (2 * a)  # steps to reach v
    if n >= 2 * j:
        ta = v / a
        t_end = 2 * ta + (n - 2 * j) / v
        return [math.sqrt(2 * k / a) if k <= j else (ta + (k - j) / v if k <= n - j
                else t_end - math.sqrt(2 * (n - k) / a)) for k in range(1, n + 1)]
    t_peak = math.sqrt(n / a)
    return [math.sqrt(2 * k / a) if 2 * k <= n else 2 * t_peak - math.sqrt(2 * (n - k) / a)
            for k in range(1, n + 1)]


# --- the planner, driven ---------------------------------------------------------------------------

class _Clock:
    """`time` for the planner: ticks_us from a settable value, MicroPython's wrap rules."""

    PERIOD = 1 << 30

    def __init__(self):
        self.us = 0

    def ticks_us(self):
        return self.us % self.PERIOD

    def ticks_ms(self):
        return (self.us // 1000) % self.PERIOD

    def ticks_add(self, t, d):
        return (t + d) % self.PERIOD

    def ticks_diff(self, a, b):
        return ((a - b + self.PERIOD // 2) % self.PERIOD) - self.PERIOD // 2


class LawOutput:
    """The step output as the planner sees it (ring + FIFO), executed by the law in cycles.

    `words` holds (word, cycle the word was committed). `run_to(cycle)` pulls words in order: a word
    is pulled when the previous one ends, or when it arrives if the program was waiting."""

    def __init__(self, h: int):
        from railbot.hal import RING  # the firmware's ring: the feed sees its real capacity

        self.ring = RING
        self.h = h
        self.words: list[int] = []
        self.arrive: list[int] = []
        self.committed = 0
        self.pulls: list[int] = []  # pull cycle of each pulled word
        self.free_at = 0  # cycle the program is next free to pull
        self.now = 0  # cycles

    def _duration(self, w: int) -> int:
        return word_cycles(w, self.h)

    def run_to(self, cycle: int) -> None:
        self.now = cycle
        while len(self.pulls) < self.committed:
            i = len(self.pulls)
            s = max(self.free_at, self.arrive[i])
            if s > cycle:
                break
            self.pulls.append(s)
            self.free_at = s + self._duration(self.words[i])

    def pending(self) -> int:
        return len(self.words) - len(self.pulls)

    def space(self) -> int:
        return self.ring - 1 - self.pending()

    def put(self, w: int) -> None:
        assert 0 <= w < 1 << 30, w
        self.words.append(w)
        self.arrive.append(self.now)

    def commit(self) -> None:
        self.committed = len(self.words)

    def run_out(self) -> int:
        """Cycle at which everything committed has been executed."""
        self.run_to(1 << 62)
        return self.free_at


def make_axis(spec: AxisSpec, out):
    from railbot.motion import Axis

    return Axis(out, spec.steps_per_mm, spec.v_max_mm_s, spec.a_max_mm_s2, spec.pio_hz,
                spec.cycles(spec.pulse_ns), spec.cycles(spec.dir_setup_ns))


def plan(spec: AxisSpec, steps: int) -> tuple[list[int], int]:
    """(words, h) of one move of `steps` from rest, planned word by word with no feed timing."""
    out = LawOutput(spec.cycles(spec.pulse_ns) - 2)
    ax = make_axis(spec, out)
    ax.move_to(steps)
    while ax.queued_motion():
        ax._next_word()
    return out.words, ax.h


def word_cycles(w: int, h: int) -> int:
    """Cycles from a word's pull to the next pull: 3 + n*P."""
    return 3 + (((w >> 1) & 0x7F) + 1) * ((w >> 8) + h + 5)


def pull_cycles(words: list[int], h: int) -> list[int]:
    """Pull cycle of each of back-to-back words (the FIFO never empty), the first at 0."""
    starts = []
    t = 0
    for w in words:
        starts.append(t)
        t += word_cycles(w, h)
    return starts


def edges(words: list[int], h: int) -> list[int]:
    """Rising-edge cycles of back-to-back words (the FIFO never empty), the first pull at 0."""
    out = []
    for w, t in zip(words, pull_cycles(words, h)):
        low = w >> 8
        p = low + h + 5
        first = t + 5 + low
        out.extend(range(first, first + (((w >> 1) & 0x7F) + 1) * p, p))
    return out


# --- figures -------------------------------------------------------------------------------------------

def timing_error_us(e: list[int], ideal: list[float], cyc: int) -> float:
    """Largest |edge - ideal| in us, the move's time origin put on its first step."""
    f = 1 / (cyc * 1e6)  # s per cycle
    off = ideal[0] - e[0] * f
    return max(abs(e[k] * f + off - ideal[k]) for k in range(len(e))) * 1e6


def _window_counts(starts: list[int], window_cycles: int) -> int:
    """Most of `starts` (sorted cycles) within any window of `window_cycles`."""
    best = 0
    j = 0
    for i in range(len(starts)):
        while starts[i] - starts[j] >= window_cycles:
            j += 1
        best = max(best, i - j + 1)
    return best


def speed_profile(e: list[int], cyc: int) -> tuple[list[float], list[float]]:
    """Speed and acceleration averaged over consecutive 10 ms windows from the first edge.

    A window's speed is its step intervals over the time from its first to its last edge (steps/s);
    under constant acceleration that is the speed at the middle of those edges, so the acceleration
    between two windows is their speed difference over the time between those middles. Windows with
    fewer than two edges are left out (the ends of a move at rest)."""
    win = WINDOW_US * cyc
    v: list[float] = []
    mids: list[float] = []
    i = 0
    t = e[0]
    while i < len(e):
        j = bisect.bisect_left(e, t + win, i)  # edges i..j-1 are in [t, t + win)
        if j - i >= 2:
            v.append((j - 1 - i) * cyc * 1e6 / (e[j - 1] - e[i]))
            mids.append((e[j - 1] + e[i]) / 2)
        i = j
        t += win
    acc = [(v[k + 1] - v[k]) * cyc * 1e6 / (mids[k + 1] - mids[k]) for k in range(len(v) - 1)]
    return v, acc


def feed_lead(spec: AxisSpec, steps: int, stall_at: int | None = None) -> tuple[int, bool, list[int]]:
    """Feed a move as the firmware does (feed() every 10 ms of a simulated clock, one tick `stall_at`
    late by 15 ms); return (minimum lead in us just before each feed, underrun, lead per feed)."""
    from railbot import motion

    clock = _Clock()
    cyc = spec.cyc
    out = LawOutput(spec.cycles(spec.pulse_ns) - 2)
    real_time = motion.time
    motion.time = clock
    try:
        ax = make_axis(spec, out)
        ax.move_to(steps)
        leads = []
        underrun = False
        t = 0
        k = 0
        started = False  # the first feed starts the move: no lead before it
        while ax.queued_motion():
            out.run_to(t * cyc)
            if started:
                # lead: from now to when the committed words run out, if fed no more
                end = _run_out_from(out, t * cyc)
                lead = end - t * cyc
                leads.append(lead // cyc)
                if out.pending() == 0 or lead <= 0:
                    underrun = True
            clock.us = t
            ax.feed()
            started = True
            k += 1
            t += TICK_US + (STALL_US if stall_at is not None and k == stall_at else 0)
        return (min(leads) if leads else 0), underrun, leads
    finally:
        motion.time = real_time


def _run_out_from(out: LawOutput, now: int) -> int:
    """Cycle at which the committed words run out, executing from `now` with nothing more fed."""
    free = out.free_at
    for i in range(len(out.pulls), out.committed):
        s = max(free, out.arrive[i])
        free = s + out._duration(out.words[i])
    return max(free, now)


def measure(spec: AxisSpec | None = None, travel_steps: int | None = None) -> dict:
    spec = spec or sim_x()
    travel = travel_steps or sim_travel_steps()
    fig: dict = {}
    h = spec.cycles(spec.pulse_ns) - 2  # the high count in ISR: STEP high h + 2 cycles
    worst_err = 0.0
    for label, n in (("60m", travel), ("2600mm", 2600 * spec.steps_per_mm)):
        words, _ = plan(spec, n)
        e = edges(words, h)
        ideal = trapezoid_times(n, spec.v, spec.a)
        assert len(e) == n, (len(e), n)
        err = timing_error_us(e, ideal, spec.cyc)
        worst_err = max(worst_err, err)
        fig[f"pio_step_timing_err_us_{label}"] = round(err, 4)
        t_move = (e[-1] - e[0]) / (spec.cyc * 1e6)
        fig[f"move_time_ratio_vs_optimal_{label}"] = round(t_move / (ideal[-1] - ideal[0]), 6)
        v, acc = speed_profile(e, spec.cyc)
        fig[f"peak_speed_ratio_{label}"] = round(max(v) / spec.v, 5)
        fig[f"peak_accel_ratio_{label}"] = round(max(abs(x) for x in acc) / spec.a, 5)
        starts = pull_cycles(words, h)
        fig[f"step_words_per_s_max_{label}"] = _window_counts(starts, WINDOW_US * spec.cyc) * (1_000_000 // WINDOW_US)
        fig[f"step_words_{label}"] = len(words)
    fig["pio_step_timing_max_err_us"] = round(worst_err, 4)
    fig["step_words_per_s_max"] = fig["step_words_per_s_max_60m"]
    fig["move_time_ratio_vs_optimal"] = max(fig["move_time_ratio_vs_optimal_60m"], fig["move_time_ratio_vs_optimal_2600mm"])
    fig["peak_speed_ratio"] = max(fig["peak_speed_ratio_60m"], fig["peak_speed_ratio_2600mm"])
    fig["peak_accel_ratio"] = max(fig["peak_accel_ratio_60m"], fig["peak_accel_ratio_2600mm"])
    # feeding: min lead without a stall, then the 15 ms stall at each of the 20 tightest ticks
    lead, underrun, leads = feed_lead(spec, travel)
    tight = sorted(range(len(leads)), key=lambda i: leads[i])[:20]
    worst = lead
    for i in tight:
        m, u, _ = feed_lead(spec, travel, stall_at=i + 1)
        underrun = underrun or u
        worst = min(worst, m)
    fig["feed_min_lead_ms"] = worst // 1000
    fig["feed_min_lead_no_stall_ms"] = lead // 1000
    fig["feed_underrun"] = underrun
    fig.update(emulated_max_step_rate(spec))
    return fig


# --- the fastest stepping, in the PIO emulator ---------------------------------------------------------

BURST_STEPS = 16  # steps per word of the emulated burst: two words, so a word boundary is in it
STEP_GPIO, DIR_GPIO = 2, 3  # any two pins: the program's side-set base (STEP) and OUT base (DIR)


def emulated_max_step_rate(spec: AxisSpec) -> dict:
    """pio_max_step_rate_hz measured, not computed: the shipped `step_pulses` words (as the simulated
    rp2 assembles them) run in the rp2040-pio-emulator (`pioemu`), started as StepOutput starts the
    state machine (put(h), exec PULL_BLOCK, exec MOV_ISR_OSR: test_pio.py checks StepOutput does
    exactly that), fed two words of BURST_STEPS steps at the planner's fastest low count (its
    `p_min` at the configured pulse width). A short burst only (about 8 000 cycles: the emulator
    runs about 60 000 cycles a second). The rate is pio_hz over the LONGEST rise-to-rise interval
    seen (P + 3 across the word boundary), so every step of a burst comes at least that fast; the
    shortest STEP-high and STEP-low widths seen are reported too, and one under the configured
    pulse width is an `error` (a TMC2209 misses such a step)."""
    from collections import deque
    from dataclasses import replace

    import pioemu
    from rp2 import PIO

    from railbot.hal import pio as shipped
    from railbot.motion import encode_word

    prog = shipped.step_pulses
    high = spec.cycles(spec.pulse_ns)
    h = high - shipped.HIGH_OVERHEAD
    p_min = make_axis(spec, LawOutput(h)).p_min  # the planner's floor, from the firmware
    low = p_min - h - shipped.PERIOD_OVERHEAD
    words = [encode_word(1, BURST_STEPS, low)] * 2
    opts = prog.options
    kw = dict(side_set_base=STEP_GPIO, side_set_count=prog.sideset_count, out_base=DIR_GPIO, out_count=1,
              shift_osr_right=opts["out_shiftdir"] == PIO.SHIFT_RIGHT)
    state = pioemu.State()
    state.transmit_fifo.append(h)
    for instr in (shipped.PULL_BLOCK, shipped.MOV_ISR_OSR):  # exec'd on the stopped machine: one cycle each
        after = state
        for _, after in pioemu.emulate([instr], stop_when=lambda op, st: st.clock >= 1,
                                       initial_state=replace(state, program_counter=0, clock=0), **kw):
            pass
        state = replace(after, program_counter=0, clock=0)
    isr = state.input_shift_register.contents
    state = replace(state, transmit_fifo=deque(words))
    cycles = sum(word_cycles(w, h) for w in words) + 8
    bit = 1 << STEP_GPIO
    level = bool(state.pin_values & bit)
    rises: list[int] = []
    falls: list[int] = []
    for before, after in pioemu.emulate(prog.words, stop_when=lambda op, st: st.clock >= cycles, initial_state=state,
                                        wrap_target=prog.wrap_target, wrap_top=prog.wrap, **kw):
        now = bool(after.pin_values & bit)
        if now != level:
            (rises if now else falls).append(before.clock)
        level = now
    fig: dict = {"pio_burst_steps": len(rises), "pio_burst_isr_h": isr}
    if len(rises) < 2 or len(falls) < 2:
        fig["pio_max_step_rate_hz"] = 0
        return fig
    periods = [b - a for a, b in zip(rises, rises[1:])]
    highs = [f - r for r, f in zip(rises, [f for f in falls if f > rises[0]])]
    lows = [r - f for f, r in zip(falls, [r for r in rises if r > falls[0]])]
    ns = 1000 / spec.cyc
    fig["pio_max_step_rate_hz"] = spec.pio_hz // max(periods)
    fig["pio_step_period_min_cycles"] = min(periods)
    fig["pio_step_high_min_ns"] = round(min(highs) * ns)
    fig["pio_step_low_min_ns"] = round(min(lows) * ns)
    return fig


def errors(fig: dict, spec: AxisSpec) -> list[str]:
    """What the figures say is wrong on their own (an `ERROR` line each: make bench fails)."""
    out = []
    if fig.get("pio_burst_steps") != 2 * BURST_STEPS:
        out.append("PIO emulator: %s steps in the burst of %d" % (fig.get("pio_burst_steps"), 2 * BURST_STEPS))
    for k in ("pio_step_high_min_ns", "pio_step_low_min_ns"):
        if k in fig and fig[k] < spec.pulse_ns:
            out.append("PIO emulator: %s = %d, under the configured step pulse of %d ns" % (k, fig[k], spec.pulse_ns))
    return out


def main() -> int:
    spec = sim_x()
    fig = measure(spec)
    for k in sorted(fig):
        v = fig[k]
        print("BENCH %s %s" % (k, ("true" if v else "false") if isinstance(v, bool) else v))
    for e in errors(fig, spec):
        print("ERROR " + e)
    print("BENCH_DONE")
    return 0


if __name__ == "__main__":
    import simboard

    simboard.install()
    sys.exit(main())
