"""The simulated rp2's PIO assembler, under CPython and real MicroPython alike.

The expected words are the ones tests/host/test_pio.py proves equal to adafruit_pioasm's assembly of
the same programs (and that the emulator runs to the step-word law there).
"""
# ruff: noqa: F821 - the @asm_pio DSL names (pins, x, jmp, ...) are put into the module's globals
import rp2
from railbot.hal.pio import step_pulses, quadrature, READ_COUNT, PULL_BLOCK, MOV_ISR_OSR, SET_X_4, MOV_X_REVERSE_X, \
    COUNT_MID

STEP_PULSES_WORDS = [
    0x80A0,  # pull block       side 0   (side-set on every instruction: bit 12 is STEP, no enable bit)
    0x6001,  # out pins, 1      side 0   DIR
    0x6047,  # out y, 7         side 0   n-1
    0xA027,  # step: mov x, osr side 0   L
    0x0044,  # low: jmp x-- low side 0
    0xB026,  # mov x, isr       side 1   rising edge; h
    0x1046,  # high: jmp x-- high side 1
    0x0083,  # jmp y-- step     side 0   falling edge
]

QUADRATURE_WORDS = [  # no `set x, 0`: Encoder preloads X with COUNT_MID before it starts the program
    0xA0E0,  # mov osr, pins             A is bit 0
    0x6041,  # out y, 1
    0x008A,  # jmp y-- fall
    0x20A0,  # rise: wait 1 pin 0        (wrap target)
    0x00C9,  # jmp pin rise_down
    0xA049,  # mov y, ~x                 +1
    0x0087,  # jmp y-- rise_up
    0xA02A,  # rise_up: mov x, ~y
    0x000A,  # jmp fall
    0x004A,  # rise_down: jmp x-- fall   -1
    0x2020,  # fall: wait 0 pin 0
    0x00CD,  # jmp pin fall_up
    0x0043,  # jmp x-- rise              -1 (wrap)
    0xA049,  # fall_up: mov y, ~x        +1
    0x008F,  # jmp y-- fall_up2
    0xA02A,  # fall_up2: mov x, ~y
    0x0003,  # jmp rise
]


def test_step_pulses_words():
    p = step_pulses
    assert p.words == STEP_PULSES_WORDS
    assert (p.wrap_target, p.wrap) == (0, 7)
    assert (p.sideset_pins, p.sideset_opt, p.sideset_count, p.delay_max) == (1, False, 1, 15)
    assert p.name == "step_pulses"


def test_quadrature_words():
    p = quadrature
    assert p.words == QUADRATURE_WORDS
    assert (p.wrap_target, p.wrap) == (3, 12)
    assert (p.sideset_pins, p.sideset_opt, p.sideset_count, p.delay_max) == (0, False, 0, 31)
    assert p.name == "quadrature"


def test_exec_words():
    assert READ_COUNT == 0x4020  # in x, 32 (executed by Encoder.count(); autopush puts X in the RX FIFO)
    # executed once by StepOutput to load the high count into ISR: what the assembler makes of them
    @rp2.asm_pio()
    def start():
        pull(block)
        mov(isr, osr)

    assert start.words == [PULL_BLOCK, MOV_ISR_OSR]

    # executed once by Encoder on the stopped quadrature machine: X = 4 bit-reversed = 2**29
    @rp2.asm_pio()
    def preload():
        set(x, 4)
        mov(x, reverse(x))

    assert preload.words == [SET_X_4, MOV_X_REVERSE_X] and COUNT_MID == 1 << 29


def test_side_set_delays_wrap_and_labels():
    @rp2.asm_pio(sideset_init=(rp2.PIO.OUT_LOW, rp2.PIO.OUT_LOW))
    def prog():
        set(x, 3).side(2)[1]
        wrap_target()
        label("loop")
        in_(pins, 32)
        jmp(x_dec, "loop").side(1)[3]
        wrap()
        irq(block, rel(2))

    # 2 pins + enable = 3 bits at 12..10, delay in 9..8
    assert prog.words == [0xF923, 0x4000, 0x1741, 0xC032]
    assert (prog.wrap_target, prog.wrap, prog.sideset_count, prog.sideset_opt) == (1, 2, 3, True)


def test_invalid_dsl_names_the_instruction():
    def bad():
        nop()
        out(osr, 8)

    try:
        rp2.asm_pio()(bad)
    except rp2.PIOASMError as e:
        msg = str(e)
        assert "bad" in msg and "instruction 1 out(7, 8)" in msg, msg
    else:
        assert False, "out(osr, n) assembled"
