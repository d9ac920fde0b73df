// The PIO blocks stepped in lockstep with the core's cycles, honouring each state machine's clock divider and delay cycles.
//
// rp2040js runs the PIO on a host timer, 1000 instructions per burst whatever the core did, and
// steps disabled state machines too: the step program's edges then have nothing to do with the
// firmware's timing. Here every enabled machine advances by its own PIO clock (sys / (INT + FRAC/256))
// after each core instruction, an instruction's delay cycles count as cycles, and time the core
// skips in WFI is run in small slices for machines that are not stalled (board.mjs).

const WAIT_RX_FIFO = 2; // rp2040js's WaitType: push to a full RX FIFO
const WAIT_TX_FIFO = 3; // pull from an empty TX FIFO

export class PioLockstep {
  constructor(mcu) {
    this.blocks = mcu.pio;
    this.acc = new Float64Array(8); // sys cycles owed to each machine, in 1/256 PIO cycles
    this.delay = new Int32Array(8); // delay cycles still to run after an instruction
    this.pioCycles = 0;
    for (const pio of this.blocks) {
      pio.run = () => {}; // no host-timer bursts: this class is the PIO's clock
    }
  }

  /** `sysCycles` of the core have passed: run each enabled machine for its share. */
  advance(sysCycles) {
    const { blocks, acc, delay } = this;
    for (let b = 0; b < 2; b++) {
      const pio = blocks[b];
      if (pio.stopped) continue;
      let changed = false;
      for (let m = 0; m < 4; m++) {
        const sm = pio.machines[m];
        if (!sm.enabled) continue;
        const k = b * 4 + m;
        const period = (sm.clockDivInt || 65536) * 256 + sm.clockDivFrac;
        acc[k] += sysCycles * 256;
        while (acc[k] >= period) {
          acc[k] -= period;
          this.pioCycles++;
          if (delay[k] > 0) {
            delay[k]--;
            continue;
          }
          const before = sm.cycles;
          sm.step();
          const extra = sm.cycles - before - 1;
          if (extra > 0) delay[k] = extra;
          changed = true;
        }
      }
      if (changed) pio.checkChangedPins();
    }
  }

  /** Whether a state machine can make progress with no core instruction run: one that is not
   *  stalled, or stalled on a FIFO that has since changed (a DMA transfer). One waiting on a pin
   *  or an IRQ flag stays stalled while the core sleeps (nothing else drives them yet). */
  runnable() {
    for (const pio of this.blocks) {
      if (pio.stopped) continue;
      for (const sm of pio.machines) {
        if (!sm.enabled) continue;
        if (!sm.waiting) return true;
        if (sm.waitType === WAIT_TX_FIFO && !sm.txFIFO.empty) return true;
        if (sm.waitType === WAIT_RX_FIFO && !sm.rxFIFO.full) return true;
      }
    }
    return false;
  }
}
