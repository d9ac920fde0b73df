"""The simulated ADC and DMA registers against the RP2040 datasheet: free-running conversions, FIFO, DREQ_ADC, erratum RP2040-E13."""
import time
import machine
from simboard.rig import Rig

CS, RESULT, FCS, FIFO, DIV = 0x4004C000, 0x4004C004, 0x4004C008, 0x4004C00C, 0x4004C010
CHAN_ABORT = 0x50000444
BUSY = 1 << 24
AINSEL_CP = 0 << 12  # the SIM board's cp_adc is GP26: input 0


def _steady(rig, mv):
    plant = rig.plant
    plant.cp_noise_mv = plant.cp_spike_per_mille = 0
    u = plant.units[min(plant.units)]
    plant.held, plant.jaw, plant.jaw_target = u.id, 1000, 1000
    u.cp = {12000: "A", 9000: "B"}[mv]
    u.cp_pwm_in_a = False
    u.cp_duty_pct = 100
    return (mv + 12000) * 4096 // 24000


def test_free_running_fills_the_4_deep_fifo_then_drops_results():
    rig = Rig(home=False)
    code = _steady(rig, 9000)
    machine.ADC(machine.Pin("GP26"))
    mem = machine.mem32
    mem[CS] = 1 | AINSEL_CP
    mem[FCS] = 1  # FIFO on, no DREQ
    mem[DIV] = (24 * 48 - 1) << 8  # 24 us
    mem[CS] = 1 | AINSEL_CP | 8  # START_MANY
    time.sleep_us(24 * 2 + 2)  # conversions at 0, 24 and 48 us, each in the FIFO 2 us later
    assert mem[FCS] >> 16 & 0xF == 3 and not mem[FCS] & 0x800
    time.sleep_us(24 * 10)
    fcs = mem[FCS]
    assert fcs >> 16 & 0xF == 4 and fcs & 0x200 and fcs & 0x800  # LEVEL 4, FULL, OVER
    mem[CS] = 1 | AINSEL_CP
    assert [mem[FIFO] for _ in range(4)] == [code] * 4
    assert mem[FCS] & 0x100  # EMPTY
    mem[FIFO]
    assert mem[FCS] & 0x400  # UNDER
    mem[FCS] = 0xC00  # write 1 to clear
    assert not mem[FCS] & 0xC00
    assert mem[RESULT] == code


def test_the_divider_sets_the_period_and_96_cycles_is_the_shortest():
    rig = Rig(home=False)
    _steady(rig, 9000)
    machine.ADC(machine.Pin("GP26"))
    mem = machine.mem32
    for div, period_us in (((24 * 48 - 1) << 8, 24), ((10 * 48 - 1) << 8 | 128, 10), (0, 2), (50 << 8, 2)):
        mem[CS] = 1 | AINSEL_CP
        while mem[FCS] >> 16 & 0xF:
            mem[FIFO]
        mem[FCS] = 1 | 0xC00
        mem[DIV] = div
        mem[CS] = 1 | AINSEL_CP | 8
        time.sleep_us(period_us * 3 - 1)  # conversions at 0, p and 2p are in the FIFO 2 us later
        n = mem[FCS] >> 16 & 0xF
        time.sleep_us(1)
        n2 = mem[FCS] >> 16 & 0xF
        mem[CS] = 1 | AINSEL_CP
        assert (n, n2) == ((2, 3) if period_us == 2 else (3, 3)), (div, n, n2)


def test_read_u16_while_free_running_is_an_error():
    rig = Rig(home=False)
    _steady(rig, 12000)
    adc = machine.ADC(machine.Pin("GP26"))
    assert adc.read_u16() == 4095 << 4 | 4095 >> 8  # 12 bits scaled to 16, as MicroPython does
    machine.mem32[CS] = 1 | AINSEL_CP | 8
    try:
        adc.read_u16()
    except RuntimeError:
        pass
    else:
        raise AssertionError("read_u16 during a free-running capture was accepted")
    machine.mem32[CS] = 1 | AINSEL_CP


def test_a_dreq_threshold_of_0_is_an_error():
    import array
    import rp2

    rig = Rig(home=False)
    _steady(rig, 9000)
    buf = array.array("H", bytes(8))
    dma = rp2.DMA()
    machine.mem32[FCS] = 1 | 8  # DREQ_EN with THRESH 0: DREQ even with the FIFO empty
    try:
        dma.config(read=FIFO, write=buf, count=4, ctrl=dma.pack_ctrl(size=1, inc_read=False, treq_sel=36),
                   trigger=True)
    except RuntimeError:
        pass
    else:
        raise AssertionError("THRESH 0 was accepted")
    finally:
        machine.mem32[FCS] = 0
        dma.close()


def test_chan_abort_reads_clear_while_the_read_in_flight_is_busy():
    # erratum RP2040-E13, as the simulated DMA models it (the worst case: a read always in flight)
    rig = Rig(home=False)
    x = rig.robot.hw.x_step
    dma = x.dma
    for _ in range(20):
        x.put(1000000 << 8 | 1)  # one step in 8 ms a word: the FIFO stays full
    x.commit()
    assert x.sm.tx_fifo() == 8 and dma.count == 12
    ctrl_trig = 0x5000000C + 0x40 * dma.channel
    before = dma.read
    machine.mem32[CHAN_ABORT] = 1 << dma.channel
    assert machine.mem32[CHAN_ABORT] == 0 and dma.count == 0
    assert dma.read == before  # the read in flight has not landed
    assert machine.mem32[ctrl_trig] & BUSY  # still busy: it lands now
    assert not machine.mem32[ctrl_trig] & BUSY
    assert dma.read == before + 4  # READ_ADDR moved on, and its word is on its way to the FIFO
    words0 = rig.plant.x.words_executed
    x.put(1000000 << 8 | 1)
    x.commit()  # re-arms from READ_ADDR: the 12 words left less the one in flight, plus the new one
    assert dma.count == 12
    rig.run(1)
    assert rig.plant.x.words_executed - words0 == 21  # each word once
