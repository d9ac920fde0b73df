"""PIO programs of the RP2040: step pulses from step words, quadrature counting of the measuring wheel."""
import rp2


# Word (below 2**30): bit 0 direction, bits 1..14 steps-1, bits 15..29 period_us-3, at 1 MHz.
# Law (docs/step-output.md): rising edge k of a word starting at s is at s + 4 + k*period.
@rp2.asm_pio(sideset_init=rp2.PIO.OUT_LOW, out_init=rp2.PIO.OUT_LOW,
             out_shiftdir=rp2.PIO.SHIFT_RIGHT, fifo_join=rp2.PIO.JOIN_TX)
def step_pulses():
    pull(block).side(0)
    out(pins, 1)
    out(y, 14)
    out(isr, 15)
    label("step")
    mov(x, isr).side(1)
    label("wait")
    jmp(x_dec, "wait").side(0)
    jmp(y_dec, "step")


# x2 decoding of the measuring wheel: every edge of A counts, its direction from B (jmp_pin):
#   A rises with B low +1, A rises with B high -1, A falls with B high +1, A falls with B low -1
# (forward: A leads B). The count lives in X; the program never touches the ISR and pushes
# nothing: the firmware reads X on demand by executing READ_COUNT (`in x, 32`) on the state
# machine, which autopush (threshold 32) puts into the RX FIFO (docs/step-output.md, "Measuring wheel").
# +1 is done in Y (mov y, ~x; jmp y--; mov x, ~y) so X always holds a valid count for the read.
@rp2.asm_pio(out_shiftdir=rp2.PIO.SHIFT_RIGHT, autopush=True, push_thresh=32, fifo_join=rp2.PIO.JOIN_RX)
def quadrature():
    set(x, 0)
    mov(osr, pins)          # A (in_base) is bit 0
    out(y, 1)
    jmp(y_dec, "fall")      # A high: wait for it to fall; A low: on to rise
    wrap_target()
    label("rise")
    wait(1, pin, 0)
    jmp(pin, "rise_down")
    mov(y, invert(x))       # A rose, B low: +1
    jmp(y_dec, "rise_up")
    label("rise_up")
    mov(x, invert(y))
    jmp("fall")
    label("rise_down")
    jmp(x_dec, "fall")      # A rose, B high: -1 (on to fall either way)
    label("fall")
    wait(0, pin, 0)
    jmp(pin, "fall_up")
    jmp(x_dec, "rise")      # A fell, B low: -1 (on to rise either way: wrap)
    wrap()
    label("fall_up")
    mov(y, invert(x))       # A fell, B high: +1
    jmp(y_dec, "fall_up2")
    label("fall_up2")
    mov(x, invert(y))
    jmp("rise")


# `in x, 32` (RP2040 datasheet 3.4.4: IN 0b010, source X 0b001, bit count 32 encoded as 0), for
# StateMachine.exec: a small int, computed once, so the read allocates nothing.
READ_COUNT = 0x4020
