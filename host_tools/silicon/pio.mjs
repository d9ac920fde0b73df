// The PIO blocks stepped in lockstep with the core's cycles, honouring each state machine's clock divider and delay cycles.
//
// rp2040js runs the PIO on a host timer, 1000 instructions per burst whatever the core did, and
// steps disabled state machines too: the step program's edges then have nothing to do with the
// firmware's timing. Here every enabled machine advances by its own PIO clock (sys / (INT + FRAC/256))
// after each core instruction, an instruction's delay cycles count as cycles, and time the core
// skips in WFI is run in small slices for machines that are not stalled (board.mjs).

const BATCH_CYCLES = 16; // while the core runs: PIO cycles are run 16 core cycles at a time
const WAIT_PIN = 1; // rp2040js's WaitType: a GPIO's level
const WAIT_RX_FIFO = 2; // rp2040js's WaitType: push to a full RX FIFO
const WAIT_TX_FIFO = 3; // pull from an empty TX FIFO

/** `jmp x-- <itself>` with no delay cycles: its side-set bits (the top sidesetCount of the
 *  delay/side-set field) only repeat the level the first execution set. */
function selfCountdown(sm, opcode) {
  const delayBits = 5 - sm.sidesetCount;
  return opcode >>> 13 === 0 && ((opcode >> 5) & 7) === 2 && (opcode & 0x1f) === sm.pc &&
    ((opcode >> 8) & ((1 << delayBits) - 1)) === 0;
}

/** A machine's PIO cycle in 1/256 system cycles (its divider INT + FRAC/256; INT 0 means 65536). */
function pioPeriod(sm) {
  return (sm.clockDivInt || 65536) * 256 + sm.clockDivFrac;
}

export class PioLockstep {
  constructor(mcu) {
    this.blocks = mcu.pio;
    this.gpio = mcu.gpio;
    this.acc = new Float64Array(8); // sys cycles owed to each machine, in 1/256 PIO cycles
    this.delay = new Int32Array(8); // delay cycles still to run after an instruction
    this.hostPin = new Int8Array(8).fill(-1); // the pin a machine waits for is the host's: 1, not: 0, -1: to see
    this.pioCycles = 0;
    this.owed = 0; // core cycles the PIO has not run yet (batched: see owe)
    for (const pio of this.blocks) {
      pio.run = () => {}; // no host-timer bursts: this class is the PIO's clock
    }
    // Whatever the core or DMA reads or writes in a PIO block or the DMA first sees the PIO
    // brought up to the present (owe's batching never reorders an access and a PIO cycle).
    for (const per of [...mcu.pio, mcu.dma]) {
      for (const name of ['readUint32', 'writeUint32', 'writeUint32Atomic']) {
        const f = per[name].bind(per);
        per[name] = (...args) => {
          if (this.owed) this.settle();
          return f(...args);
        };
      }
    }
  }

  /** `sysCycles` of the core have passed: the PIO runs them once BATCH_CYCLES are owed or
   *  something looks at it (settle). An edge or a pull is then seen up to BATCH_CYCLES - 1 cycles
   *  late by pin listeners (0.12 us at 125 MHz); what the chip itself sees is in order. */
  owe(sysCycles) {
    this.owed += sysCycles;
    if (this.owed >= BATCH_CYCLES) this.settle();
  }

  settle() {
    const n = this.owed;
    this.owed = 0;
    this.advance(n);
  }

  /** `sysCycles` of the core have passed: run each enabled machine for its share. */
  advance(sysCycles) {
    const { blocks, acc, delay, hostPin } = this;
    for (let b = 0; b < 2; b++) {
      const pio = blocks[b];
      if (pio.stopped) continue;
      let changed = false;
      for (let m = 0; m < 4; m++) {
        const sm = pio.machines[m];
        if (!sm.enabled) continue;
        const k = b * 4 + m;
        const period = pioPeriod(sm);
        acc[k] += sysCycles * 256;
        if (sm.waiting && sm.waitType === WAIT_PIN) {
          if (hostPin[k] < 0) hostPin[k] = this.heldByHost(sm.waitIndex) ? 1 : 0; // once a wait
        } else {
          hostPin[k] = -1;
        }
        if (hostPin[k] === 1 || (sm.waiting && sm.waitType === WAIT_TX_FIFO && sm.txFIFO.empty)) {
          // Waiting for a pin only the host drives (the plant's encoder lines: its setInputValue
          // re-checks the wait itself, rp2040js) or pulling from an empty TX FIFO (looked at again
          // at every advance): the cycles until then just pass, as stepping them would.
          const n = Math.floor(acc[k] / period);
          acc[k] -= n * period;
          this.pioCycles += n;
          continue;
        }
        while (acc[k] >= period) {
          acc[k] -= period;
          this.pioCycles++;
          if (delay[k] > 0) {
            delay[k]--;
            continue;
          }
          const before = sm.cycles;
          const pc = sm.pc;
          sm.step();
          const extra = sm.cycles - before - 1;
          if (extra > 0) delay[k] = extra;
          changed = true;
          if (sm.pc === pc && extra <= 0 && sm.x > 0 && selfCountdown(sm, pio.instructions[pc])) {
            // `jmp x--` to itself, just taken: the next x cycles only count X down (its side-set
            // is already on the pins). Run as many of them as this advance owes at once.
            const n = Math.min(sm.x, Math.floor(acc[k] / period));
            sm.x -= n;
            sm.cycles += n;
            acc[k] -= n * period;
            this.pioCycles += n;
          }
        }
        if (hostPin[k] === 0) hostPin[k] = -1; // stepped: a new wait may have begun
      }
      if (changed) pio.checkChangedPins();
    }
  }

  /** A GPIO whose level comes from outside (fixes.mjs gpio_in: set by the test bench or the plant)
   *  and that the chip does not drive, nor override. */
  heldByHost(index) {
    const pin = this.gpio[index];
    return pin !== undefined && pin.externallyDriven === true && !pin.outputEnable && pin.inputOverride === 0;
  }

  /** System cycles from now in which no state machine does anything but count X down in a
   *  `jmp x--` loop to itself (at least 1): the core may sleep through them in one step. */
  quietCycles() {
    let quiet = Infinity;
    for (let b = 0; b < 2; b++) {
      const pio = this.blocks[b];
      if (pio.stopped) continue;
      for (let m = 0; m < 4; m++) {
        const sm = pio.machines[m];
        if (!sm.enabled || sm.waiting) continue;
        const k = b * 4 + m;
        if (this.delay[k] > 0 || !selfCountdown(sm, pio.instructions[sm.pc]) || sm.x === 0) return 1;
        const period = pioPeriod(sm);
        quiet = Math.min(quiet, Math.floor(((sm.x + 1) * period - this.acc[k]) / 256) - 1);
      }
    }
    return Math.max(1, quiet);
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
