"""The measuring wheel's count: the quadrature machine's X starts at 0 on the chip, so the firmware
preloads it mid-range; a count left of the power-up place is then a small int (no allocation)."""
import gc
import machine
import rp2
from railbot.hal import Encoder
from railbot.hal.pio import quadrature, READ_COUNT
from simboard.board import SimBoard
from simboard.rig import BOARD


def _board():
    board = SimBoard(BOARD, truth=False)  # the wheel's nominal diameter: exact counts a mm
    return board, board.plant, board.pins


def test_the_simulated_quadrature_machine_starts_at_zero_as_the_chip_does():
    board, plant, pins = _board()
    sm = rp2.StateMachine(2, quadrature, freq=10000000, in_base=machine.Pin(pins["enc_a"], machine.Pin.IN),
                          jmp_pin=machine.Pin(pins["enc_b"], machine.Pin.IN))
    sm.active(1)
    plant.x.steps -= plant.x.steps_per_mm  # 1 mm left of where it started: 20 counts
    sm.exec(READ_COUNT)
    assert sm.get() == 0x100000000 - 20  # what the rp2 port returns: a big int, allocated


def test_a_count_left_of_the_power_up_place_is_a_small_int_and_allocates_nothing():
    board, plant, pins = _board()
    enc = Encoder(2, machine.Pin(pins["enc_a"], machine.Pin.IN), machine.Pin(pins["enc_b"], machine.Pin.IN))
    words = []
    get = enc.sm.get

    def recorded():
        words.append(get())
        return words[-1]

    enc.sm.get = recorded
    assert enc.count() == 0
    plant.x.steps -= 100 * plant.x.steps_per_mm
    assert enc.count() == -2000
    assert words[0] - words[1] == 2000 and 0 <= words[1] < 0x40000000  # a small int: no big int boxed
    enc.sm.get = get
    if hasattr(gc, "mem_alloc"):  # MicroPython: count() allocates nothing, left of the start too
        import micropython
        a = gc.mem_alloc()
        micropython.heap_lock()
        try:
            v = enc.count()
        finally:
            micropython.heap_unlock()
        assert v == -2000 and gc.mem_alloc() == a
    plant.x.steps += 200 * plant.x.steps_per_mm
    assert enc.count() == 2000
