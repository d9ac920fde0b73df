// The USB host's side of the board's CDC serial port: enumeration (rp2040js's USBCDC), then bytes both ways without loss, NAKs and a host that stops reading.
import { USBCDC } from 'rp2040js';

// Linux's tty layer buffers about this much for an application that does not read (N_TTY);
// beyond it the ACM driver stops asking for IN packets and the device sees NAKs.
export const HOST_TTY_BYTES = 4096;

const EP0_IN_BUFFER_CONTROL = 0x80;
const BUF_AVAILABLE = 1 << 10;

export class HostCdc {
  /** @param {import('rp2040js').RPUSBController} usb */
  constructor(usb, { nakWhenIdle = true, lossless = true } = {}) {
    this.usb = usb;
    this.cdc = new USBCDC(usb);
    this.toDevice = []; // byte values the host has written and the device has not taken
    this.pendingOut = -1; // size of an OUT buffer the device armed while the host had nothing (NAKed)
    this.pendingIn = []; // IN buffer-control writes held back while the host does not read
    this.hostBuffer = []; // bytes the host's tty holds for an application that is not reading
    this.reading = true;
    this.connected = false;
    this.onData = null; // (Uint8Array) => void: bytes for the application
    this.onConnected = null;
    this.nakWhenIdle = nakWhenIdle;
    this.lossless = lossless;
    this.stats = { outPackets: 0, outEmptyPackets: 0, inPackets: 0, inNaks: 0 };

    this.cdc.onDeviceConnected = () => {
      this.connected = true;
      this.onConnected?.();
    };
    this.cdc.onSerialData = (buffer) => this._fromDevice(buffer);
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint !== this.cdc.outEndpoint) return;
      if (!this.toDevice.length && this.nakWhenIdle) {
        this.pendingOut = size; // NAK until the host has something to send
        return;
      }
      this._completeOut(size);
    };
    const dpramUpdated = usb.DPRAMUpdated.bind(usb);
    this._dpramUpdated = dpramUpdated;
    usb.DPRAMUpdated = (offset, value) => {
      const ep = (offset - EP0_IN_BUFFER_CONTROL) >> 3;
      const isIn = !(offset & 4);
      if (value & BUF_AVAILABLE && isIn && offset >= EP0_IN_BUFFER_CONTROL && offset < 0x100
        && ep === this.cdc.inEndpoint && ep > 0 && this._stalled()) {
        this.pendingIn.push(offset);
        this.stats.inNaks++;
        return;
      }
      dpramUpdated(offset, value);
    };
  }

  _stalled() {
    return !this.reading && this.hostBuffer.length >= HOST_TTY_BYTES;
  }

  _completeOut(size) {
    const n = Math.min(size, this.toDevice.length);
    const buffer = new Uint8Array(this.toDevice.splice(0, n));
    this.stats.outPackets++;
    if (!n) this.stats.outEmptyPackets++;
    this.usb.endpointReadDone(this.cdc.outEndpoint, buffer);
  }

  _fromDevice(buffer) {
    this.stats.inPackets++;
    if (this.reading) {
      this.onData?.(buffer);
    } else {
      for (const b of buffer) this.hostBuffer.push(b);
    }
  }

  /** The host application writes bytes to the port. */
  write(bytes) {
    if (!this.lossless && this.toDevice.length + bytes.length > 512) {
      bytes = bytes.subarray(0, Math.max(0, 512 - this.toDevice.length)); // rp2040js's USBCDC FIFO
    }
    for (const b of bytes) this.toDevice.push(b);
    if (this.pendingOut >= 0 && this.toDevice.length) {
      const size = this.pendingOut;
      this.pendingOut = -1;
      this._completeOut(size);
    }
  }

  get queuedToDevice() {
    return this.toDevice.length;
  }

  /** The application stops or starts reading the port. */
  setReading(on) {
    this.reading = on;
    if (!on) return;
    if (this.hostBuffer.length) {
      const held = new Uint8Array(this.hostBuffer);
      this.hostBuffer = [];
      this.onData?.(held);
    }
    const held = this.pendingIn;
    this.pendingIn = [];
    for (const offset of held) {
      this._dpramUpdated(offset, this.usb.rp2040.usbDPRAMView.getUint32(offset, true));
    }
  }
}
