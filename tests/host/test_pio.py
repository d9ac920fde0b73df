"""PIO programs, cycle by cycle: the simulated rp2 assembler against adafruit_pioasm, and the EXACT
shipped instruction words run in the rp2040-pio-emulator (`pioemu`) to prove the step-word law
(docs/step-output.md, simboard/plant.py) and the quadrature count.

Conventions: the emulator yields one (before, after) pair per state-machine cycle; "at cycle c" is
the cycle in which an instruction is issued (`before.clock`), and a pin level is the one the cycle
leaves (`after.pin_values`). At 1 MHz one cycle is 1 us.
"""
# ruff: noqa: F821 - the @asm_pio DSL names (pins, x, jmp, ...) are put into the module's globals
import time
from collections import deque
from dataclasses import replace

import adafruit_pioasm
import pioemu
import pioemu.emulation
import pytest
from pioemu.bit_operations import update_bits_32

import rp2
from railbot.hal import pio as shipped
from railbot.motion import encode_word
from simboard.plant import PERIOD_OVERHEAD_US, WORD_OVERHEAD_US, decode_word

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
        .side_set 1 opt
            pull block      side 0
            out pins, 1
            out y, 14
            out isr, 15
        step:
            mov x, isr      side 1
        wait:
            jmp x-- wait    side 0
            jmp y-- step
    """,
    "quadrature": """
            set x, 0
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
    assert (sp.sideset_pins, sp.sideset_opt, sp.sideset_count, sp.wrap_target, sp.wrap) == (1, True, 2, 0, 6)
    assert (q.sideset_pins, q.sideset_opt, q.sideset_count, q.wrap_target, q.wrap) == (0, False, 0, 4, 13)
    # the recording API the simulated board binds by
    assert sp.name == "step_pulses" and len(sp.instructions) == 7 and sp.labels == {"step": 4, "wait": 5}
    assert [i.op for i in sp.instructions] == ["pull", "out", "out", "out", "mov", "jmp", "jmp"]


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
# (b) step_pulses in the emulator: the step-word law, cycle by cycle
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def side_en(monkeypatch):
    """Side-set with the enable bit (EXECCTRL SIDE_EN), as the hardware does it.

    pioemu 0.88.0 has no SIDE_EN: it writes all SIDESET_COUNT bits, the enable bit included, to the
    pins from side_set_base on every instruction. With `.side_set 1 opt` that would drive the
    enable bit onto x_dir (GP3 = x_step + 1) and force STEP low on instructions that do not
    side-set. On the RP2040 the MSB is the enable: only an instruction that has it set drives its
    SIDESET_COUNT-1 data bits; the others leave the pins alone.
    """
    def apply(state, pin_base, pin_count, value):
        if not (value >> (pin_count - 1)) & 1:
            return state
        return replace(state, pin_values=update_bits_32(state.pin_values, value, pin_base, pin_count - 1))

    monkeypatch.setattr(pioemu.emulation, "_apply_side_set_to_pin_values", apply)


def run_steps(words, cycles, late=()):
    """Emulate `cycles` cycles; `words` are in the FIFO at cycle 0, `late` = [(cycle, word)] put later.

    Returns the trace: (cycle, pc, step, dir, pulled) per cycle.
    """
    fifo = deque(words)
    prog = shipped.step_pulses
    gen = pioemu.emulate(
        prog.words,
        stop_when=lambda opcode, state: state.clock >= cycles,
        initial_state=pioemu.State(transmit_fifo=fifo),
        side_set_base=STEP_PIN, side_set_count=prog.sideset_count,
        out_base=DIR_PIN, out_count=1,  # out_init=OUT_LOW: one pin
        shift_osr_right=True,  # out_shiftdir=SHIFT_RIGHT; no autopull: explicit pull(block)
        wrap_target=prog.wrap_target, wrap_top=prog.wrap,
    )
    late = sorted(late)
    trace = []
    for before, after in gen:
        trace.append((before.clock, before.program_counter, (after.pin_values >> STEP_PIN) & 1,
                      (after.pin_values >> DIR_PIN) & 1, before.program_counter == 0 and after.program_counter == 1))
        while late and late[0][0] == after.clock:
            # the CPU's sm.put() between two cycles: in the live state's FIFO, seen by the next pull
            after.transmit_fifo.append(late.pop(0)[1])
    return trace


def expected_edges(s, word):
    d, n, period = decode_word(word)
    return [s + WORD_OVERHEAD_US + k * period for k in range(n)]


