"""StepOutput, the DMA ring that feeds the step program: what it leaves in RAM once idle."""
from simboard.rig import Rig
from railbot.hal import RING


def _stale(out):
    """The nonzero words of an output's ring window."""
    return [out.buf[out.off + i] for i in range(RING) if out.buf[out.off + i]]


def test_the_ring_is_zeroed_once_the_dma_has_read_every_word():
    # MicroPython's GC scans an array's data like any other block: a stale step word equal to the
    # address of a dead heap block would keep that block (and what it points to) alive at standstill
    rig = Rig()
    assert not _stale(rig.robot.hw.x_step) and not _stale(rig.robot.hw.z_step)  # after homing
    x = rig.robot.hw.x_step
    assert rig.cmd("jog 500").startswith("ok")
    rig.until(lambda: x.dma.count > 0, 5, 10)
    assert _stale(x)  # words the DMA has not read yet stay
    rig.until(lambda: not rig.robot.x.busy() and not rig.robot.moving, 120)
    assert x.pending() == 0 and not _stale(x)


def test_an_abort_with_a_read_in_flight_loses_or_doubles_no_word():
    # RP2040-E13: CHAN_ABORT reads clear while a read is still in flight; the read then lands (READ_ADDR
    # moves on, its word enters the FIFO). commit() must wait for BUSY before it reads READ_ADDR, or it
    # re-arms from a stale address and the program gets a word twice. The simulated DMA leaves a read
    # in flight at every abort that finds the FIFO with room, so every re-arm in a move is exposed.
    from railbot.hal import StepOutput

    rig = Rig()
    x = rig.robot.hw.x_step
    axis = rig.plant.x
    put = []

    def logging_put_words(words, k):  # the planner's batch (Axis._hand)
        for i in range(k):
            put.append(words[i])
        StepOutput.put_words(x, words, k)

    x.put_words = logging_put_words
    words0, steps0 = axis.words_executed, axis.steps
    assert rig.cmd("jog 500").startswith("ok")
    rig.until(lambda: rig.robot.moving, 5, 10)
    rig.until(lambda: not rig.robot.x.busy() and not rig.robot.moving, 120)
    planned = 0
    for w in put:
        planned += (((w >> 1) & 0x7F) + 1) * (1 if w & 1 else -1)
    assert len(put) > 100  # many re-arms while the program runs
    assert axis.words_executed - words0 == len(put), (axis.words_executed - words0, len(put))
    assert axis.steps - steps0 == planned
    assert not rig.robot.alarm
