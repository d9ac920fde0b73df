// What rp2040js 1.4.1 gets wrong for MicroPython's rp2 port, fixed from outside: one function per fix, each switchable off to show what it fixes (docs/silicon.md).
import { BasePeripheral } from 'rp2040js';
import { NorFlash } from './nor.mjs';

const IRQ_UART0 = 20;

// ---------------------------------------------------------------------------------------------
// flash: the SSI passes data-register bytes to a serial NOR model; IO_QSPI forces chip select.

const SSI = { CTRLR0: 0x00, SSIENR: 0x08, TXFLR: 0x20, RXFLR: 0x24, SR: 0x28, DR0: 0x60 };
const SR_TFNF = 1 << 1;
const SR_TFE = 1 << 2;
const SR_RFNE = 1 << 3;
const SR_RFF = 1 << 4;
const SSI_FIFO_DEPTH = 16;

class NorSsi extends BasePeripheral {
  constructor(rp2040, nor) {
    super(rp2040, 'SSI');
    this.nor = nor;
    this.regs = new Map();
    this.rx = [];
    this.forced = false; // chip select held low through IO_QSPI
  }

  get standardFrames() {
    return ((this.regs.get(SSI.CTRLR0) ?? 0) >> 21 & 3) === 0;
  }

  readUint32(offset) {
    switch (offset) {
      case SSI.TXFLR:
        return 0; // the emulated bus shifts a byte out the moment it is written
      case SSI.RXFLR:
        return this.rx.length;
      case SSI.SR:
        // With the SSI driving chip select, it rises when the TX FIFO runs empty: software that
        // waits for "not busy" has seen its command end.
        if (!this.forced) this.nor.deselect();
        return SR_TFNF | SR_TFE | (this.rx.length ? SR_RFNE : 0) | (this.rx.length >= SSI_FIFO_DEPTH ? SR_RFF : 0);
      case SSI.DR0:
        return this.rx.length ? this.rx.shift() : 0;
      case 0x58:
        return 0x51535049; // IDR
      case 0x5c:
        return 0x3430312a; // SSI_VERSION_ID
      default:
        return this.regs.get(offset) ?? 0;
    }
  }

  writeUint32(offset, value) {
    if (offset === SSI.DR0) {
      let out = 0;
      if (this.standardFrames) {
        if (!this.nor.selected) this.nor.select();
        out = this.nor.transfer(value & 0xff);
      }
      if (this.rx.length < SSI_FIFO_DEPTH) this.rx.push(out);
      return;
    }
    if (offset === SSI.SSIENR && !(value & 1)) {
      this.rx = [];
      if (!this.forced) this.nor.deselect();
    }
    this.regs.set(offset, value >>> 0);
  }
}

class IoQspi extends BasePeripheral {
  constructor(rp2040, ssi) {
    super(rp2040, 'IO_QSPI');
    this.ssi = ssi;
    this.ctrl = new Uint32Array(6);
  }

  readUint32(offset) {
    if (offset < 0x30) {
      const pin = offset >> 3;
      // STATUS: inputs read high (the Pico's CS has a pull-up and BOOTSEL is not pressed)
      return offset & 4 ? this.ctrl[pin] : 1 << 17;
    }
    return 0;
  }

  writeUint32(offset, value) {
    if (offset >= 0x30 || !(offset & 4)) return;
    const pin = offset >> 3;
    this.ctrl[pin] = value >>> 0;
    if (pin !== 1) return;
    const outover = (value >> 8) & 3; // 0 normal (the SSI drives CS), 2 low, 3 high
    const { nor } = this.ssi;
    if (outover === 2) {
      if (!this.ssi.forced) nor.select();
      this.ssi.forced = true;
    } else {
      if (this.ssi.forced || outover === 3) nor.deselect();
      this.ssi.forced = false;
    }
  }
}

export function fixFlash(mcu, ctx) {
  const nor = new NorFlash(mcu.flash, mcu.clock, ctx.uniqueId, undefined, ctx.flashTimes);
  const ssi = new NorSsi(mcu, nor);
  mcu.peripherals[0x18000] = ssi;
  mcu.peripherals[0x40018] = new IoQspi(mcu, ssi);
  ctx.nor = nor;
}

// ---------------------------------------------------------------------------------------------
// uart: a PL011 whose TX FIFO drains at the baud rate and whose TX interrupt is raised when the
// FIFO falls to its trigger level, not again on every clear (rp2040js re-raises it in its ICR
// write, so MicroPython's handler never returns).

const U = { DR: 0x00, RSR: 0x04, FR: 0x18, IBRD: 0x24, FBRD: 0x28, LCR_H: 0x2c, CR: 0x30, IFLS: 0x34,
  IMSC: 0x38, RIS: 0x3c, MIS: 0x40, ICR: 0x44, DMACR: 0x48 };