def check_law(trace, words):
    """Every word pulled at s: edges at s + 4 + k*period, the next pull at s + 4 + n*period (if one is
    queued by then), DIR at the word's level from s + 1 on, STEP high exactly one cycle, and no
    other edge. Returns the pull cycles."""
    pulls = [c for (c, pc, st, di, pulled) in trace if pulled]
    edges = [c for i, (c, pc, st, di, pulled) in enumerate(trace)
             if st and (i == 0 or not trace[i - 1][2])]
    level = {}
    for j, (c, pc, st, di, pulled) in enumerate(trace):
        # pioemu skips the cycles of a [delay]: the levels hold over them
        nxt = trace[j + 1][0] if j + 1 < len(trace) else c + 1
        for k in range(c, nxt):
            level[k] = (st, di)
    assert len(pulls) == len(words), "pulled %d words, put %d" % (len(pulls), len(words))
    want_edges = []
    for i, (s, w) in enumerate(zip(pulls, words)):
        d, n, period = decode_word(w)
        mine = expected_edges(s, w)
        want_edges += mine
        end = s + WORD_OVERHEAD_US + n * period
        if i + 1 < len(pulls):
            assert pulls[i + 1] >= end, "word %d pulled at %d, before word %d ended at %d" % (i + 1, pulls[i + 1], i, end)
        # DIR: driven by `out pins` in the cycle after the pull (3 cycles before the first edge),
        # steady until the word ends
        want = 1 if d > 0 else 0
        if level[s][1] != want:  # a reversal (or the first word): the level changes at s + 1
            changed = next((c for c in range(s, min(end, trace[-1][0] + 1)) if level[c][1] == want), None)
            assert changed == s + 1 and mine[0] - changed == 3, (
                "word %d: DIR changed at cycle %s, pulled at %d, first edge at %d" % (i, changed, s, mine[0]))
        for c in range(s + 1, min(end, trace[-1][0] + 1)):
            assert level[c][1] == want, "word %d: DIR wrong at cycle %d (pulled at %d)" % (i, c, s)
        for e in mine:
            if e + 1 in level:
                assert level[e] == (1, 1 if d > 0 else 0) and level[e + 1][0] == 0, (
                    "word %d: STEP not high exactly 1 cycle at edge %d" % (i, e))
    last = trace[-1][0]
    assert edges == [e for e in want_edges if e <= last], (
        "edges %s\nlaw   %s\npulls %s" % (edges[:40], want_edges[:40], pulls))
    return pulls


def test_step_pulses_law_back_to_back_reversal_fastest_and_single_steps(side_en):
    words = [
        encode_word(1, 3, 5),
        encode_word(-1, 2, 4),  # reversal between words
        encode_word(1, 1, 3),  # n=1 at the fastest period
        encode_word(1, 5, 3),  # the fastest, several steps
        encode_word(-1, 1, 10),  # reversal, n=1
        encode_word(-1, 4, 7),
    ]
    durations = [WORD_OVERHEAD_US + decode_word(w)[1] * decode_word(w)[2] for w in words]
    total = sum(durations)
    trace = run_steps(words, total + 30)
    pulls = check_law(trace, words)
    # back to back: each word is pulled exactly when the previous one ends
    s = 0
    for p, dur in zip(pulls, durations):
        assert p == s
        s += dur
    # then the FIFO is empty: the program waits in `pull` with STEP low, no stray pulse
    tail = [t for t in trace if t[0] >= total]
    assert all(pc == 0 and st == 0 for (c, pc, st, di, pulled) in tail) and len(tail) == 30


def test_step_pulses_word_into_an_empty_fifo_and_the_slowest_period(side_en):
    """A word put while the program waits in `pull` is pulled the cycle it is there; then the
    slowest period (32 770 us) right behind it (the one long emulation: ~66 000 cycles)."""
    first = encode_word(1, 2, 6)
    slow = encode_word(-1, 2, 32770)
    put_at = 25
    trace = run_steps([], put_at + 4 + 12 + 4 + 2 * 32770 + 5, late=[(put_at, first), (put_at + 3, slow)])
    assert all(pc == 0 and st == 0 for (c, pc, st, di, pulled) in trace[:put_at])  # waiting, STEP low
    pulls = check_law(trace, [first, slow])
    assert pulls == [put_at, put_at + 4 + 2 * 6]
    rises = [c for i, (c, pc, st, di, pulled) in enumerate(trace) if st and not trace[i - 1][2]]
    assert rises[-2:] == [pulls[1] + 4, pulls[1] + 4 + 32770]
    assert trace[-1][1] == 0 and trace[-1][0] >= pulls[1] + 4 + 2 * 32770  # ended, waiting in pull


def test_step_word_fields_reach_the_registers(side_en):
    """The largest fields: y = n-1 = 16383, x = period-3 = 32767 after `mov x, isr` (cycle 4)."""
    w = encode_word(1, 16384, 32770)
    prog = shipped.step_pulses
    gen = pioemu.emulate(prog.words, stop_when=lambda opcode, state: state.clock >= 5,
                         initial_state=pioemu.State(transmit_fifo=deque([w])),
                         side_set_base=STEP_PIN, side_set_count=prog.sideset_count, out_base=DIR_PIN, out_count=1,
                         shift_osr_right=True, wrap_target=prog.wrap_target, wrap_top=prog.wrap)
    states = [after for _, after in gen]
    assert states[3].y_register == 16384 - 1
    assert states[4].x_register == 32770 - PERIOD_OVERHEAD_US
    assert (states[4].pin_values >> STEP_PIN) & 1 == 1 and (states[3].pin_values >> STEP_PIN) & 1 == 0


def test_emulator_speed_for_the_record(side_en):
    """How fast the emulator runs here (docs/step-output.md quotes it); only a sanity floor."""
    cycles = 20000
    t0 = time.perf_counter()
    run_steps([encode_word(1, 2, 10000)], cycles)
    rate = cycles / (time.perf_counter() - t0)
    print("pioemu: %.0f cycles/s" % rate)
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
    """exec(READ_COUNT) latches the plant's count into a one-deep RX FIFO, get() takes it; a get()
    without it (a hang on the board) and any other exec word raise; Encoder.count() signs the word."""
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
    with pytest.raises(TypeError):
        sm.exec("in_(x, 32)")
    sm.exec(shipped.READ_COUNT)
    assert sm.rx_fifo() == 1
    assert sm.get() == plant.encoder_counts() & 0xFFFFFFFF and sm.rx_fifo() == 0
    assert enc.count() == plant.encoder_counts()
    enc.zero()
    plant.x.steps -= 3 * plant.x.steps_per_mm  # 3 mm back: 60 counts (20 counts/mm)
    assert enc.count() == -60 and enc.last - enc.offset == -60 and sm.rx_fifo() == 0
