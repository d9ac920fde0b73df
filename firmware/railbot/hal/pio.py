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


# Counts rising edges of A, up when B is low, down when B is high; pushes the count each edge.
@rp2.asm_pio(fifo_join=rp2.PIO.JOIN_RX)
def quadrature():
    wrap_target()
    wait(0, pin, 0)
    wait(1, pin, 0)
    jmp(pin, "down")
    mov(x, invert(x))
    jmp(x_dec, "inc")
    label("inc")
    mov(x, invert(x))
    jmp("push")
    label("down")
    jmp(x_dec, "push")
    label("push")
    mov(isr, x)
    push(noblock)
    wrap()
