"""PIO programs, cycle by cycle: the simulated rp2 assembler against adafruit_pioasm, and the EXACT
shipped instruction words run in the rp2040-pio-emulator (`pioemu`) to prove the step-word law
(firmware/railbot/hal/pio.py, simboard/plant.py) and the quadrature count.

Conventions: the emulator yields one (before, after) pair per state-machine cycle; "at cycle c" is
the cycle in which an instruction is issued (`before.clock`), and a pin level is the one the cycle
leaves (`after.pin_values`). The step program runs at 125 MHz (8 ns a cycle), the quadrature at 10 MHz.
"""
# ruff: noqa: F821 - the @asm_pio DSL names (pins, x, jmp, ...) are put into the module's globals
import functools
import json
import time
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import replace
from pathlib import Path

import adafruit_pioasm
import pioemu
import pytest

import rp2
from railbot import hal
from railbot.hal import pio as shipped
from railbot.motion import Axis, encode_word
from railbot.motion import cycles as _cycles
from railbot_host import steptiming
from simboard import plant, vclock

asm_pio, PIO, PIOASMError = rp2.asm_pio, rp2.PIO, rp2.PIOASMError

# Pins as on the board (boards/PICO/pins.csv); the firmware's StateMachine arguments
# (firmware/railbot/hal/__init__.py): step_pulses sideset_base=x_step, out_base=x_dir;
# quadrature in_base=enc_a, jmp_pin=enc_b.
STEP_PIN, DIR_PIN = 2, 3
ENC_A, ENC_B = 6, 7

# ---------------------------------------------------------------------------------------------
# (a) the assembler: every shipped program, and synthetic ones, against adafruit_pioasm
# ---------------------------------------------------------------------------------------------

# pioasm text equivalent to each program in firmware/railbot/hal/pio.py
SHIPPED_PIOASM = {
    "step_pulses": """
        .side_set 1
            pull block      side 0
            out pins, 1     side 0
            out y, 7        side 0
        step:
            mov x, osr      side 0
        low:
            jmp x-- low     side 0
            mov x, isr      side 1
        high:
            jmp x-- high    side 1
            jmp y-- step    side 0
    """,
    "quadrature": """
            mov osr, pins
            out y, 1
            jmp y-- fall
        .wrap_target
        rise:
            wait 1 pin 0
            jmp pin rise_down
            mov y, ~x
            jmp y-- rise_up
        rise_up:
            mov x, ~y
            jmp fall
        rise_down:
            jmp x-- fall
        fall:
            wait 0 pin 0
            jmp pin fall_up
            jmp x-- rise
        .wrap
        fall_up:
            mov y, ~x
            jmp y-- fall_up2
        fall_up2:
            mov x, ~y
            jmp rise
    """,
}


def shipped_programs():
    return {v.name: v for v in vars(shipped).values() if isinstance(v, rp2.Program)}


def assert_same_as_pioasm(prog, text):
    ref = adafruit_pioasm.Program(text)
    kw = ref.pio_kwargs
    want = list(ref.assembled)
    assert prog.words == want, "%s: ours %s, adafruit_pioasm %s" % (
        prog.name, [hex(w) for w in prog.words], [hex(w) for w in want])
    assert prog.wrap_target == kw.get("wrap_target", 0), prog.name
    assert prog.wrap == kw.get("wrap", len(want) - 1), prog.name
    assert prog.sideset_pins == kw.get("sideset_pin_count", 0), prog.name
    assert prog.sideset_opt == bool(kw["sideset_enable"]), prog.name
    assert prog.sideset_count == prog.sideset_pins + prog.sideset_opt
    assert prog.delay_max == 31 >> prog.sideset_count


def test_every_shipped_program_is_assembled_as_pioasm_does():
    progs = shipped_programs()
    assert set(progs) == set(SHIPPED_PIOASM), (
        "firmware/railbot/hal/pio.py ships %s: write each one's pioasm text in SHIPPED_PIOASM" % sorted(progs))
    for name, prog in progs.items():
        assert_same_as_pioasm(prog, SHIPPED_PIOASM[name])


def test_shipped_programs_fields():
    sp, q = shipped.step_pulses, shipped.quadrature
    # side-set on every instruction: no enable bit (pioemu has no SIDE_EN), 4 delay bits
    assert (sp.sideset_pins, sp.sideset_opt, sp.sideset_count, sp.delay_max, sp.wrap_target, sp.wrap) == (
        1, False, 1, 15, 0, 7)
    assert (q.sideset_pins, q.sideset_opt, q.sideset_count, q.wrap_target, q.wrap) == (0, False, 0, 3, 12)
    # the recording API the simulated board binds by
    assert sp.name == "step_pulses" and len(sp.instructions) == 8 and sp.labels == {"step": 3, "low": 4, "high": 6}
    assert [i.op for i in sp.instructions] == ["pull", "out", "out", "mov", "jmp", "mov", "jmp", "jmp"]
    assert [(w >> 8) & 0xF for w in sp.words] == [0] * 8  # no [delay]: one emulator step is one cycle


def test_start_up_exec_words_are_pioasm_with_step_low():
    """StepOutput executes PULL_BLOCK and MOV_ISR_OSR on the stopped state machine: under `.side_set 1`
    bit 12 is STEP's side-set, so both drive STEP low."""
    ref = adafruit_pioasm.Program(".side_set 1\npull block side 0\nmov isr, osr side 0").assembled
    assert [shipped.PULL_BLOCK, shipped.MOV_ISR_OSR] == list(ref) == [0x80A0, 0xA0C7]


@asm_pio()
def jumps_and_waits():
    label("top")
    nop()
    jmp("top")
    jmp(not_x, "top")[1]
    jmp(x_dec, "mid")[2]
    jmp(not_y, "end")
    label("mid")
    jmp(y_dec, "top")[3]
    jmp(x_not_y, "mid")
    jmp(pin, "end")[30]
    jmp(not_osre, "top")[31]
    wait(0, gpio, 5)
    wait(1, gpio, 31)
    wait(1, pin, 3)[4]
    wait(0, pin, 31)
    wait(1, irq, 2)
    wait(0, irq, rel(7))
    label("end")
    nop()[7]


JUMPS_AND_WAITS = """
top:
    nop
    jmp top
    jmp !x top [1]
    jmp x-- mid [2]
    jmp !y end
mid:
    jmp y-- top [3]
    jmp x!=y mid
    jmp pin end [30]
    jmp !osre top [31]
    wait 0 gpio 5
    wait 1 gpio 31
    wait 1 pin 3 [4]
    wait 0 pin 31
    wait 1 irq 2
    wait 0 irq 7 rel
end:
    nop [7]
"""


@asm_pio()
def ins_and_outs():
    in_(pins, 32)
    in_(x, 1)
    in_(y, 7)
    in_(null, 16)
    in_(isr, 3)
    in_(osr, 31)[9]
    out(pins, 32)
    out(x, 1)
    out(y, 2)
    out(null, 3)
    out(pindirs, 4)
    out(pc, 5)
    out(isr, 6)
    out(exec, 16)[5]
    set(pins, 0)
    set(x, 31)
    set(y, 7)
    set(pindirs, 3)[12]


INS_AND_OUTS = """
    in pins, 32
    in x, 1
    in y, 7
    in null, 16
    in isr, 3
    in osr, 31 [9]
    out pins, 32
    out x, 1
    out y, 2
    out null, 3
    out pindirs, 4
    out pc, 5
    out isr, 6
    out exec, 16 [5]
    set pins, 0
    set x, 31
    set y, 7
    set pindirs, 3 [12]
"""


@asm_pio()
def fifo_mov_irq():
    push()
    push(block)
    push(noblock)
    push(iffull)
    push(iffull, block)
    push(iffull, noblock)[1]
    pull()
    pull(block)
    pull(noblock)
    pull(ifempty)
    pull(ifempty, block)
    pull(ifempty, noblock)[2]
    mov(pins, x)
    mov(x, y)
    mov(y, invert(pins))
    mov(exec, isr)
    mov(pc, reverse(osr))
    mov(isr, status)
    mov(osr, null)
    mov(x, invert(isr))[3]
    irq(0)
    irq(block, 1)
    irq(noblock, 2)
    irq(clear, 3)
    irq(rel(4))
    irq(block, rel(5))
    irq(clear, rel(7))[31]


