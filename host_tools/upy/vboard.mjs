#!/usr/bin/env node
// The virtual board: MicroPython's WebAssembly port with the simulated board inside (boards/SIM,
// paced to wall-clock time), serving a raw REPL on a loopback TCP port, so that the real
// `mpremote connect socket://127.0.0.1:PORT` drives it like a board on USB.
//
//   node vboard.mjs [--port N] [--speed S] [--start-x-mm MM] [--no-repo-firmware] [--heap BYTES]
//
// Prints "vboard: listening on 127.0.0.1:PORT" on stdout once it accepts connections.
//
// Design (docs in host_tools/railbot_host/vboard.py):
// - The main thread owns the socket and speaks the REPL (friendly and raw, raw-paste, soft reset).
//   The interpreter runs in a worker thread, so code that runs for long (the robot) does not block
//   the socket; output comes back as messages. Ctrl-C reaches the running code through a
//   SharedArrayBuffer: the simulated clock's paced sleep and every clock step poll it
//   (simboard/vboard.py) and raise KeyboardInterrupt. Code that neither sleeps nor advances the
//   simulated clock cannot be interrupted.
// - The board's file system is the simulated flash (simboard.flash.Flash) mounted at /; the repo's
//   firmware and boards are at /repo (read them, do not rely on them). A soft reset (Ctrl-D)
//   snapshots the flash, ends the worker and boots a fresh interpreter with the snapshot: files
//   survive, RAM does not, and the physical world (plant) starts over.
// - One client at a time; a new connection replaces the old one. Writes to a client that hung up
//   are dropped (EPIPE guarded).
// - USB stdin, as on a board: while code runs (an exec, or main.py; not while booting) the bytes
//   from the socket other than Ctrl-C go into a ring in a SharedArrayBuffer that the program
//   drains with machine._usb.readinto (simboard/vboard.py); what does not fit waits here in order
//   and moves in as the program reads. Bytes after a Ctrl-C are held for the REPL. When the code
//   ends, the bytes it did not read go back, in order and before anything newer, to the REPL.
// - main.py runs as __main__ in the friendly REPL's boot: at power-on, after Ctrl-D at `>>> ` and
//   after machine.reset()/soft_reset() (any machine.BoardReset out of the code: the flash is
//   snapshot and a fresh interpreter boots, friendly); not after a soft reset in the raw REPL.

import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const BANNER = "MicroPython v1.27.0 on railbot virtual board; SIM with RP2040 model\r\nType \"help()\" for more information.\r\n";
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const PASTE_WINDOW = 8192;
const RING = 4096; // USB stdin ring (bytes); one slot stays empty
// ctl: Int32 words shared with the worker
const INTR = 0; // a Ctrl-C for the running code
const WANT_ROOM = 1; // bytes wait on the main thread: the worker says when it has read some
const HEAD = 2; // ring write index (main thread)
const TAIL = 3; // ring read index (worker)
const RESET_MARK = "vboard: BoardReset"; // the worker's exec returns it when the code reset the board

// =============================================================================================
// Worker: the interpreter

