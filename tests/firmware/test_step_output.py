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