FIFO_MOV_IRQ = """
    push
    push block
    push noblock
    push iffull
    push iffull block
    push iffull noblock [1]
    pull
    pull block
    pull noblock
    pull ifempty
    pull ifempty block
    pull ifempty noblock [2]
    mov pins, x
    mov x, y
    mov y, ~pins
    mov exec, isr
    mov pc, ::osr
    mov isr, status
    mov osr, null
    mov x, !isr [3]
    irq 0
    irq wait 1
    irq 2
    irq clear 3
    irq 4 rel
    irq wait 5 rel
    irq clear 7 rel [31]
"""


# side-set: 1 pin optional (delays to 7), wrap in the middle of the program
@asm_pio(sideset_init=PIO.OUT_LOW)
def side1_opt():
    set(x, 3).side(1)
    wrap_target()
    label("loop")
    nop()[7]
    jmp(x_dec, "loop").side(0)[7]
    wrap()
    nop().side(1)[0]


SIDE1_OPT = """
.side_set 1 opt
    set x, 3 side 1
.wrap_target
loop:
    nop [7]
    jmp x-- loop side 0 [7]
.wrap
    nop side 1 [0]
"""


# 2 pins, every instruction side-sets: no enable bit, delays to 7
@asm_pio(sideset_init=(PIO.OUT_LOW, PIO.OUT_HIGH))
def side2():
    label("a")
    out(pins, 1).side(3)[7]
    jmp(not_osre, "a").side(2)
    wrap_target()
    nop().side(1)[3]
    nop().side(0)


SIDE2 = """
.side_set 2
a:
    out pins, 1 side 3 [7]
    jmp !osre a side 2
.wrap_target
    nop side 1 [3]
    nop side 0
"""


# 3 pins optional: 4 bits with the enable, delays to 1
@asm_pio(sideset_init=(PIO.OUT_LOW,) * 3)
def side3_opt():
    nop().side(7)[1]
    nop()[1]
    nop().side(5)


SIDE3_OPT = """
.side_set 3 opt
    nop side 7 [1]
    nop [1]
    nop side 5
"""


# 5 pins, all side-set: no delay bits left
@asm_pio(sideset_init=(PIO.OUT_LOW,) * 5)
def side5():
    set(pins, 1).side(31)
    set(pins, 0).side(16)


SIDE5 = """
.side_set 5
    set pins, 1 side 31
    set pins, 0 side 16
"""


# sideset_init but no .side() at all: MicroPython makes the side-set optional (enable bit 0)
@asm_pio(sideset_init=PIO.OUT_LOW)
def side_never():
    nop()[7]
    word(0xE000, "end")  # the label's address ORed in: set pins, 2
    label("end")
    nop()


SIDE_NEVER = """
.side_set 1 opt
    nop [7]
    set pins, 2
end:
    nop
"""


@pytest.mark.parametrize("prog,text", [
    (jumps_and_waits, JUMPS_AND_WAITS), (ins_and_outs, INS_AND_OUTS), (fifo_mov_irq, FIFO_MOV_IRQ),
    (side1_opt, SIDE1_OPT), (side2, SIDE2), (side3_opt, SIDE3_OPT), (side5, SIDE5), (side_never, SIDE_NEVER),
], ids=lambda v: v.name if isinstance(v, rp2.Program) else "")
def test_synthetic_programs_are_assembled_as_pioasm_does(prog, text):
    assert_same_as_pioasm(prog, text)


def test_side_set_and_wrap_fields():
    assert (side1_opt.sideset_count, side1_opt.sideset_opt, side1_opt.wrap_target, side1_opt.wrap) == (2, True, 1, 2)
    assert (side2.sideset_count, side2.sideset_opt, side2.wrap_target, side2.wrap) == (2, False, 2, 3)
    assert (side3_opt.sideset_count, side3_opt.delay_max) == (4, 1)
    assert (side5.sideset_count, side5.delay_max) == (5, 0)
    assert (side_never.sideset_count, side_never.sideset_opt) == (2, True)
    assert (jumps_and_waits.sideset_count, jumps_and_waits.delay_max) == (0, 31)


