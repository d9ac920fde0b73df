// The chip's side of the plant on its pins: every millisecond of emulated time the pins go to the plant (a Python process: boards/SIM/simboard/plant.py) and come back, in lockstep.
//
// The plant is the one physical model of the fast tiers (railbot_host.pinplant drives it). This
// side only moves signals: the STEP rising edges it hears on the step pins (with the DIR level at
// that instant) and the words each step program pulls (for the timing law), the outputs' levels and
// the gripper's PWM go out; the switch levels, the measuring wheel's count (played back as
// quadrature edges spread over the next millisecond), the marker reader's bytes and, on request,
// one ADC conversion of the pilot come back. The exchange is synchronous (blocking reads on a pipe):
// emulated time does not move while the plant thinks, so wall-clock speed never changes what the
// firmware sees.
import fs from 'node:fs';

export const CHUNK_NS = 1_000_000;
const NS_PER_CYCLE = 8;

class LineIo {
  constructor(fdIn, fdOut) {
    this.fdIn = fdIn;
    this.fdOut = fdOut;
    this.buf = Buffer.alloc(1 << 16);
    this.have = '';
  }

  send(obj) {
    const s = Buffer.from(JSON.stringify(obj) + '\n');
    let off = 0;
    while (off < s.length) off += fs.writeSync(this.fdOut, s, off, s.length - off);
  }

  /** The next line from the plant, blocking; the plant closing its pipe ends this process. */
  receive() {
    for (;;) {
      const nl = this.have.indexOf('\n');
      if (nl >= 0) {
        const line = this.have.slice(0, nl);
        this.have = this.have.slice(nl + 1);
        return JSON.parse(line);
      }
      let n;
      try {
        n = fs.readSync(this.fdIn, this.buf, 0, this.buf.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN') continue;
        throw e;
      }
      if (n === 0) {
        process.stderr.write('silicon: the plant closed its pipe\n');
        process.exit(3);
      }
      this.have += this.buf.toString('latin1', 0, n);
    }
  }

  ask(obj) {
    this.send(obj);
    return this.receive();
  }
}

export class PinPlant {
  /**
   * @param {number} fdIn the pipe the plant answers on
   * @param {number} fdOut the pipe to the plant
   * The plant's first line is the wiring: {step: [[step_gpio, dir_gpio], ...] (axis order),
   * outputs: [gpio...], inputs: [gpio...], enc: [a_gpio, b_gpio], uart: index, adc: channel,
   * pwm: [slice, channel B?]} (any part may be missing).
   */
  constructor(fdIn, fdOut) {
    this.io = new LineIo(fdIn, fdOut);
    this.wiring = this.io.receive();
    const w = this.wiring;
    this.step = w.step ?? [];
    this.outputs = w.outputs ?? [];
    this.inputs = w.inputs ?? [];
    this.levels = this.inputs.map(() => null); // null: open, driven by nothing
    this.enc = w.enc ?? null;
    this.quad = 0; // the wheel's quadrature position in states (2 per count: x2 decoding of A)
    this.quadTarget = 0;
    this.quadTimes = []; // emulated ns of the transitions still to play this millisecond
    this.edges = []; // flat: axis, ns, dir
    this.pulls = []; // flat: axis, ns, word, machine enabled (0: exec on a stopped machine)
    this.nextNs = CHUNK_NS;
    this.dueNs = CHUNK_NS;
    this.exchanges = 0;
    this.adcReads = 0;
  }

