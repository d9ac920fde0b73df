"""PIO programs of the RP2040: step pulses from step words, quadrature counting of the measuring wheel."""
import rp2


# Step word (below 2**30, so MicroPython never boxes it): bit 0 direction, bits 1..7 steps-1 (1..128),
# bits 8..29 the low count L. ISR holds the high count h, loaded once at start (StepOutput). Each step
# is an interval then a rising edge: low for L+3 cycles, high for h+2; period P = L + h + 5 cycles.
# Law (docs/motion.md): a word pulled at cycle s has its edges at s + 5 + L + i*P (i = 0..n-1) and
# the next pull at s + 3 + n*P. Between words the interval is P + 3. With the FIFO empty the program
# waits in `pull` with STEP low: no stray pulse.
@rp2.asm_pio(sideset_init=rp2.PIO.OUT_LOW, out_init=rp2.PIO.OUT_LOW,
             out_shiftdir=rp2.PIO.SHIFT_RIGHT, fifo_join=rp2.PIO.JOIN_TX)
def step_pulses():
    pull(block).side(0)
    out(pins, 1).side(0)        # DIR, set L+4 cycles before the word's first edge
    out(y, 7).side(0)           # steps - 1; OSR now holds L
    label("step")
    mov(x, osr).side(0)
    label("low")
    jmp(x_dec, "low").side(0)
    mov(x, isr).side(1)         # rising edge
    label("high")
    jmp(x_dec, "high").side(1)
    jmp(y_dec, "step").side(0)  # falling edge


# Executed once on the stopped state machine after `put(h)`: `pull block` then `mov isr, osr`
# (RP2040 datasheet 3.4.7 and 3.4.8; side-set bit 12 = 0: STEP low). Small ints: no allocation.
PULL_BLOCK = 0x80A0
MOV_ISR_OSR = 0xA0C7
WORD_OVERHEAD = 3  # cycles: pull, out pins, out y
PERIOD_OVERHEAD = 5  # P = L + h + 5
HIGH_OVERHEAD = 2  # STEP is high for h + 2 cycles
LOW_OVERHEAD = 3  # and low for at least L + 3
STEPS_MAX = 128
LOW_MAX = 0x3FFFFF


# x2 decoding of the measuring wheel: every edge of A counts, its direction from B (jmp_pin):
#   A rises with B low +1, A rises with B high -1, A falls with B high +1, A falls with B low -1
# (forward: A leads B). The count lives in X; the program never touches the ISR and pushes
# nothing: the firmware reads X on demand by executing READ_COUNT (`in x, 32`) on the state
# machine, which autopush (threshold 32) puts into the RX FIFO (docs/motion.md, "Measuring wheel").
# +1 is done in Y (mov y, ~x; jmp y--; mov x, ~y) so X always holds a valid count for the read.
# The program never sets X: the firmware preloads it mid-range (COUNT_MID) before starting it.
@rp2.asm_pio(out_shiftdir=rp2.PIO.SHIFT_RIGHT, autopush=True, push_thresh=32, fifo_join=rp2.PIO.JOIN_RX)
def quadrature():
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

# X starts at COUNT_MID = 2**29, not at 0 (its reset value): a count read left of the power-up place
# is then still below 2**30, a small int, where 0xFFFFxxxx would box a big int on every read (and its
# sign correction another). Executed on the stopped machine (the TX FIFO is joined to RX, so X cannot
# come through `pull`): `set x, 4` then `mov x, ::x` (bit-reversed: bit 2 -> bit 29). +-2**29 counts
# is +-26 km of rail at 0.05 mm a count.
SET_X_4 = 0xE024
MOV_X_REVERSE_X = 0xA031
COUNT_MID = 0x20000000