@pytest.mark.parametrize("body,kw,names", [
    (lambda: out(osr, 1), {}, "out(7, 1)"),  # MicroPython would encode OUT EXEC
    (lambda: out(x, 0), {}, "out(1, 0)"),
    (lambda: in_(status, 1), {}, "in_(5, 1)"),
    (lambda: mov(pindirs, x), {}, "mov(4, 1)"),  # MicroPython would encode MOV EXEC
    (lambda: mov(null, x), {}, "mov(3, 1)"),
    (lambda: set(pc, 1), {}, "set(5, 1)"),
    (lambda: set(x, 32), {}, "set(1, 32)"),
    (lambda: wait(1, x, 0), {}, "wait(1, 1, 0)"),
    (lambda: wait(1, irq, 8), {}, "irq"),
    (lambda: jmp(9, "a"), {}, "jmp(9, 'a')"),
    (lambda: jmp("nowhere"), {}, "unknown label 'nowhere'"),
    (lambda: push(block, noblock), {}, "push"),
    (lambda: pull(y), {}, "pull(2)"),
    (lambda: irq(block, 8), {}, "irq(33, 8)"),
    (lambda: nop()[32], {}, "delay 32 above 31"),
    (lambda: nop().side(1)[16], {"sideset_init": PIO.OUT_LOW}, "delay 16 above 15"),
    (lambda: (nop().side(1)[8], nop()), {"sideset_init": PIO.OUT_LOW}, "delay 8 above 7"),  # + enable bit
    (lambda: nop().side(1), {}, ".side() without sideset_init"),
    (lambda: nop().side(2), {"sideset_init": PIO.OUT_LOW}, "does not fit"),
    (lambda: (label("a"), label("a")), {}, "duplicate label 'a'"),
    (lambda: [nop() for _ in range(33)], {}, "at most 32"),
    (lambda: wrap(), {}, "wrap() before any instruction"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_dsl_raises_a_clear_error(body, kw, names):
    def bad():
        body()
    with pytest.raises(PIOASMError) as e:
        asm_pio(**kw)(bad)
    assert "bad" in str(e.value) and names in str(e.value), str(e.value)


# ---------------------------------------------------------------------------------------------
# (b) step_pulses in the emulator: the step-word law, cycle by cycle, at 125 MHz
# ---------------------------------------------------------------------------------------------
#
# The law (firmware/railbot/hal/pio.py), written out here with its numbers so the test is the spec:
# a word is L<<8 | (n-1)<<1 | dir, below 2**30; with h the high count in ISR the period is
# P = L + h + 5 cycles. A word pulled at cycle s drives DIR from s + 1, has its rising edges at
# s + 5 + L + i*P (i = 0..n-1), STEP high h + 2 cycles per step and low at least L + 3, and the next
# pull at s + 3 + n*P. With the TX FIFO empty the program waits in `pull` with STEP low.

ROOT = Path(__file__).resolve().parents[2]
ROBOT = json.loads((ROOT / "boards" / "SIM" / "robot.json").read_text())
PIO_HZ = ROBOT["timing"]["pio_hz"]  # 125 MHz: 8 ns a cycle
ENABLE_PIN = 4  # x_enable
FIFO_DEPTH = 8  # TX FIFO joined (fifo_join=JOIN_TX)
LOW_LOOP = shipped.step_pulses.labels["low"]  # `jmp x-- low  side 0`: the L countdown (from OSR)
HIGH_LOOP = shipped.step_pulses.labels["high"]  # `jmp x-- high side 1`: the h countdown (from ISR)


def word_fields(word):
    """(dir bit, n, L) of a step word, read from its bits as the law states them."""
    assert 0 <= word < 1 << 30, "a step word must stay below 2**30: %#x" % word
    return word & 1, ((word >> 1) & 0x7F) + 1, word >> 8


def step_law(words, h, arrivals=None):
    """What the law says the program does with `words` queued at cycles `arrivals` (all at 0 by
    default), pulled one after the other: per word a dict of s, dir, n, L, P, rises, end."""
    out, free = [], 0
    for i, w in enumerate(words):
        d, n, low = word_fields(w)
        period = low + h + 5
        s = max(free, arrivals[i] if arrivals else 0)
        free = s + 3 + n * period
        rises = [s + 5 + low + k * period for k in range(n)]
        out.append(dict(s=s, dir=d, n=n, L=low, P=period, rises=rises, end=free))
    return out


# --- the state machine as StepOutput configures and starts it -------------------------------------

class _RecordingStateMachine:
    """Stands in for rp2.StateMachine in StepOutput: records what the firmware asks of it."""

    def __init__(self, sm_id, program, **kw):
        self.calls = [("init", sm_id, program, kw)]

    def put(self, word):
        self.calls.append(("put", word))

    def exec(self, instr):
        self.calls.append(("exec", instr))

    def active(self, on=None):
        self.calls.append(("active", on))


class _Pin:
    def __init__(self, gpio):
        self.gpio, self.level = gpio, 0

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


class _IdleDMA:
    channel, count = 0, 0

    def pack_ctrl(self, **kw):
        return 0


@functools.lru_cache(maxsize=None)
def step_output_calls(high_cycles):
    """The calls StepOutput.__init__ makes on its state machine (x_step, x_dir pins, PIO_HZ)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hal.rp2, "StateMachine", _RecordingStateMachine)
        mp.setattr(hal.rp2, "DMA", _IdleDMA)
        mp.setattr(hal.uctypes, "addressof", lambda buf: 0x20000000)
        out = hal.StepOutput(0, _Pin(STEP_PIN), _Pin(DIR_PIN), _Pin(ENABLE_PIN), PIO_HZ, high_cycles)
    return tuple(out.sm.calls)


class Trace:
    """One emulation: per emulated cycle (cycle, pc, STEP, DIR, pulled), the spans (from, to, STEP)
    jumped over inside a countdown, and the edges, DIR changes and pulls seen."""

    def __init__(self):
        self.cycles = []
        self.skipped = []
        self.rises, self.falls, self.pulls, self.dir_changes = [], [], [], []
        self.state = None


class StepMachine:
    """The shipped `step_pulses` words in pioemu, configured from StepOutput's own calls: StateMachine
    arguments (side-set base = STEP, OUT base = DIR), the program's asm_pio options (shift right, no
    autopull), then put(h), exec(PULL_BLOCK), exec(MOV_ISR_OSR) replayed on the stopped machine
    (each exec'd word emulated alone for one cycle from its state, PC and clock put back) before
    active(1) starts the program at cycle 0.

    The simulated board's StepAxis runs in lockstep with every emulation, one cycle at a time: it must
    step exactly on the emulated rising edges, in the emulated DIR, and pull its words at the same
    cycles (its FIFO level equals the emulator's after every cycle)."""

    def __init__(self, high_cycles):
        calls = step_output_calls(high_cycles)
        (_, sm_id, prog, kw), boot, start = calls[0], calls[1:-1], calls[-1]
        assert start == ("active", 1) and not [c for c in boot if c[0] not in ("put", "exec")], calls
        opts = prog.options
        assert not opts.get("autopull") and not opts.get("autopush"), "explicit pull(block) expected"
        self.prog, self.freq = prog, kw["freq"]
        self.kw = dict(side_set_base=kw["sideset_base"].gpio, side_set_count=prog.sideset_count,
                       out_base=kw["out_base"].gpio,
                       out_count=1 if isinstance(opts["out_init"], int) else len(opts["out_init"]),
                       shift_osr_right=opts["out_shiftdir"] == PIO.SHIFT_RIGHT)
        state = pioemu.State()
        for call in boot:
            if call[0] == "put":
                state.transmit_fifo.append(call[1])
                continue
            for _, after in pioemu.emulate([call[1]], stop_when=lambda op, s: s.clock >= 1,
                                           initial_state=replace(state, program_counter=0, clock=0), **self.kw):
                pass
            state = replace(after, program_counter=0, clock=0)
        self.boot = state
        self.h = state.input_shift_register.contents

    def _emulate(self, state, stop_when):
        p = self.prog
        return pioemu.emulate(p.words, stop_when=stop_when, initial_state=state,
                              wrap_target=p.wrap_target, wrap_top=p.wrap, **self.kw)

    def states(self, words, cycles):
        """The state after each of the first `cycles` cycles, `words` in the FIFO at cycle 0."""
        state = replace(self.boot, transmit_fifo=deque(words))
        return [after for _, after in self._emulate(state, lambda op, s: s.clock >= cycles)]

    def run(self, words, cycles, late=(), keep=None):
        """Emulate `cycles` cycles from activation. `words` are queued at cycle 0 and `late` =
        [(cycle, word)] at those cycles; between cycles the queue tops the TX FIFO up to 8, as the DMA
        does. keep=None emulates every cycle. keep=K jumps over the middle of each countdown (L at PC
        `low`, h at PC `high`), keeping its first and last K cycles: `jmp x-- <itself>` with X = x > 0
        only decrements X and drives STEP (low at `low`, high at `high`), so m <= x cycles of it are
        X -= m, clock += m and nothing else (test_countdown_jump_equals_full_emulation checks this
        against pioemu emulating every cycle)."""
        ops = self.prog.words
        assert ops[LOW_LOOP] == 0x0040 | LOW_LOOP and ops[HIGH_LOOP] == 0x1040 | HIGH_LOOP  # no delay
        sa = plant.StepAxis("emulated", 1, -10 ** 12, 10 ** 12)
        sa.cyc, sa.h, sa.active, sa.enable_pin = 1, self.h, True, 0  # advance(k) = k cycles
        queue = deque(sorted([(0, w) for w in words] + list(late), key=lambda a: a[0]))
        tr = Trace()
        state = replace(self.boot, transmit_fifo=deque())
        step_bit, dir_bit = 1 << self.kw["side_set_base"], 1 << self.kw["out_base"]
        prev_step, prev_dir = bool(state.pin_values & step_bit), bool(state.pin_values & dir_bit)

        def top_up(st):
            while queue and queue[0][0] <= st.clock and len(st.transmit_fifo) < FIFO_DEPTH:
                w = queue.popleft()[1]
                st.transmit_fifo.append(w)  # the live state's FIFO: seen by the next cycle's pull
                sa.put(w)

        def jump_here(op, s):
            if s.clock >= cycles:
                return True
            if keep is None or s.x_register <= keep:
                return False
            pc = s.program_counter
            if pc == LOW_LOOP:
                return s.output_shift_register.contents - s.x_register >= keep
            return pc == HIGH_LOOP and s.input_shift_register.contents - s.x_register >= keep

        top_up(state)
        while state.clock < cycles:
            for before, after in self._emulate(state, jump_here):
                c = before.clock
                st, di = bool(after.pin_values & step_bit), bool(after.pin_values & dir_bit)
                pulled = before.program_counter == 0 and after.program_counter == 1
                rose = st and not prev_step
                tr.cycles.append((c, before.program_counter, st, di, pulled))
                if rose:
                    tr.rises.append(c)
                if prev_step and not st:
                    tr.falls.append(c)
                if di != prev_dir:
                    tr.dir_changes.append((c, di))
                if pulled:
                    tr.pulls.append(c)
                prev_step, prev_dir = st, di
                moved, want = sa.advance(1), ((1 if di else -1) if rose else 0)
                assert moved == want, "cycle %d: the plant stepped %d, the program %d" % (c, moved, want)
                top_up(after)
                assert len(after.transmit_fifo) == len(sa.fifo), "cycle %d: the plant pulled at another cycle" % c
                state = after
            if state.clock >= cycles:
                break
            m = min(state.x_register - keep, cycles - state.clock)
            tr.skipped.append((state.clock, state.clock + m, prev_step))
            assert sa.advance(m) == 0 and prev_step == (state.program_counter == HIGH_LOOP)
            state = replace(state, x_register=state.x_register - m, clock=state.clock + m)
            top_up(state)
        tr.state = state
        return tr


def check_law(tr, words, h, arrivals=None):
    """The trace is the law, cycle by cycle: at every emulated cycle STEP is high exactly inside
    [rise, rise + h + 2) of the law's rises, DIR is the level of the last word pulled before it
    (from s + 1 on), the pulls are the law's, and outside the words the program waits at PC 0 (the
    `pull`) with STEP low; in a jumped-over span the law's STEP is constant at the level the program
    holds there, with no pull or DIR change in it. Returns the law (the words pulled within the trace)."""
    horizon = tr.state.clock
    law = [w for w in step_law(words, h, arrivals) if w["s"] < horizon]
    rises = [r for w in law for r in w["rises"]]
    pulls = [w["s"] for w in law]
    assert tr.pulls == pulls, "pulls %s\nlaw   %s" % (tr.pulls, pulls)
    ri = wi = 0
    dir_level = 0  # DIR is low from the start-up until the first word drives it
    for c, pc, st, di, pulled in tr.cycles:
        while ri < len(rises) and rises[ri] + h + 2 <= c:
            ri += 1
        while wi < len(law) and law[wi]["s"] + 1 <= c:
            dir_level = law[wi]["dir"]
            wi += 1
        high = ri < len(rises) and rises[ri] <= c
        assert st == high, "cycle %d: STEP %d, the law says %d (rises %s)" % (
            c, st, high, rises[max(0, ri - 2):ri + 2])
        assert di == dir_level, "cycle %d: DIR %d, the law says %d" % (c, di, dir_level)
        busy = wi and c < law[wi - 1]["end"]
        if not busy and not pulled:
            assert pc == 0 and not st, "cycle %d: outside every word but at PC %d" % (c, pc)
    for a, b, level in tr.skipped:
        i = bisect_right(rises, a) - 1  # the last law rise at or before a
        high = i >= 0 and a < rises[i] + h + 2
        steady = (i + 1 == len(rises) or rises[i + 1] >= b) and (not high or rises[i] + h + 2 >= b)
        assert high == level and steady, "the law's STEP is not %d all through the jumped span %s" % (level, (a, b))
        i = bisect_left(pulls, a - 1)
        assert i == len(pulls) or pulls[i] >= b, "a law pull or DIR change inside the jumped span %s" % ((a, b),)
    return law


def measure(tr):
    """The law as the emulator shows it, per word pulled: cycles from the pull to the DIR change,
    to each rise; periods; high and low widths; cycles to the next pull; the next word's first rise."""
    out = []
    bounds = tr.pulls + [tr.state.clock]
    for i, s in enumerate(tr.pulls):
        e = bounds[i + 1]
        r = [x for x in tr.rises if s <= x < e]
        f = [x for x in tr.falls if s <= x < e]
        before = [x for x in tr.falls if x < s]
        prev_fall = before[-1] if before else None
        m = dict(s=s, rises=[x - s for x in r], periods=[b - a for a, b in zip(r, r[1:])],
                 highs=[b - a for a, b in zip(r, f)], lows=[b - a for a, b in zip(f, r[1:])],
                 dir_at=[c - s for c, _ in tr.dir_changes if s <= c < e],
                 low_before=(r[0] - prev_fall) if r and prev_fall is not None else None,
                 end=(e - s) if i + 1 < len(tr.pulls) else None)
        out.append(m)
    for a, b in zip(out, out[1:]):
        a["to_next_rise"] = (b["s"] + b["rises"][0]) - (a["s"] + a["rises"][-1]) if a["rises"] and b["rises"] else None
    return out


def assert_measured_law(tr, words, h):
    """Each word's measured figures are the law's, in its own terms (L, h, n, P)."""
    ms = measure(tr)
    for i, (m, w) in enumerate(zip(ms, words)):
        d, n, low = word_fields(w)
        period = low + h + 5
        assert m["rises"] == [5 + low + k * period for k in range(n)][:len(m["rises"])], (i, m, low)
        assert set(m["periods"]) <= {period} and set(m["highs"]) <= {h + 2} and set(m["lows"]) <= {low + 3}, (i, m)
        if m["end"] is not None:
            assert m["end"] == 3 + n * period, (i, m)  # back to back: pulled as the word ends
            nxt = word_fields(words[i + 1])
            if m["to_next_rise"] is not None:
                assert m["to_next_rise"] == nxt[2] + h + 5 + 3, (i, m)  # P' + 3, P' the next word's period
    return ms


# --- the start-up -------------------------------------------------------------------------------

def test_step_output_starts_the_state_machine_as_emulated():
    """What StepOutput asks of the state machine, and its replay: 125 MHz, side-set base = STEP (GP2),
    OUT base = DIR (GP3), OSR shifting right, TX FIFO joined; ISR = h = high_cycles - 2 loaded by
    put(h), exec(pull block), exec(mov isr, osr) before active(1). After it STEP and DIR are low and
    with nothing queued the program waits in `pull`: no pulse, ever."""
    calls = step_output_calls(125)
    (_, sm_id, prog, kw) = calls[0]
    assert sm_id == 0 and prog is shipped.step_pulses and kw["freq"] == PIO_HZ == 125_000_000
    assert sorted(kw) == ["freq", "out_base", "sideset_base"]
    assert (kw["sideset_base"].gpio, kw["out_base"].gpio) == (STEP_PIN, DIR_PIN)
    assert calls[1:] == (("put", 123), ("exec", shipped.PULL_BLOCK), ("exec", shipped.MOV_ISR_OSR), ("active", 1))
    assert prog.options == dict(sideset_init=PIO.OUT_LOW, out_init=PIO.OUT_LOW, out_shiftdir=PIO.SHIFT_RIGHT,
                                fifo_join=PIO.JOIN_TX)
    sm = StepMachine(125)
    assert sm.freq == PIO_HZ and sm.kw == dict(side_set_base=STEP_PIN, side_set_count=1, out_base=DIR_PIN,
                                               out_count=1, shift_osr_right=True)
    b = sm.boot
    assert (sm.h, b.input_shift_register.contents, b.program_counter, b.clock) == (123, 123, 0, 0)
    assert not b.transmit_fifo  # the exec'd pull took h
    assert b.pin_values == 0 and (b.x_register, b.y_register) == (0, 0)
    tr = sm.run([], 300)
    assert [(pc, st, di, pulled) for _, pc, st, di, pulled in tr.cycles] == [(0, False, False, False)] * 300
    assert tr.state.input_shift_register.contents == 123


# --- samples of the law ---------------------------------------------------------------------------

@pytest.mark.parametrize("h", [0, 1, 3])
def test_step_law_back_to_back_reversals_single_steps_and_full_words(h):
    """Twelve words back to back (more than the FIFO holds: the queue tops it up), small h and L so
    every cycle is emulated: reversals, n = 1, L = 0, a full word (n = 128); each word is pulled
    exactly 3 + n*P after the previous one, then the program waits in `pull` with STEP low."""
    words = [encode_word(1, 3, 5), encode_word(-1, 2, 4), encode_word(1, 1, 0), encode_word(1, 5, 0),
             encode_word(-1, 1, 10), encode_word(-1, 4, 7), encode_word(1, 128, 1), encode_word(-1, 1, 0),
             encode_word(1, 1, 0), encode_word(-1, 2, 2), encode_word(-1, 3, 1), encode_word(1, 2, 6)]
    law = step_law(words, h)
    total = law[-1]["end"]
    tr = StepMachine(h + 2).run(words, total + 40)
    check_law(tr, words, h)
    assert_measured_law(tr, words, h)
    assert tr.pulls == [0] + [w["end"] for w in law[:-1]]
    assert len(tr.rises) == sum(w["n"] for w in law) == len(tr.falls)
    assert tr.rises == steptiming.edges(words, h)  # the law the bench applies to whole moves
    tail = [t for t in tr.cycles if t[0] >= total]
    assert len(tail) == 40 and all(pc == 0 and not st and not pulled for _, pc, st, _, pulled in tail)


def test_step_reversal_dir_set_up_and_hold():
    """At the configured pulse width (h = 123): DIR changes at s + 1, exactly L + 4 cycles before the
    word's first rise (125 cycles = 1000 ns, the SIM's dir_setup_ns, at L = 121; 4 cycles = 32 ns at
    L = 0), and holds to the next pull: h + 4 cycles after the word's last rise."""
    words = [encode_word(1, 2, 121), encode_word(-1, 2, 122), encode_word(1, 1, 0), encode_word(-1, 3, 0),
             encode_word(-1, 1, 5), encode_word(1, 2, 30)]
    h = 123
    law = step_law(words, h)
    tr = StepMachine(h + 2).run(words, law[-1]["end"] + 10)
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert [m["dir_at"] for m in ms] == [[1], [1], [1], [1], [], [1]]  # DIR starts low: the first word sets it
    setups = [m["rises"][0] - m["dir_at"][0] for m in ms if m["dir_at"]]
    assert setups == [121 + 4, 122 + 4, 0 + 4, 0 + 4, 30 + 4]
    assert [lvl for _, lvl in tr.dir_changes] == [True, False, True, False, True]
    # DIR hold after a word's last rising edge, where the next word reverses: until its s + 1
    holds = [c - max(r for r in tr.rises if r < c) for c, _ in tr.dir_changes[1:]]
    assert holds == [h + 4] * 4


def test_step_maximum_rate_of_the_program():
    """L = 0 at the configured pulse width (h = 123): P = L + h + 5 = 128 cycles measured (976.6 kHz),
    STEP high 125 cycles and low only 3 (24 ns): faster than a TMC2209 takes (100 ns low), so the
    planner never goes below L = H - 3 (test_step_rate_limit)."""
    h = 123
    words = [encode_word(1, 6, 0), encode_word(-1, 4, 0), encode_word(-1, 1, 0)]
    law = step_law(words, h)
    tr = StepMachine(h + 2).run(words, law[-1]["end"] + 5)
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert {p for m in ms for p in m["periods"]} == {128} and {x for m in ms for x in m["highs"]} == {125}
    assert {x for m in ms for x in m["lows"]} == {3}
    assert [m["to_next_rise"] for m in ms[:-1]] == [131, 131]  # P + 3 across a word boundary
    assert PIO_HZ / 128 == 976562.5


def test_step_very_slow_steps_every_cycle_emulated():
    """A very slow step, every one of its 70 000 cycles emulated (L = 69 872, beyond 16 bits: 560 us at
    125 MHz), a fast word right behind it: its first rise P' + 3 after the slow one's; then the
    program waits in `pull`."""
    h, low = 123, 69872
    words = [encode_word(-1, 1, low), encode_word(1, 2, 3)]
    law = step_law(words, h)
    assert law[0]["P"] == 70000
    tr = StepMachine(h + 2).run(words, law[-1]["end"] + 5)
    assert not tr.skipped and len(tr.cycles) == law[-1]["end"] + 5
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert tr.rises == [5 + low, 70003 + 5 + 3, 70003 + 5 + 3 + 131]
    assert ms[0]["end"] == 70003 and ms[0]["to_next_rise"] == 131 + 3  # P' + 3, P' = 3 + 123 + 5
    assert tr.state.program_counter == 0


def test_step_word_fields_reach_the_registers():
    """The largest fields, n = 128 and L = 0x3FFFFF (33.5 ms a step at 125 MHz): Y = 127 after
    `out y, 7` (cycle 2), X = 0x3FFFFF after `mov x, osr` (cycle 3), then the countdown; DIR from
    cycle 1; OSR keeps L for every step. The smallest: n = 1, L = 0 gives Y = 0, X = 0."""
    sm = StepMachine(125)
    for d in (1, -1):
        w = encode_word(d, 128, shipped.LOW_MAX)
        assert w < 1 << 30 and word_fields(w) == ((1 if d > 0 else 0), shipped.STEPS_MAX, 0x3FFFFF)
        s = sm.states([w], 6)
        assert [st.program_counter for st in s] == [1, 2, 3, 4, 4, 4]
        assert s[2].y_register == 127 and s[3].x_register == 0x3FFFFF and s[5].x_register == 0x3FFFFF - 2
        assert s[3].output_shift_register.contents == 0x3FFFFF == s[5].output_shift_register.contents
        assert [(st.pin_values >> DIR_PIN) & 1 for st in s] == [0] + [1 if d > 0 else 0] * 5  # `out pins` at 1
        assert all(not (st.pin_values >> STEP_PIN) & 1 for st in s)
    s = sm.states([encode_word(1, 1, 0)], 6)
    assert (s[2].y_register, s[3].x_register, (s[4].pin_values >> STEP_PIN) & 1) == (0, 0, 0)
    assert (s[5].pin_values >> STEP_PIN) & 1 == 1  # the rise at s + 5 + L


def test_step_largest_word_whole_with_the_countdown_jumped():
    """The largest word (n = 128, L = 0x3FFFFF: 4.3 s at 125 MHz) to its end with the countdowns
    jumped over: every rise at s + 5 + L + i*P, the next word pulled at s + 3 + 128*P."""
    h = 123
    words = [encode_word(1, 128, shipped.LOW_MAX), encode_word(-1, 1, 0)]
    law = step_law(words, h)
    tr = StepMachine(h + 2).run(words, law[-1]["end"] + 5, keep=8)
    check_law(tr, words, h)
    assert_measured_law(tr, words, h)
    assert tr.pulls == [0, 3 + 128 * (0x3FFFFF + 128)] and len(tr.rises) == 129


def test_step_empty_fifo_the_program_waits_and_pulls_a_word_the_cycle_it_arrives():
    """Nothing queued: the program waits in `pull` with STEP low. A word put at cycle 25 is pulled at
    cycle 25; one put while it runs is pulled right as it ends; after the FIFO has run dry again the
    program waits (STEP low, no stray edge) until the next word, pulled the cycle it arrives."""
    h = 2
    first, second, third = encode_word(1, 2, 6), encode_word(-1, 3, 1), encode_word(-1, 1, 4)
    late = [(25, first), (30, second), (150, third)]
    arrivals = [25, 30, 150]
    tr = StepMachine(h + 2).run([], 190, late=late)
    law = check_law(tr, [first, second, third], h, arrivals)
    assert tr.pulls == [25, 25 + 3 + 2 * 13, 150]
    assert law[1]["end"] < 150
    idle = [t for t in tr.cycles if t[0] < 25 or law[1]["end"] <= t[0] < 150 or t[0] >= law[2]["end"]]
    assert idle and all(pc == 0 and not st and not pulled for _, pc, st, _, pulled in idle)
    assert len(tr.rises) == 6
    # the bench's law (railbot_host.steptiming.LawOutput) pulls them at the same cycles
    out = steptiming.LawOutput(h)
    for cycle, w in late:
        out.now = cycle
        out.put(w)
        out.commit()
    out.run_out()
    assert out.pulls == tr.pulls


@pytest.mark.parametrize("high_cycles", [2, 3, 4, 7, 125])
def test_step_high_exactly_h_plus_2_cycles(high_cycles):
    """STEP is high exactly high_cycles = h + 2 cycles for every step, inside and across words."""
    h = high_cycles - 2
    words = [encode_word(1, 4, 0), encode_word(-1, 3, 2), encode_word(1, 1, 9)]
    law = step_law(words, h)
    tr = StepMachine(high_cycles).run(words, law[-1]["end"] + 3)
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert [x for m in ms for x in m["highs"]] == [high_cycles] * 8
    assert [f - r for r, f in zip(tr.rises, tr.falls)] == [high_cycles] * 8


def test_countdown_jump_equals_full_emulation():
    """Jumping over the middle of the countdowns (run(keep=K)) gives, at every cycle both emulate,
    the same PC, STEP, DIR and pulls as emulating every cycle; in the jumped spans the full emulation
    stays at PC `low` with STEP low or at PC `high` with STEP high, DIR steady. Late puts land inside
    jumped spans."""
    h = 60
    words = [encode_word(1, 3, 900), encode_word(-1, 2, 40), encode_word(1, 1, 1500)]
    late = [(1000, encode_word(-1, 2, 700)), (4000, encode_word(1, 1, 0))]
    cycles = 9000
    sm = StepMachine(h + 2)
    full = sm.run(words, cycles, late=late)
    for keep in (0, 1, 16):
        jumped = sm.run(words, cycles, late=late, keep=keep)
        assert len(jumped.cycles) + sum(b - a for a, b, _ in jumped.skipped) == cycles
        assert sum(b - a for a, b, _ in jumped.skipped) > 5000
        assert {lvl for _, _, lvl in jumped.skipped} == {False, True}  # inside both countdowns
        by_cycle = {t[0]: t for t in full.cycles}
        assert all(by_cycle[t[0]] == t for t in jumped.cycles)
        for a, b, level in jumped.skipped:
            span = full.cycles[a:b]
            loop = HIGH_LOOP if level else LOW_LOOP
            assert all(pc == loop and st == level and di == span[0][3] for _, pc, st, di, _ in span)
        assert (jumped.rises, jumped.falls) == (full.rises, full.falls)
        assert (jumped.pulls, jumped.dir_changes) == (full.pulls, full.dir_changes)
    check_law(full, words + [w for _, w in late], h, [0, 0, 0, 1000, 4000])


# --- words from the planner ---------------------------------------------------------------------

class _RecordingOut:
    """The fake StepOutput the planner feeds: always room, never anything pending; records the words."""

    def __init__(self):
        self.words = []

    def space(self):
        return 255

    def pending(self):
        return 0

    def put(self, word):
        self.words.append(word)

    def commit(self):
        pass


@functools.lru_cache(maxsize=None)
def planner_words(moves):
    """Every word the planner (railbot.motion.Axis, SIM x axis from robot.json) queues for `moves`
    (targets in steps, from 0), fed by feed() as the control tick does; and H."""
    cx = ROBOT["x"]
    high = _cycles(cx["step_pulse_ns"], PIO_HZ)
    out = _RecordingOut()
    axis = Axis(out, cx["steps_per_mm"], cx["v_max_mm_s"], cx["a_max_mm_s2"], PIO_HZ, high,
                _cycles(cx["dir_setup_ns"], PIO_HZ))
    saved = vclock.current()
    vclock.set_current(vclock.Clock())
    try:
        per_move = []
        for target in moves:
            start = len(out.words)
            axis.move_to(target)
            while axis.queued_motion():
                axis.feed()
            per_move.append(tuple(out.words[start:]))
    finally:
        vclock.set_current(saved)
    return tuple(per_move), high


def _periods(words, h):
    return [word_fields(w)[2] + h + 5 for w in words]


PLANNER_SAMPLES = [
    "low speed, ramp start (periods shrink)",
    "low speed, ramp across the peak",
    "low speed, ramp to the stop (periods grow)",
    "high speed, ramp into cruise (periods shrink)",
    "high speed, from cruise into the ramp down (periods grow)",
    "reversal: the stop of one move, the start of the next",
]


def planner_samples():
    """Slices of consecutive planner words: a 400-step move (a triangle peaking at 2000 steps/s), a
    60 000-step one (cruise at 20 000 steps/s), 400 steps out and back."""
    (short,), high = planner_words((400,))
    (long_,), _ = planner_words((60000,))
    (there, back), _ = planner_words((400, 0))
    h = high - 2
    # word 0 of a move is the DIR set-up word (one step, L >= dir set-up - 4): the ramp starts after it
    pl = _periods(short, h)
    peak = pl.index(min(pl[1:]), 1)
    cruise = [i for i, w in enumerate(long_) if word_fields(w)[1] == shipped.STEPS_MAX]  # cruise: full words
    return dict(zip(PLANNER_SAMPLES, [short[:4], short[peak - 4:peak + 5], short[-3:],
                                      long_[cruise[0] - 4:cruise[0] + 1], long_[cruise[-1]:cruise[-1] + 4],
                                      there[-2:] + back[:3]]))


def test_planner_samples_are_what_they_say():
    (short,), high = planner_words((400,))
    (long_,), _ = planner_words((60000,))
    (there, back), _ = planner_words((400, 0))
    assert high == 125 and sum(word_fields(w)[1] for w in short) == 400
    assert sum(word_fields(w)[1] for w in long_) == 60000
    assert there == short and {word_fields(w)[0] for w in back} == {0}
    assert sum(word_fields(w)[1] for w in back) == 400
    h = high - 2
    s = planner_samples()
    ps = {k: _periods(v, h) for k, v in s.items()}
    start = ps["low speed, ramp start (periods shrink)"]
    dir_setup = _cycles(ROBOT["x"]["dir_setup_ns"], PIO_HZ)
    assert start[0] == max(dir_setup - 4 + h + 5, 2 * high)  # the DIR set-up word: L + 4 >= 125, P >= 2H
    assert start[1:] == sorted(start[1:], reverse=True) and start[1] > 100 * start[0]
    stop = ps["low speed, ramp to the stop (periods grow)"]
    assert stop == sorted(stop) and len(set(stop)) == 3
    up = ps["high speed, ramp into cruise (periods shrink)"]
    assert up == sorted(up, reverse=True) and up[0] > up[-1] == PIO_HZ // 20000 == 6250  # 1000 mm/s, 20 steps/mm
    assert word_fields(s["high speed, ramp into cruise (periods shrink)"][-1])[1] == 128
    down = ps["high speed, from cruise into the ramp down (periods grow)"]
    assert down[0] == 6250 and down == sorted(down) and down[-1] > down[1] > down[0]
    assert [word_fields(w)[0] for w in s["reversal: the stop of one move, the start of the next"]] == [1, 1, 0, 0, 0]
    assert max(word_fields(w)[1] for w in s["low speed, ramp across the peak"]) == 2


@pytest.mark.parametrize("name", PLANNER_SAMPLES)
def test_step_law_on_planner_words(name):
    """Consecutive words from the real planner (SIM x axis: 20 steps/mm, 1000 mm/s, 500 mm/s^2, STEP
    high 1000 ns = 125 cycles), back to back in the FIFO, h = 123 as StepOutput loads it, to the
    end of the last word: the law at every emulated cycle, the countdowns (up to 1.77 M cycles a step
    at low speed) jumped over past their first and last 8 cycles."""
    words = list(planner_samples()[name])
    h = 123
    law = step_law(words, h)
    tr = StepMachine(h + 2).run(words, law[-1]["end"] + 5, keep=8)
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert tr.pulls == [w["s"] for w in law] and len(tr.rises) == sum(w["n"] for w in law)
    assert tr.rises == steptiming.edges(words, h)  # the law the bench applies to whole moves
    high = h + 2
    for m, w in zip(ms, words):
        assert m["low_before"] is None or m["low_before"] >= high  # STEP low at least H before every rise
        if m["dir_at"]:
            assert m["rises"][0] - m["dir_at"][0] == word_fields(w)[2] + 4
    if name.startswith("reversal"):
        first_back = ms[2]  # DIR set-up at least dir_setup_ns (1000 ns = 125 cycles)
        assert first_back["dir_at"] == [1]
        assert first_back["rises"][0] - 1 >= _cycles(ROBOT["x"]["dir_setup_ns"], PIO_HZ)


# --- the rate limit -------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", ["x", "z"])
def test_step_rate_limit(axis):
    """The fastest stepping at 125 MHz with the configured pulse width: STEP high H = ceil(ns * 125 /
    1000) cycles and low at least H, so the minimum period is 2H (250 cycles, 500 kHz for 1000 ns), and
    the planner's floor is that. The emulator confirms it on two words at the minimum L = 2H - h - 5
    = H - 3: periods of 2H, high H, low H inside a word (H + 3 across the boundary)."""
    cfg = ROBOT[axis]
    ns = cfg["step_pulse_ns"]
    high = -(-ns * 125 // 1000)
    assert PIO_HZ == 125_000_000 and high == _cycles(ns, PIO_HZ)
    p_min = 2 * high
    rate = PIO_HZ // p_min
    if ns == 1000:
        assert (high, p_min, rate) == (125, 250, 500_000)
    planner = Axis(_RecordingOut(), cfg["steps_per_mm"], cfg["v_max_mm_s"], cfg["a_max_mm_s2"], PIO_HZ, high)
    assert planner.p_min == p_min
    h = high - 2
    low_min = p_min - h - 5
    assert low_min == high - 3
    words = [encode_word(1, 3, low_min), encode_word(-1, 3, low_min)]
    law = step_law(words, h)
    tr = StepMachine(high).run(words, law[-1]["end"] + 5)
    check_law(tr, words, h)
    ms = assert_measured_law(tr, words, h)
    assert {p for m in ms for p in m["periods"]} == {p_min}
    assert {x for m in ms for x in m["highs"]} == {high} and {x for m in ms for x in m["lows"]} == {high}
    assert ms[1]["low_before"] == high + 3 and ms[0]["to_next_rise"] == p_min + 3
    assert PIO_HZ // ms[0]["periods"][0] == rate
    print("%s: STEP high %d cycles (%d ns), minimum period %d cycles: %d steps/s" % (axis, high, ns, p_min, rate))


def test_law_constants_of_the_program_and_the_plant():
    """The constants firmware and simulated board compute with are the law's numbers."""
    assert (shipped.WORD_OVERHEAD, shipped.PERIOD_OVERHEAD, shipped.HIGH_OVERHEAD, shipped.LOW_OVERHEAD) == (3, 5, 2, 3)
    assert (shipped.STEPS_MAX, shipped.LOW_MAX) == (128, 0x3FFFFF)
    assert (plant.WORD_OVERHEAD, plant.PERIOD_OVERHEAD, plant.FIRST_EDGE, plant.FIFO_DEPTH) == (3, 5, 5, FIFO_DEPTH)
    for w in (encode_word(1, 1, 0), encode_word(-1, 128, 0x3FFFFF), encode_word(1, 77, 12345)):
        d, n, low = word_fields(w)
        assert plant.decode_word(w) == ((1 if d else -1), n, low)


def test_emulator_speed_for_the_record():
    """How fast the emulator runs here (docs quote it); only a sanity floor."""
    cycles = 20000
    sm = StepMachine(125)
    t0 = time.perf_counter()
    sm.run([encode_word(1, 2, 10000)], cycles)
    rate = cycles / (time.perf_counter() - t0)
    print("pioemu: %.0f cycles/s (with the plant in lockstep)" % rate)
    assert rate > 5000


# ---------------------------------------------------------------------------------------------
# (c) quadrature in the emulator: x2 decoding, the count read on demand by an exec'd `in x, 32`
# ---------------------------------------------------------------------------------------------

FWD = [(0, 0), (1, 0), (1, 1), (0, 1)]  # (A, B), A leads B: forward, +1 on each edge of A
BACK = FWD[::-1]  # B leads A: -1 on each edge of A
# cycles (10 MHz) from an edge of A until X holds the new count: wait, jmp pin, then for -1 `jmp x--`,
# for +1 `mov y, ~x; jmp y--; mov x, ~y` (a read in between returns the previous count)
LATENCY = {-1: 3, +1: 5}
# the program is back in the WAIT for the next edge of A this many cycles after an edge: A must hold
# its level that long (0.6 us at 10 MHz; at 1 m/s and 20 counts/mm edges are 50 us apart). B must be
# steady for 2 cycles after an edge of A (`jmp pin` samples it the cycle after the WAIT).
MIN_HOLD = {-1: 3, +1: 6}


def drive(segments):
    """[((A, B), hold cycles)] -> (levels(clock), [(cycle, delta)] for every edge of A, total cycles).

    The x2 law: A rises with B low +1, with B high -1; A falls with B high +1, with B low -1; that is
    +1 exactly when A and B differ after the edge.
    """
    starts, edges, t = [], [], 0
    for i, ((a, b), hold) in enumerate(segments):
        if i and a != segments[i - 1][0][0]:
            assert b == segments[i - 1][0][1], "A and B change together: not a quadrature signal"
            edges.append((t, +1 if a != b else -1))
        starts.append(t)
        t += hold

    def levels(clock):
        i = 0
        while i + 1 < len(starts) and starts[i + 1] <= clock:
            i += 1
        return segments[i][0]

    return levels, edges, t


def law(edges, t):
    """The count a read between cycles t-1 and t returns."""
    return sum(d for e, d in edges if t >= e + LATENCY[d])


def run_quadrature(segments, reads):
    """Emulate the shipped program under the A/B levels of `segments`; at each cycle in `reads` do what
    Encoder.count() does: exec READ_COUNT, then get(). Returns ([(cycle, word read)], final state).

    pioemu has no IN_BASE (its `wait pin` / `mov pins` read absolute GPIOs): the GPIOs are presented
    rotated by in_base so that pin 0 is enc_a, and jmp_pin is given in the same numbering. Shift and
    autopush as the program's asm_pio sets them (OSR shifts right, autopush at 32 bits).

    pioemu has no SMx_INSTR either. The RP2040 executes a word written there instead of the
    instruction it would have fetched, without advancing PC (unless the word writes PC), ignoring the
    clock divider; a WAIT the state machine was stalled on is simply issued again afterwards
    (datasheet 3.5: "continues to execute its current program from the point where it left off").
    Emulated exactly so: the program's emulation stops between two cycles, READ_COUNT alone is
    emulated for one cycle from that same state (a one-word program at PC 0), then PC and the clock
    are put back and the program resumes from the resulting state. Checked on the way: the program
    never puts anything in the RX FIFO or the ISR; each exec leaves exactly one word in the FIFO
    (autopush) and the ISR empty, and changes nothing else.
    """
    prog = shipped.quadrature
    levels, _, cycles = drive(segments)

    def gpio(clock: int) -> int:
        a, b = levels(clock)
        v = a << ENC_A | b << ENC_B
        return (v >> ENC_A) | (v << (32 - ENC_A)) & 0xFFFFFFFF  # rotate right by in_base

    kw = dict(input_source=gpio, jmp_pin=(ENC_B - ENC_A) % 32, shift_osr_right=True, auto_push=True,
              push_threshold=32)
    state = pioemu.State()
    got = []
    for stop in sorted(reads) + [cycles]:
        for _, state in pioemu.emulate(prog.words, stop_when=lambda op, s: s.clock >= stop, initial_state=state,
                                       wrap_target=prog.wrap_target, wrap_top=prog.wrap, **kw):
            assert not state.receive_fifo and state.input_shift_register.counter == 0, "the program pushed"
        if stop >= cycles:
            break
        t = state.clock
        for _, after in pioemu.emulate([shipped.READ_COUNT], stop_when=lambda op, s: s.clock > t,
                                       initial_state=replace(state, program_counter=0), **kw):
            pass
        assert len(after.receive_fifo) == 1 and after.input_shift_register == pioemu.shift_register.ShiftRegister(0, 0)
        assert (after.x_register, after.y_register, after.output_shift_register) == (
            state.x_register, state.y_register, state.output_shift_register)
        state = replace(after, program_counter=state.program_counter, clock=t)
        got.append((t, state.receive_fifo.popleft()))  # sm.get()
    return got, state


def signed(v):
    return v if v < 0x80000000 else v - 0x100000000


def check(segments, reads):
    """Run, and every read equals the law; returns the signed values read."""
    got, _ = run_quadrature(segments, reads)
    _, edges, _ = drive(segments)
    want = [law(edges, t) for t in sorted(reads)]
    values = [signed(w) for _, w in got]
    assert values == want, "reads at %s\ngot  %s\nlaw  %s" % (sorted(reads), values, want)
    return values


def test_quadrature_program_never_pushes_and_the_read_word_is_in_x_32():
    for w in shipped.quadrature.words:
        op = w >> 13
        assert op != 2, "IN in the program: %#06x" % w  # IN (would feed autopush)
        assert not (op == 4 and not w & 0x80), "PUSH in the program: %#06x" % w
        assert not (op == 3 and (w >> 5) & 7 == 6), "OUT ISR in the program: %#06x" % w
        assert not (op == 5 and (w >> 5) & 7 == 6), "MOV ISR in the program: %#06x" % w
    assert shipped.READ_COUNT == adafruit_pioasm.Program("in x, 32").assembled[0] == 0x4020

    @asm_pio()
    def read_x():
        in_(x, 32)
    assert read_x.words == [shipped.READ_COUNT]


@pytest.mark.parametrize("hold", [3, 4, 7, 25])
def test_quadrature_x2_law_forward_and_backward_read_at_every_cycle(hold):
    """Both edges of A count; direction from B; the fastest signal (3 cycles per quadrature state,
    an edge of A every 0.6 us at 10 MHz) to a slow one. A read at EVERY cycle, so READ_COUNT is
    executed at every instruction of the program, inside each +1/-1 sequence and while it waits:
    each read is exactly the law (the count before the edge until LATENCY cycles after it)."""
    seq = FWD * 3 + BACK * 5 + FWD * 2
    segments = [((0, 0), 8)] + [(s, hold) for s in seq] + [(FWD[-1], 10)]
    _, edges, cycles = drive(segments)
    values = check(segments, range(1, cycles, 1 if hold < 25 else 3))
    # 3 cycles forward (+6), 5 back (-10, through zero), 2 forward (+4)
    assert [d for _, d in edges] == [1] * 6 + [-1] * 10 + [1] * 4
    assert max(values) == 6 and min(values) == -4 and values[-1] == 0


def test_quadrature_counts_below_zero_as_a_32_bit_word():
    segments = [((0, 0), 8)] + [(s, 6) for s in BACK * 2] + [((0, 0), 8)]
    got, state = run_quadrature(segments, [len(segments) * 6 + 2])
    assert got[0][1] == 0xFFFFFFFC and state.x_register == 0xFFFFFFFC  # -4: Encoder.count() signs it


@pytest.mark.parametrize("b", [0, 1])
def test_quadrature_vibration_across_an_a_edge_does_not_drift(b):
    """The wheel trembles across an edge of A with B steady: each rise is undone by the fall (the old
    rising-edges-only program counted +1 per tremble). At the fastest the program follows (A held
    MIN_HOLD cycles after each edge), read every other cycle; then inside a real move."""
    trembles = []
    for i in range(10):
        rise, fall = (+1, -1) if b == 0 else (-1, +1)
        trembles += [((1, b), MIN_HOLD[rise] + i % 3), ((0, b), MIN_HOLD[fall] + i % 2)]
    segments = [((0, b), 8)] + trembles + [((0, b), 10)]
    _, edges, end = drive(segments)
    values = check(segments, range(1, end, 2))
    assert len(edges) == 20 and values[-1] == 0 and set(values) == {0, 1 if b == 0 else -1}
    # forward 2 counts, tremble across A's rising edge with B high (-1, +1), on 1 more
    fwd = [((0, 0), 8), ((1, 0), 6), ((1, 1), 6), ((0, 1), 6)]
    tremble = [((1, 1), 3), ((0, 1), 6)] * 6
    on = [((0, 0), 5), ((1, 0), 10)]
    segments = fwd + tremble + on
    _, edges, end = drive(segments)
    values = check(segments, range(1, end, 2))
    assert values[13] == 2 and values[-1] == 3 and min(values[13:]) == 1


def test_quadrature_many_edges_between_reads_the_read_is_the_newest_count():
    """More than the 8-deep RX FIFO's worth of edges between two reads (the old program pushed per
    edge and, at more than 8 edges per tick, dropped the newest): the read is the count of now."""
    segments = [((0, 0), 8)] + [(s, 3) for s in FWD * 30]  # 60 edges forward at the fastest
    _, edges, end = drive(segments)
    segments += [(s, 4) for s in BACK * 7] + [((0, 0), 10)]  # then 14 back
    _, edges, total = drive(segments)
    values = check(segments, [end + 6, total - 1])
    assert values == [60, 46]


@pytest.mark.parametrize("start", [(0, 0), (1, 0), (1, 1), (0, 1)])
def test_quadrature_starts_at_zero_from_any_level_and_counts_the_first_edge(start):
    """`set x, 0`, then A's level (mov osr, pins; out y, 1) picks the edge to wait for: the first
    edge counts, whichever level A has at start."""
    i = FWD.index(start)
    seq = [FWD[(i + k) % 4] for k in range(6)]  # forward from `start`: 5 transitions, 2 or 3 of A
    segments = [(seq[0], 10)] + [(s, 6) for s in seq[1:]]
    _, edges, end = drive(segments)
    values = check(segments, [1, 9] + [e + LATENCY[d] for e, d in edges] + [end - 1])
    assert values[:2] == [0, 0] and values[-1] == len(edges) and len(edges) in (2, 3)


def test_quadrature_read_latency_for_each_kind_of_edge():
    """A read before LATENCY cycles after an edge returns the count before it, from then on the new
    one (each kind of edge; reads are exec'd into each instruction of its sequence)."""
    kinds = {  # (levels before, levels after): delta
        ((0, 0), (1, 0)): +1, ((0, 1), (1, 1)): -1, ((1, 1), (0, 1)): +1, ((1, 0), (0, 0)): -1}
    for (before, after), d in kinds.items():
        for k in range(0, 9):
            segments = [(before, 10), (after, 20)]
            values = check(segments, [10 + k])
            assert values == [d if k >= LATENCY[d] else 0], (before, after, k, values)


# ---------------------------------------------------------------------------------------------
# (d) the simulated board's model of the quadrature state machine: the same read protocol
# ---------------------------------------------------------------------------------------------

def test_simulated_encoder_follows_the_read_protocol():
    """exec(READ_COUNT) latches X (preloaded with COUNT_MID, then counting the plant's wheel from the
    start) into a one-deep RX FIFO, get() takes it; a get() without it (a hang on the board) and any
    other exec word raise; Encoder.count() takes COUNT_MID off."""
    from pathlib import Path

    from railbot.hal import Encoder
    from simboard.board import SimBoard

    board = SimBoard(str(Path(__file__).resolve().parents[2] / "boards" / "SIM"), seed=3)
    pins = board.pins
    import machine
    enc = Encoder(2, machine.Pin(pins["enc_a"], machine.Pin.IN), machine.Pin(pins["enc_b"], machine.Pin.IN))
    sm, plant = enc.sm, board.plant
    assert sm.rx_fifo() == 0
    with pytest.raises(RuntimeError, match="empty RX FIFO"):
        sm.get()
    with pytest.raises(RuntimeError, match="READ_COUNT"):
        sm.exec(0xA042)  # nop
    with pytest.raises(RuntimeError, match="READ_COUNT"):
        sm.exec(shipped.SET_X_4)  # only on the stopped machine
    with pytest.raises(TypeError):
        sm.exec("in_(x, 32)")
    sm.exec(shipped.READ_COUNT)
    assert sm.rx_fifo() == 1
    assert sm.get() == shipped.COUNT_MID and sm.rx_fifo() == 0
    assert enc.count() == 0
    enc.zero()
    plant.x.steps -= 3 * plant.x.steps_per_mm  # 3 mm back: 60 counts (20 counts/mm)
    assert enc.count() == -60 and enc.last - enc.offset == -60 and sm.rx_fifo() == 0