async function workerMain() {
  const { boot } = await import("./harness.mjs");
  const { ctl, ring, opts, snapshot } = workerData;
  const flag = new Int32Array(ctl);
  const ringData = new Uint8Array(ring);
  let out = [];
  const flushOut = () => {
    if (out.length) {
      parentPort.postMessage({ type: "out", data: Buffer.from(out) });
      out = [];
    }
  };
  const put = (b) => {
    out.push(b[0]);
    if (out.length >= 1024) flushOut();
  };
  globalThis.vb_poll = (ms) => {
    flushOut();
    if (ms > 0) Atomics.wait(flag, 0, 0, ms);
    return Atomics.exchange(flag, 0, 0);
  };
  let saved = [];
  globalThis.vb_put = (p, isDir, hex) => saved.push([p, isDir, hex]);

  let M = null; // the port's Emscripten module: getValue/setValue reach the interpreter's memory
  // machine._usb.readinto: up to n bytes of the ring into the buffer at addr; -1 for a Ctrl-C
  globalThis.vb_usb_read = (addr, n) => {
    if (Atomics.load(flag, INTR)) {
      Atomics.store(flag, INTR, 0);
      return -1;
    }
    const head = Atomics.load(flag, HEAD);
    let tail = Atomics.load(flag, TAIL);
    let k = 0;
    while (tail !== head && k < n) {
      M.setValue(addr + k++, ringData[tail], "i8");
      tail = (tail + 1) % RING;
    }
    if (k) {
      Atomics.store(flag, TAIL, tail);
      if (Atomics.exchange(flag, WANT_ROOM, 0)) parentPort.postMessage({ type: "room" });
    }
    return k;
  };
  // machine._usb.write: n bytes at addr to the host, untranslated, in order with print()'s output
  globalThis.vb_usb_write = (addr, n) => {
    for (let i = 0; i < n; i++) out.push(M.getValue(addr + i, "i8") & 255);
    flushOut();
    return n;
  };

  const mp = await boot({
    heap: opts.heap,
    mounts: [[path.join(REPO, "firmware"), "/repo/firmware"], [path.join(REPO, "boards"), "/repo/boards"]],
    paths: [],
    stdout: put,
    stderr: put,
    linebuffer: false,
  });
  M = mp._module;
  // The flash snapshot of the previous boot goes into the host FS, from where boot() loads it.
  let snapDir = "None";
  if (snapshot && snapshot.length) {
    mp.FS.mkdir("/snap");
    for (const [p, isDir, hex] of snapshot) {
      if (isDir) mp.FS.mkdir("/snap" + p);
      else mp.FS.writeFile("/snap" + p, Buffer.from(hex, "hex"));
    }
    snapDir = "'/snap'";
  }
  mp.runPython(
    "import sys\nsys.path.append('/repo/boards/SIM')\n" +
      "from simboard import vboard as __vb\n" +
      `__vb_board = __vb.boot('/repo/boards/SIM', ${opts.speed}, ${opts.startXmm}, ${snapDir}, ` +
      `${opts.repoFirmware ? "True" : "False"})\n` +
      "del __vb\n",
  );
  // Raw REPL execution: one globals dict per boot, as __main__ on a board. mode 'main': /main.py.
  mp.runPython(`
def __vb_exec(src, mode):
    import sys, io
    g = sys.modules['__main__'].__dict__ if '__main__' in sys.modules else globals()
    try:
        if mode == 'main':
            try:
                with open('/main.py') as f:
                    src = f.read()
            except OSError:
                return ''
            exec(compile(src, 'main.py', 'exec'), g)
            return ''
        if mode == 'single':
            try:
                r = eval(compile(src, '<stdin>', 'eval'), g)
                if r is not None:
                    print(repr(r))
                return ''
            except SyntaxError:
                pass
        exec(compile(src, '<stdin>', 'exec'), g)
    except BaseException as e:
        if type(e).__name__ == 'BoardReset':
            return '${RESET_MARK}'
        s = io.StringIO()
        sys.print_exception(e, s)
        return '\\n'.join(l for l in s.getvalue().split('\\n') if not l.endswith(', in __vb_exec'))
    return ''
`);
  const execFn = mp.globals.get("__vb_exec");
  parentPort.on("message", (m) => {
    if (m.type === "exec") {
      let err;
      try {
        err = execFn(m.code || "", m.mode);
      } catch (e) {
        err = `${e && e.message ? e.message : e}\n`;
      }
      Atomics.store(flag, INTR, 0); // a Ctrl-C that came after the code ended is spent
      flushOut();
      err = String(err || "");
      const reset = err === RESET_MARK;
      parentPort.postMessage({ type: "done", err: reset ? "" : err, reset });
    } else if (m.type === "snapshot") {
      saved = [];
      try {
        mp.runPython("import machine\n__import__('simboard.vboard').vboard.save(machine._board[0].flash, __import__('js').vb_put)");
      } catch (e) {
        process.stderr.write(`vboard: flash snapshot failed: ${e.message}\n`);
      }
      flushOut();
      parentPort.postMessage({ type: "snapshot", files: saved });
    }
  });
  flushOut();
  parentPort.postMessage({ type: "ready" });
}