const FR_BUSY = 1 << 3, FR_RXFE = 1 << 4, FR_TXFF = 1 << 5, FR_RXFF = 1 << 6, FR_TXFE = 1 << 7;
const INT_RX = 1 << 4, INT_TX = 1 << 5, INT_RT = 1 << 6;
const UART_FIFO = 32;
const PERIPH_ID = [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
const DREQ_UART = [[20, 21], [22, 23]]; // [tx, rx] per UART

export class Pl011 extends BasePeripheral {
  constructor(rp2040, index) {
    super(rp2040, 'UART' + index);
    this.index = index;
    this.irq = IRQ_UART0 + index;
    this.rxFifo = [];
    this.txFifo = [];
    this.cr = 0x300;
    this.lcrH = 0;
    this.ifls = 0x12; // 1/2 full for both, at reset
    this.imsc = 0;
    this.ris = 0;
    this.ibrd = 0;
    this.fbrd = 0;
    this.dmacr = 0;
    this.shifting = false;
    this.txAlarm = rp2040.clock.createAlarm(() => this._shiftDone());
    this.rtAlarm = rp2040.clock.createAlarm(() => this._rxTimeout());
    this.onByte = null; // (byte) => void, as each byte leaves the TX pin
    this.bytesSent = 0;
    this.rxOverruns = 0;
  }

  clkPeriChanged() {} // the baud rate is computed from clk_peri when a byte is sent

  get fifoDepth() {
    return this.lcrH & (1 << 4) ? UART_FIFO : 1;
  }

  get baud() {
    const div = this.ibrd + this.fbrd / 64;
    return div ? this.rp2040.clkPeri / (16 * div) : 0;
  }

  get byteNs() {
    const baud = this.baud || 115200;
    return Math.round(10e9 / baud); // start + 8 data + stop
  }

  _level(sel) {
    return [4, 8, 16, 24, 28][sel] ?? 16; // 1/8, 1/4, 1/2, 3/4, 7/8 of 32
  }

  /** TXRIS is set at or below this many bytes in the TX FIFO (IFLS.TXIFLSEL; 0 without FIFOs). */
  get txTrigger() {
    return this.fifoDepth === 1 ? 0 : this._level(this.ifls & 7);
  }

  /** RXRIS is set at or above this many bytes in the RX FIFO (IFLS.RXIFLSEL; 1 without FIFOs). */
  get rxTrigger() {
    return this.fifoDepth === 1 ? 1 : this._level((this.ifls >> 3) & 7);
  }

  _startShift() {
    if (this.shifting || !this.txFifo.length || !(this.cr & 1) || !(this.cr & (1 << 8))) return;
    this.shifting = true;
    this.txAlarm.schedule(this.byteNs);
  }

  _shiftDone() {
    this.shifting = false;
    const before = this.txFifo.length;
    const byte = this.txFifo.shift();
    this.bytesSent++;
    this.onByte?.(byte);
    // TXRIS is set as the level passes the trigger on the way down, then only by software filling
    const trigger = this.txTrigger;
    if (before > trigger && this.txFifo.length <= trigger) this.ris |= INT_TX;
    this._startShift();
    this._updateLines();
  }

  _updateLines() {
    this.rp2040.setInterrupt(this.irq, !!(this.ris & this.imsc));
    const dma = this.rp2040.dma;
    const [dtx, drx] = DREQ_UART[this.index];
    if (this.dmacr & 2 && this.txFifo.length < this.fifoDepth) dma.setDREQ(dtx); else dma.clearDREQ(dtx);
    if (this.dmacr & 1 && this.rxFifo.length) dma.setDREQ(drx); else dma.clearDREQ(drx);
  }

  _rxTimeout() {
    if (this.rxFifo.length) {
      this.ris |= INT_RT;
      this._updateLines();
    }
  }

  /** A byte arriving on the RX pin. */
  feedByte(byte) {
    if (!(this.cr & 1) || !(this.cr & (1 << 9))) return;
    if (this.rxFifo.length >= this.fifoDepth) {
      this.rxOverruns++;
    } else {
      this.rxFifo.push(byte & 0xff);
    }
    if (this.rxFifo.length >= this.rxTrigger) this.ris |= INT_RX;
    this.rtAlarm.schedule(32 * Math.round(this.byteNs / 10)); // 32 bit periods of silence
    this._updateLines();
  }

  readUint32(offset) {
    switch (offset) {
      case U.DR: {
        const v = this.rxFifo.length ? this.rxFifo.shift() : 0;
        if (this.rxFifo.length < this.rxTrigger) this.ris &= ~INT_RX;
        if (!this.rxFifo.length) this.ris &= ~INT_RT;
        this._updateLines();
        return v;
      }
      case U.RSR: return 0;
      case U.FR:
        return (this.rxFifo.length ? 0 : FR_RXFE) | (this.rxFifo.length >= this.fifoDepth ? FR_RXFF : 0)
          | (this.txFifo.length >= this.fifoDepth ? FR_TXFF : 0)
          | (this.txFifo.length === 0 && !this.shifting ? FR_TXFE : 0)
          | (this.txFifo.length || this.shifting ? FR_BUSY : 0);
      case U.IBRD: return this.ibrd;
      case U.FBRD: return this.fbrd;
      case U.LCR_H: return this.lcrH;
      case U.CR: return this.cr;
      case U.IFLS: return this.ifls;
      case U.IMSC: return this.imsc;
      case U.RIS: return this.ris;
      case U.MIS: return this.ris & this.imsc;
      case U.DMACR: return this.dmacr;
    }
    if (offset >= 0xfe0 && offset <= 0xffc) return PERIPH_ID[(offset - 0xfe0) >> 2];
    return 0;
  }

  writeUint32(offset, value) {
    switch (offset) {
      case U.DR:
        if (this.txFifo.length < this.fifoDepth) this.txFifo.push(value & 0xff);
        if (this.txFifo.length > this.txTrigger) this.ris &= ~INT_TX;
        this._startShift();
        break;
      case U.IBRD: this.ibrd = value & 0xffff; break;
      case U.FBRD: this.fbrd = value & 0x3f; break;
      case U.LCR_H:
        if ((value ^ this.lcrH) & (1 << 4)) { this.txFifo = []; this.rxFifo = []; }
        this.lcrH = value & 0xff;
        break;
      case U.CR: this.cr = value & 0xffff; this._startShift(); break;
      case U.IFLS: this.ifls = value & 0x3f; break;
      case U.IMSC: this.imsc = value & 0x7ff; break;
      case U.ICR: this.ris &= ~this.rawWriteValue; break;
      case U.DMACR: this.dmacr = value & 7; break;
      default: return;
    }
    this._updateLines();
  }
}

export function fixUart(mcu, ctx) {
  for (const i of [0, 1]) {
    const uart = new Pl011(mcu, i);
    mcu.uart[i] = uart;
    mcu.peripherals[i ? 0x40038 : 0x40034] = uart;
  }
}

// ---------------------------------------------------------------------------------------------
// gpio_in: a pin's input is its pad's level. A pin the chip drives reads back what it drives;
// an undriven pin reads its pull (rp2040js reads 0 for both unless the test bench set a level).

export function fixGpioIn(mcu, ctx) {
  for (const pin of mcu.gpio) {
    pin.externallyDriven = false;
    pin.keeperLevel = false;
    const setInputValue = pin.setInputValue.bind(pin);
    pin.setInputValue = (value) => {
      pin.externallyDriven = true;
      setInputValue(value);
    };
    pin.refreshInput = () => setInputValue(pin.rawInputValue); // (the pad changed: not a drive)
    pin.releaseInput = () => {
      pin.externallyDriven = false;
      pin.refreshInput();
    };
    Object.defineProperty(pin, 'padLevel', {
      get() {
        if (pin.outputEnable && !pin.outputDisable) return (pin.keeperLevel = pin.outputValue);
        if (pin.externallyDriven) return (pin.keeperLevel = pin.rawInputValue);
        if (pin.pullupEnabled && pin.pulldownEnabled) return pin.keeperLevel;
        if (pin.pullupEnabled) return true;
        return false; // pulled down, or floating (reads low on silicon often enough; never trust it)
      },
    });
    Object.defineProperty(pin, 'inputValue', {
      get() {
        const v = pin.padLevel && pin.inputEnable;
        switch (pin.inputOverride) {
          case 1: return !v;
          case 2: return false;
          case 3: return true;
          default: return v;
        }
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// reboot: a watchdog timeout or trigger (machine.reset()) ends this chip; the board starts a new one
// with the same flash and the watchdog's REASON and scratch registers (they survive a reset).

export function fixReboot(mcu, ctx) {
  const wd = mcu.peripherals[0x40058];
  wd.onWatchdogTrigger = () => {
    // rp2040js re-arms its periodic alarm; a chip that has rebooted must not fire again
    wd.alarm.enable = false;
    wd.timer.enable = false;
    ctx.requestReboot?.(wd.reason === 1 ? 'watchdog' : 'force', {
      reason: wd.reason,
      scratch: Array.from(wd.scratchData),
    });
  };
}

/** The silicon's behaviour this harness fixes: name -> [apply, one line on what is wrong upstream]. */
export const FIXES = {
  flash: [fixFlash, 'SSI drops data-register traffic and IO_QSPI is missing: no erase or program reaches the flash'],
  uart: [fixUart, 'UART TX interrupt re-raised on every clear: machine.UART spins in its handler forever'],
  gpio_in: [fixGpioIn, 'GPIO_IN reads 0 for a pin the chip drives and for a pulled-up input'],
  reboot: [fixReboot, 'a watchdog timeout re-fires forever; machine.reset() parks in WFI'],
  // applied by the board itself (board.mjs, cdc.mjs, pio.mjs):
  usb: [() => {}, 'the CDC drops host bytes beyond 512 and completes empty OUT packets every 10 us'],
  pio: [() => {}, 'the PIO runs in host-timer bursts, ignores CLKDIV and delays, and steps disabled machines'],
};