  /** A new chip: listen to its step pins, log its step programs' pulls, hand the pilot's ADC to the
   *  plant, and give its pads the levels the plant drives (pins keep their wires across a reset). */
  attach(mcu) {
    this.mcu = mcu;
    const clock = mcu.clock;
    this.step.forEach(([stepPin, dirPin], axis) => {
      const dir = mcu.gpio[dirPin];
      mcu.gpio[stepPin].addListener((state) => {
        if (state === 1) this.edges.push(axis, clock.nanos, dir.value === 1 ? 1 : 0);
      });
    });
    // A step program's state machine is the one whose side-set drives a step pin: its pulls are
    // its words (the first, pulled by an exec while it is stopped, is the high count h).
    for (const pio of mcu.pio) {
      for (const sm of pio.machines) {
        const fifo = sm.txFIFO;
        const pull = fifo.pull.bind(fifo);
        fifo.pull = () => {
          const v = pull();
          const axis = this.step.findIndex(([p]) => p === sm.sidesetBase);
          if (axis >= 0) this.pulls.push(axis, clock.nanos, v >>> 0, sm.enabled ? 1 : 0);
          return v;
        };
      }
    }
    if (this.wiring.adc !== undefined) {
      const adc = mcu.adc;
      adc.onADCRead = (channel) => {
        adc.currentChannel = channel;
        if (channel === this.wiring.adc) {
          this.adcReads++;
          adc.channelValues[channel] = this.io.ask({ adc: clock.nanos }).code;
        }
        adc.sampleAlarm.schedule(adc.sampleTime * 1000);
      };
    }
    this._drive();
  }

  _drive() {
    const { mcu } = this;
    this.inputs.forEach((pin, i) => {
      const v = this.levels[i];
      if (v === null) mcu.gpio[pin].releaseInput?.();
      else mcu.gpio[pin].setInputValue(!!v);
    });
    if (this.enc) this._quadPins();
  }

  _quadPins() {
    const q = ((this.quad % 4) + 4) % 4; // states 0..3: (A,B) = 00, 10, 11, 01; forward: A leads B
    this.mcu.gpio[this.enc[0]].setInputValue(q === 1 || q === 2);
    this.mcu.gpio[this.enc[1]].setInputValue(q === 2 || q === 3);
  }

  _pwm() {
    const p = this.wiring.pwm;
    if (!p) return null;
    const ch = this.mcu.pwm.channels[p[0]];
    const en = ch.csr & 1;
    const div = (ch.div >> 4) + (ch.div & 15) / 16 || 256;
    const level = p[1] ? ch.cc >>> 16 : ch.cc & 0xffff;
    const periodNs = (ch.top + 1) * div * NS_PER_CYCLE;
    return en ? [Math.round(level * div * NS_PER_CYCLE), Math.round(1e9 / periodNs)] : [0, 0];
  }

  /** The clock has reached nextNs (act): the pins to the plant and back. */
  exchange() {
    const { mcu } = this;
    const now = mcu.clock.nanos;
    const reply = this.io.ask({
      t: now,
      e: this.edges,
      p: this.pulls,
      o: this.outputs.map((pin) => (mcu.gpio[pin].outputValue ? 1 : 0)),
      pwm: this._pwm(),
    });
    this.edges = [];
    this.pulls = [];
    this.exchanges++;
    this.nextNs = (Math.floor(now / CHUNK_NS) + 1) * CHUNK_NS;
    if (reply.in) this.levels = reply.in;
    if (this.enc && reply.enc !== undefined) {
      this.quadTarget = 2 * reply.enc;
      const n = Math.abs(this.quadTarget - this.quad);
      this.quadTimes = [];
      for (let i = 1; i <= n; i++) this.quadTimes.push(now + Math.floor((i * CHUNK_NS) / (n + 1)));
    }
    this._drive();
    if (reply.uart?.length) {
      const uart = mcu.uart[this.wiring.uart];
      for (const b of reply.uart) uart.feedByte(b);
    }
    this._due();
    if (reply.quit) process.exit(0);
  }

  /** `now` has reached dueNs: play the wheel's transitions due by then, and exchange with the
   *  plant once the next millisecond is due. */
  act(now) {
    this.tick(now);
    if (now >= this.nextNs) this.exchange();
  }

  /** The wheel's next quadrature transition is due by `now`: play it (A and B never change together). */
  tick(now) {
    while (this.quadTimes.length && this.quadTimes[0] <= now) {
      this.quadTimes.shift();
      this.quad += this.quadTarget > this.quad ? 1 : -1;
      this._quadPins();
    }
    this._due();
  }

  /** The next instant this side must act: a quadrature transition or the next exchange (kept in
   *  dueNs, read before every core instruction). */
  _due() {
    this.dueNs = this.quadTimes.length ? Math.min(this.quadTimes[0], this.nextNs) : this.nextNs;
  }
}
