// An emulated Raspberry Pi Pico: rp2040js with the harness's fixes, the UF2 and littlefs on its flash, reboots as new chips with the same flash.
import { ConsoleLogger, LogLevel, RP2040 } from 'rp2040js';
import { HostCdc } from './cdc.mjs';
import { FIXES } from './fixes.mjs';
import { PioLockstep } from './pio.mjs';

export const FLASH_BASE = 0x10000000;
export const FS_OFFSET = 0xa0000; // RPI_PICO: 2 MB flash, the last 1408 KB are the file system
const UF2_MAGIC = [0x0a324655, 0x9e5d5157, 0x0ab16f30];
const RP2040_FAMILY = 0xe48bff56;
const NS_PER_CYCLE = 8; // 125 MHz
const IDLE_SLICE_CYCLES = 8; // while the core sleeps and the PIO runs: a DMA transfer lands within these cycles of its DREQ

/** The flash bytes of a UF2 image (RP2040 family, blocks for 0x10000000 and up) into `flash`. */
export function loadUf2(uf2, flash) {
  if (uf2.length % 512) throw new Error(`UF2: ${uf2.length} bytes is not a whole number of 512-byte blocks`);
  const view = new DataView(uf2.buffer, uf2.byteOffset, uf2.byteLength);
  let blocks = 0;
  for (let at = 0; at < uf2.length; at += 512) {
    const magic = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 508, true)];
    if (magic.some((m, i) => m !== UF2_MAGIC[i])) throw new Error(`UF2: block ${at / 512} has no UF2 magic`);
    const flags = view.getUint32(at + 8, true);
    const addr = view.getUint32(at + 12, true);
    const size = view.getUint32(at + 16, true);
    if (flags & 0x2000 && view.getUint32(at + 28, true) !== RP2040_FAMILY) continue; // another chip's block
    if (addr < FLASH_BASE || size > 476 || addr + size > FLASH_BASE + flash.length) {
      throw new Error(`UF2: block ${at / 512} targets 0x${addr.toString(16)}+${size}, outside the flash`);
    }
    flash.set(uf2.subarray(at + 32, at + 32 + size), addr - FLASH_BASE);
    blocks++;
  }
  if (!blocks) throw new Error('UF2: no RP2040 blocks');
  return blocks;
}

export class Board {
  /**
   * @param {Uint8Array} bootrom the RP2040 B1 mask ROM (16 KB)
   * @param {Uint8Array} flash the flash contents (2 MB); kept across reboots
   * @param {object} opts fixes: names of FIXES to apply (default all); uniqueId: 8 bytes
   */
  constructor(bootrom, flash, opts = {}) {
    this.bootrom = bootrom;
    this.flash = flash;
    this.fixes = opts.fixes ?? Object.keys(FIXES);
    this.flashTimes = opts.flashTimes; // the NOR's erase and program times (nor.mjs; default typical)
    this.speed = opts.speed ?? 1; // emulated seconds per wall second at most, when idle; 0: no limit
    this.uniqueId = opts.uniqueId ?? Uint8Array.from([0xe6, 0x61, 0x38, 0x52, 0x83, 0x4a, 0x2b, 0x2c]);
    this.boots = 0;
    this.cycles = 0; // executed, across boots
    this.idleNs = 0; // skipped in WFI/WFE, across boots
    this.onBoot = null; // (cause) => void
    this.onReboot = null; // (cause) => void: before the new chip starts
    this.pendingReboot = null;
    this.carry = { reason: 0, scratch: null };
    this.plant = opts.plant ?? null; // a PinPlant (plant.mjs): the plant on the pins, in lockstep
    this.boot('power');
  }

  boot(cause) {
    const mcu = new RP2040();
    mcu.logger = new ConsoleLogger(LogLevel.Error, true);
    mcu.loadBootrom(this.bootrom); // (resets the emulator's own flash array, replaced next)
    mcu.flash = this.flash;
    mcu.flash16 = new Uint16Array(this.flash.buffer, this.flash.byteOffset, this.flash.byteLength >> 1);
    mcu.flashView = new DataView(this.flash.buffer, this.flash.byteOffset, this.flash.byteLength);
    const ctx = { uniqueId: this.uniqueId, flashTimes: this.flashTimes, requestReboot: (c, carry) => this.requestReboot(c, carry) };
    for (const name of this.fixes) FIXES[name][0](mcu, ctx);
    const wd = mcu.peripherals[0x40058];
    wd.reason = this.carry.reason;
    if (this.carry.scratch) wd.scratchData.set(this.carry.scratch);
    this.mcu = mcu;
    this.ctx = ctx;
    this.pio = this.fixes.includes('pio') ? new PioLockstep(mcu) : null;
    this.plant?.attach(mcu);
    this.cdc = new HostCdc(mcu.usbCtrl, { nakWhenIdle: this.fixes.includes('usb'), lossless: this.fixes.includes('usb') });
    mcu.core.PC = FLASH_BASE; // boot2, as after the ROM has checked it (rp2040js's MicroPython demo)
    this.boots++;
    this.cause = cause;
    this.bootWallMs = performance.now();
    this.bootClockNs = 0;
    this.onBoot?.(cause);
  }

