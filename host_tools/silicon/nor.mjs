// The Pico's serial NOR flash (Winbond W25Q16JV) behind the RP2040's SSI, byte by byte as the ROM's flash routines drive it.
//
// rp2040js maps the flash as plain memory for XIP reads and drops the SSI's data-register traffic,
// so every erase and program silently fails. This model takes the bytes of one command between a
// chip-select low and high (forced through IO_QSPI, or the SSI's own select) and answers them as
// the W25Q16JV datasheet says: status registers with BUSY and WEL, page program (which can only
// clear bits, and wraps inside its 256-byte page), 4/32/64 KB and chip erase, read, fast read,
// JEDEC id and the 64-bit unique id. Erase and program keep BUSY set for the datasheet's typical
// times on the emulated clock, so a save costs the CPU what it costs a board polling the status.

export const JEDEC_ID = [0xef, 0x40, 0x15]; // Winbond, SPI NOR, 16 Mbit
export const PAGE_BYTES = 256;
// Typical times, W25Q16JV datasheet table 9.6 (tPP 0.4 ms, tSE 45 ms, tBE1 120 ms, tBE2 150 ms, tCE 5 s)
export const TIMES_NS = {
  page: 400_000,
  sector: 45_000_000,
  block32: 120_000_000,
  block64: 150_000_000,
  chip: 5_000_000_000,
};

// Worst-case times, the same table's maxima (tPP 3 ms, tSE 400 ms, tBE1 1.6 s, tBE2 2 s, tCE 25 s)
export const MAX_TIMES_NS = {
  page: 3_000_000,
  sector: 400_000_000,
  block32: 1_600_000_000,
  block64: 2_000_000_000,
  chip: 25_000_000_000,
};

const ERASES = { 0x20: [4096, 'sector'], 0x52: [32768, 'block32'], 0xd8: [65536, 'block64'] };

export class NorFlash {
  /**
   * @param {Uint8Array} memory the chip's contents (the emulator's flash array: XIP reads see it)
   * @param {{nanos: number}} clock the emulated clock, for BUSY
   * @param {Uint8Array} uniqueId 8 bytes
   * @param {number} sizeBytes the part's size: addresses wrap at it
   */
  constructor(memory, clock, uniqueId, sizeBytes = 2 * 1024 * 1024, times = TIMES_NS) {
    this.memory = memory;
    this.clock = clock;
    this.uniqueId = uniqueId;
    this.size = sizeBytes;
    this.times = times;
    this.selected = false;
    this.bytes = []; // the command so far, while selected
    this.wel = false;
    this.busyUntil = 0;
    this.stallUntil = 0; // set when a status poll skips the rest of a write: the board passes the time
    this.quadEnable = true; // SR2.QE, as Picos ship (boot2 checks it)
    this.erases = 0;
    this.programs = 0;
    this.busyNs = 0;
    this.skippedNs = 0; // of busyNs, how much passed without emulating the status polls
  }

  get busy() {
    return this.clock.nanos < this.busyUntil;
  }

  select() {
    this.selected = true;
    this.bytes = [];
  }

  /** Chip select high: the command ends; erase and program start now. */
  deselect() {
    if (!this.selected) return;
    this.selected = false;
    const b = this.bytes;
    this.bytes = [];
    if (b.length === 0) return;
    const cmd = b[0];
    if (cmd === 0x06) {
      this.wel = !this.busy;
    } else if (cmd === 0x04) {
      this.wel = false;
    } else if (cmd === 0x02 && b.length >= 5) {
      this._write(() => this._program(this._addr(b), b.slice(4)), 'page');
    } else if (cmd in ERASES && b.length >= 4) {
      const [n, kind] = ERASES[cmd];
      this._write(() => this.memory.fill(0xff, this._addr(b) & ~(n - 1), (this._addr(b) & ~(n - 1)) + n), kind);
    } else if ((cmd === 0xc7 || cmd === 0x60) && b.length === 1) {
      this._write(() => this.memory.fill(0xff, 0, this.size), 'chip');
    } else if ((cmd === 0x01 || cmd === 0x31) && this.wel) {
      if (cmd === 0x31 && b.length >= 2) this.quadEnable = !!(b[1] & 2);
      if (cmd === 0x01 && b.length >= 3) this.quadEnable = !!(b[2] & 2);
      this.wel = false;
    }
  }

  /** One byte clocked in while selected; returns the byte clocked out. */
  transfer(byte) {
    if (!this.selected) return 0xff;
    const b = this.bytes;
    const i = b.length;
    b.push(byte & 0xff);
    const cmd = b[0];
    switch (cmd) {
      case 0x05: // status 1: BUSY bit 0, WEL bit 1
        if (i === 1 && this.busy) {
          // The CPU would poll until the write ends (interrupts off, XIP stopped): it reads
          // "done" at once and the board lets the same emulated time pass right after this
          // instruction (Board.stall: the PIO, DMA and timers go on meanwhile) instead of
          // emulating a few hundred thousand polls.
          this.skippedNs += this.busyUntil - this.clock.nanos;
          this.stallUntil = this.busyUntil;
          this.busyUntil = this.clock.nanos;
        }
        return i === 0 ? 0xff : (this.busy ? 1 : 0) | (this.wel ? 2 : 0);
      case 0x35: // status 2: QE bit 1
        return i === 0 ? 0xff : this.quadEnable ? 2 : 0;
      case 0x15:
        return i === 0 ? 0xff : 0x60; // status 3: drive strength at reset
      case 0x9f:
        return i >= 1 && i <= 3 ? JEDEC_ID[i - 1] : 0xff;
      case 0x4b: // 4 dummy bytes, then the 64-bit unique id
        return i >= 5 && i < 13 ? this.uniqueId[i - 5] : 0xff;
      case 0x03: // read: 3 address bytes, then data
        return i >= 4 && !this.busy ? this.memory[(this._addr(b) + i - 4) % this.size] : 0xff;
      case 0x0b: // fast read: 3 address bytes, 1 dummy, then data
        return i >= 5 && !this.busy ? this.memory[(this._addr(b) + i - 5) % this.size] : 0xff;
      default:
        return 0xff;
    }
  }

  _addr(b) {
    return ((b[1] << 16) | (b[2] << 8) | b[3]) % this.size;
  }

  _write(action, kind) {
    // A write or erase is ignored unless write-enabled and idle; WEL clears either way.
    if (this.wel && !this.busy) {
      action();
      this.busyUntil = this.clock.nanos + this.times[kind];
      this.busyNs += this.times[kind];
      if (kind === 'page') this.programs++;
      else this.erases++;
    }
    this.wel = false;
  }

  _program(addr, data) {
    const page = addr & ~(PAGE_BYTES - 1);
    // More than a page wraps to the page's start: the last 256 bytes sent are what counts.
    const start = Math.max(0, data.length - PAGE_BYTES);
    for (let k = start; k < data.length; k++) {
      const a = page + ((addr + k) & (PAGE_BYTES - 1));
      this.memory[a] &= data[k]; // NOR: programming only clears bits
    }
  }
}