// =============================================================================================
// Main thread: the socket and the REPL protocol

function parseArgs(argv) {
  const o = { port: 0, speed: 1, startXmm: 1200, repoFirmware: true, heap: 8 * 1024 * 1024 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: not a number: ${argv[i]}`);
      return v;
    };
    if (a === "--port") o.port = num();
    else if (a === "--speed") o.speed = Math.round(num());
    else if (a === "--start-x-mm") o.startXmm = Math.round(num());
    else if (a === "--heap") o.heap = num();
    else if (a === "--no-repo-firmware") o.repoFirmware = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

class Board {
  constructor(opts) {
    this.opts = opts;
    this.ctl = new SharedArrayBuffer(16);
    this.flag = new Int32Array(this.ctl);
    this.ring = new SharedArrayBuffer(RING);
    this.ringData = new Uint8Array(this.ring);
    this.sock = null;
    this.mode = "friendly"; // or "raw"
    this.busy = true; // booting counts as busy: input waits
    this.running = null; // "exec" or "main" while code runs: input goes to its USB stdin
    this.input = []; // bytes for the REPL, not yet handled
    this.waiting = []; // USB stdin bytes that did not fit the ring yet
    this.held = []; // bytes after a Ctrl-C while the code stops: the REPL's
    this.stopping = false; // a Ctrl-C came during this run
    this.bootIntr = false; // a Ctrl-C came while booting: for main.py
    this.buf = []; // raw REPL code or the friendly REPL's line
    this.paste = null; // raw-paste: {got} while receiving
    this.pasteHdr = 0; // bytes of "\x05A\x01" seen
    this.snapshot = [];
    this.onReady = null;
    this.start(false);
  }

  write(s) {
    const sock = this.sock;
    if (!sock || sock.destroyed || !sock.writable) return;
    try {
      sock.write(typeof s === "string" ? Buffer.from(s, "latin1") : s);
    } catch {
      // the client hung up (EPIPE): drop the output, as a board on USB would
    }
  }

  start(reboot) {
    this.busy = true;
    this.worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { ctl: this.ctl, ring: this.ring, opts: this.opts, snapshot: this.snapshot },
    });
    this.worker.on("message", (m) => this.onMessage(m, reboot));
    this.worker.on("error", (e) => {
      process.stderr.write(`vboard: interpreter failed: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    });
  }

  onMessage(m, reboot) {
    if (m.type === "out") this.write(m.data);
    else if (m.type === "room") {
      if (this.running) this.feed();
    } else if (m.type === "ready") {
      if (this.onReady) {
        const f = this.onReady;
        this.onReady = null;
        f();
      }
      // the friendly REPL's boot runs main.py (if the flash has one) before its banner
      if (this.mode === "friendly") return this.run("main", null, null);
      this.bootIntr = false;
      this.busy = false;
      if (reboot) this.write(RAW_BANNER + ">");
      this.pump();
    } else if (m.type === "done") {
      const kind = this.running;
      this.endRun(m.reset);
      if (m.reset) {
        // machine.reset() and the like: the board reboots into the friendly REPL and main.py
        if (kind === "exec" && this.mode === "raw") this.write("\x04\x04");
        this.mode = "friendly";
        this.buf = [];
        this.paste = null;
        this.pasteHdr = 0;
        return this.softReset();
      }
      this.busy = false;
      if (kind === "main") this.write(m.err.replace(/\n/g, "\r\n") + BANNER + ">>> ");
      else if (this.mode === "raw") this.write("\x04" + m.err + "\x04>");
      else this.write(m.err.replace(/\n/g, "\r\n") + ">>> ");
      this.pump();
    } else if (m.type === "snapshot") {
      this.snapshot = m.files;
      const old = this.worker;
      old.removeAllListeners("message");
      old.removeAllListeners("error");
      old.on("error", () => {});
      old.terminate();
      this.start(true);
    }
  }

  exec(code, mode) {
    this.run("exec", code, mode);
  }

  /** Run code (kind "exec": code in mode; "main": /main.py) with the socket's bytes as its stdin. */
  run(kind, code, mode) {
    this.busy = true;
    this.running = kind;
    this.stopping = false;
    // a Ctrl-C sent while the board booted stops the main.py it boots into
    const intr = kind === "main" && this.bootIntr;
    this.bootIntr = false;
    Atomics.store(this.flag, INTR, intr ? 1 : 0);
    if (intr) this.stopping = true;
    // bytes that came after the one that started the code are its stdin, as on a board
    const pending = this.input;
    this.input = [];
    this.accept(pending);
    this.feed();
    this.worker.postMessage({ type: "exec", code, mode: kind === "main" ? "main" : mode });
  }

  /** The code ended: the stdin it did not read goes back to the REPL, before anything newer (if
   * the board resets, it is lost with the RAM; bytes held after a Ctrl-C stay the REPL's). */
  endRun(reset) {
    const head = Atomics.load(this.flag, HEAD);
    let tail = Atomics.load(this.flag, TAIL);
    const unread = [];
    while (tail !== head) {
      unread.push(this.ringData[tail]);
      tail = (tail + 1) % RING;
    }
    Atomics.store(this.flag, TAIL, tail);
    Atomics.store(this.flag, WANT_ROOM, 0);
    if (reset) this.input = this.held.concat(this.input);
    else this.input = unread.concat(this.waiting, this.held, this.input);
    this.waiting = [];
    this.held = [];
    this.running = null;
    this.stopping = false;
  }

  /** Bytes from the host while code runs: its stdin, a Ctrl-C, or (after a Ctrl-C) the REPL's. */
  accept(data) {
    for (const c of data) {
      if (c === 3) {
        Atomics.store(this.flag, INTR, 1);
        Atomics.notify(this.flag, INTR);
        this.stopping = true;
      } else if (this.stopping) this.held.push(c);
      else this.waiting.push(c);
    }
  }

  /** Move waiting stdin bytes into the ring as far as there is room; else ask the worker to say
   * when it has read some. */
  feed() {
    if (!this.waiting.length) return;
    let head = Atomics.load(this.flag, HEAD);
    const tail = Atomics.load(this.flag, TAIL);
    const room = (tail - head - 1 + RING) % RING;
    const n = Math.min(room, this.waiting.length);
    for (let i = 0; i < n; i++) {
      this.ringData[head] = this.waiting[i];
      head = (head + 1) % RING;
    }
    this.waiting.splice(0, n);
    if (this.waiting.length) Atomics.store(this.flag, WANT_ROOM, 1);
    Atomics.store(this.flag, HEAD, head); // after WANT_ROOM: a read that frees room sees the request
    // the worker may have read everything between our room check and WANT_ROOM: look again
    if (this.waiting.length && Atomics.load(this.flag, TAIL) !== tail) this.feed();
  }

  softReset() {
    this.busy = true;
    this.worker.postMessage({ type: "snapshot" });
  }

  receive(data) {
    if (this.running) {
      this.accept(data);
      return this.feed();
    }
    for (const c of data) {
      if (c === 3 && this.busy) {
        // Ctrl-C while booting: not queued; it stops the main.py the boot may run
        this.bootIntr = true;
        continue;
      }
      this.input.push(c);
    }
    this.pump();
  }

  pump() {
    while (!this.busy && this.input.length) this.handle(this.input.shift());
  }

  handle(c) {
    if (this.mode === "raw") return this.handleRaw(c);
    return this.handleFriendly(c);
  }

  handleRaw(c) {
    if (this.paste) {
      if (c === 4) {
        const code = Buffer.from(this.buf).toString("utf8");
        this.buf = [];
        this.paste = null;
        this.write("\x04");
        return this.exec(code, "exec");
      }
      this.buf.push(c);
      if (++this.paste.got % PASTE_WINDOW === 0) this.write("\x01");
      return;
    }
    if (this.pasteHdr) {
      const want = [5, 0x41, 1][this.pasteHdr];
      if (c === want && ++this.pasteHdr === 3) {
        this.pasteHdr = 0;
        this.paste = { got: 0 };
        const w = Buffer.alloc(4);
        w.write("R\x01", 0, "latin1");
        w.writeUInt16LE(PASTE_WINDOW, 2);
        return this.write(w);
      }
      if (c === want) return;
      this.buf.push(...[5, 0x41, 1].slice(0, this.pasteHdr)); // not raw-paste after all: plain code
      this.pasteHdr = 0;
      // fall through with c
    }
    if (c === 5 && this.buf.length === 0) {
      this.pasteHdr = 1;
      return;
    }
    if (c === 1) {
      this.buf = [];
      return this.write("\r\n" + RAW_BANNER + ">");
    }
    if (c === 2) {
      this.buf = [];
      this.mode = "friendly";
      return this.write("\r\n" + BANNER + ">>> ");
    }
    if (c === 3) {
      this.buf = [];
      return;
    }
    if (c === 4) {
      if (this.buf.length === 0) {
        this.write("OK\r\nMPY: soft reboot\r\n");
        return this.softReset();
      }
      const code = Buffer.from(this.buf).toString("utf8");
      this.buf = [];
      this.write("OK");
      return this.exec(code, "exec");
    }
    this.buf.push(c);
  }

  handleFriendly(c) {
    if (c === 1) {
      this.buf = [];
      this.mode = "raw";
      return this.write("\r\n" + RAW_BANNER + ">");
    }
    if (c === 2) {
      this.buf = [];
      return this.write("\r\n" + BANNER + ">>> ");
    }
    if (c === 3) {
      this.buf = [];
      return this.write("\r\nKeyboardInterrupt\r\n>>> ");
    }
    if (c === 4) {
      if (this.buf.length) return;
      this.write("\r\nMPY: soft reboot\r\n");
      return this.softReset();
    }
    if (c === 13) {
      const line = Buffer.from(this.buf).toString("utf8");
      this.buf = [];
      this.write("\r\n");
      if (!line.trim()) return this.write(">>> ");
      return this.exec(line, "single");
    }
    if (c === 10) return;
    if (c === 8 || c === 127) {
      if (this.buf.length) {
        this.buf.pop();
        this.write("\b \b");
      }
      return;
    }
    this.buf.push(c);
    this.write(Buffer.from([c]));
  }
}

async function serverMain() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`vboard: ${e.message}\nusage: node vboard.mjs [--port N] [--speed S] [--start-x-mm MM] [--no-repo-firmware] [--heap BYTES]\n`);
    process.exit(2);
  }
  const board = new Board(opts);
  await new Promise((resolve) => (board.onReady = resolve));
  const server = net.createServer((sock) => {
    if (board.sock) board.sock.destroy(); // one client at a time: the newest wins
    board.sock = sock;
    sock.setNoDelay(true);
    sock.on("error", () => {});
    sock.on("data", (d) => {
      if (board.sock === sock) board.receive(d);
    });
    sock.on("close", () => {
      if (board.sock === sock) board.sock = null;
    });
  });
  server.on("error", (e) => {
    process.stderr.write(`vboard: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, "127.0.0.1", () => {
    process.stdout.write(`vboard: listening on 127.0.0.1:${server.address().port}\n`);
  });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
}

if (isMainThread) await serverMain();
else await workerMain();