  requestReboot(cause, carry = { reason: 0, scratch: null }) {
    if (!this.pendingReboot) this.pendingReboot = { cause, carry };
  }

  /** Where the emulated clock may be by now when paced: `speed` x the wall time since boot. */
  pacedNanos() {
    return this.bootClockNs + (performance.now() - this.bootWallMs) * 1e6 * this.speed;
  }

  /** Run up to `maxCycles` of the core (idle time skipped to the next alarm, no further than the
   *  paced clock). Returns -1 to be called again at once, 0 when idle with nothing scheduled
   *  (host input wakes it), or the milliseconds to wait before the next alarm is due. */
  run(maxCycles) {
    const { mcu } = this;
    const { core, clock } = mcu;
    const pio = this.pio;
    const plant = this.plant;
    const nor = this.ctx.nor;
    let done = 0;
    while (done < maxCycles) {
      if (plant && clock.nanos >= plant.dueNs) {
        if (pio && pio.owed) pio.settle();
        plant.act(clock.nanos);
      }
      if (this.pendingReboot) {
        const { cause, carry } = this.pendingReboot;
        this.pendingReboot = null;
        this.carry = carry;
        this.onReboot?.(cause);
        this.boot(cause);
        return -1;
      }
      if (core.waiting) {
        if (pio && pio.owed) pio.settle();
        if (pio && pio.runnable()) {
          // The PIO works while the core sleeps (a step ring drained by DMA): time goes in small
          // slices, so each DMA transfer its DREQ asks for lands between its steps, not after;
          // a stretch in which the machines only count down goes in one (PioLockstep.quietCycles).
          const n = this.pioSlice(clock, pio, plant);
          clock.tick(n * NS_PER_CYCLE);
          pio.advance(n);
          this.idleNs += n * NS_PER_CYCLE;
          done += Math.min(n, 64);
          continue;
        }
        // nanosToNextAlarm is 0 both with no alarm and with one due now (a DMA transfer scheduled
        // at 0 delay while the core sleeps): only the first is idle with nothing scheduled
        if (!clock.nextAlarm && !plant) return 0;
        let dt = clock.nextAlarm ? Math.max(0, clock.nextAlarm.nanos - clock.nanos) : Infinity;
        if (plant) dt = Math.min(dt, Math.max(0, plant.dueNs - clock.nanos)); // the plant acts then
        if (this.speed > 0) {
          // Idle time is skipped only up to the paced wall clock: ahead of it, wait for it.
          const aheadNs = clock.nanos + dt - this.pacedNanos();
          if (aheadNs > 0) return Math.max(1, Math.ceil(aheadNs / 1e6 / this.speed));
        }
        clock.tick(dt);
        this.idleNs += dt;
        done += 64; // idle costs the host little; keep slices short so I/O is served
        continue;
      }
      const c = core.executeInstruction();
      clock.tick(c * NS_PER_CYCLE);
      if (pio) pio.owe(c);
      done += c;
      this.cycles += c;
      if (nor && nor.stallUntil > clock.nanos) this.stall(nor);
    }
    if (pio && pio.owed) pio.settle();
    return -1;
  }

  /** Cycles the PIO may run while the core sleeps before anything else must be looked at: at
   *  least IDLE_SLICE_CYCLES, more while every machine only counts down, never past the next alarm
   *  (a timer or DMA transfer) or the plant's next exchange. */
  pioSlice(clock, pio, plant) {
    let n = pio.quietCycles();
    if (n <= IDLE_SLICE_CYCLES) return IDLE_SLICE_CYCLES;
    if (clock.nextAlarm) n = Math.min(n, Math.ceil((clock.nextAlarm.nanos - clock.nanos) / NS_PER_CYCLE));
    if (plant) n = Math.min(n, Math.ceil((plant.dueNs - clock.nanos) / NS_PER_CYCLE));
    return Math.max(IDLE_SLICE_CYCLES, n);
  }

  /** The core polls the flash's status until an erase or program ends (interrupts off, XIP
   *  stopped): that time passes here without emulating the polls, and the rest of the chip goes on
   *  meanwhile: the PIO in lockstep, DMA transfers and timers as they fall due, the plant's
   *  exchanges. So a step ring that runs dry during a save does so here too. */
  stall(nor) {
    const { clock } = this.mcu;
    const pio = this.pio;
    const plant = this.plant;
    const end = nor.stallUntil;
    nor.stallUntil = 0;
    if (pio && pio.owed) pio.settle();
    while (clock.nanos < end) {
      if (plant && clock.nanos >= plant.dueNs) plant.act(clock.nanos);
      if (pio && pio.runnable()) {
        const cycles = Math.max(1, Math.min(this.pioSlice(clock, pio, plant), Math.ceil((end - clock.nanos) / NS_PER_CYCLE)));
        clock.tick(cycles * NS_PER_CYCLE);
        pio.advance(cycles);
        continue;
      }
      let to = end;
      if (clock.nextAlarm) to = Math.min(to, Math.max(clock.nanos, clock.nextAlarm.nanos));
      if (plant) to = Math.min(to, Math.max(clock.nanos, plant.dueNs));
      clock.tick(Math.max(to - clock.nanos, 0) || 1);
    }
  }

  get nanos() {
    return this.mcu.clock.nanos;
  }
}
