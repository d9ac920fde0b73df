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

import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const BANNER = "MicroPython v1.27.0 on railbot virtual board; SIM with RP2040 model\r\nType \"help()\" for more information.\r\n";
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const PASTE_WINDOW = 8192;

// =============================================================================================
// Worker: the interpreter

async function workerMain() {
  const { boot } = await import("./harness.mjs");
  const { ctl, opts, snapshot } = workerData;
  const flag = new Int32Array(ctl);
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

  const mp = await boot({
    heap: opts.heap,
    mounts: [[path.join(REPO, "firmware"), "/repo/firmware"], [path.join(REPO, "boards"), "/repo/boards"]],
    paths: [],
    stdout: put,
    stderr: put,
    linebuffer: false,
  });
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
  // Raw REPL execution: one globals dict per boot, as __main__ on a board.
  mp.runPython(`
def __vb_exec(src, mode):
    import sys, io
    g = sys.modules['__main__'].__dict__ if '__main__' in sys.modules else globals()
    try:
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
        err = execFn(m.code, m.mode);
      } catch (e) {
        err = `${e && e.message ? e.message : e}\n`;
      }
      Atomics.store(flag, 0, 0); // a Ctrl-C that came after the code ended is spent
      flushOut();
      parentPort.postMessage({ type: "done", err: String(err || "") });
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
    this.ctl = new SharedArrayBuffer(4);
    this.flag = new Int32Array(this.ctl);
    this.sock = null;
    this.mode = "friendly"; // or "raw"
    this.busy = true; // booting counts as busy: input waits
    this.input = []; // bytes not yet handled
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
      workerData: { ctl: this.ctl, opts: this.opts, snapshot: this.snapshot },
    });
    this.worker.on("message", (m) => this.onMessage(m, reboot));
    this.worker.on("error", (e) => {
      process.stderr.write(`vboard: interpreter failed: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    });
  }

  onMessage(m, reboot) {
    if (m.type === "out") this.write(m.data);
    else if (m.type === "ready") {
      this.busy = false;
      if (reboot) this.write(this.mode === "raw" ? RAW_BANNER + ">" : BANNER + ">>> ");
      if (this.onReady) {
        const f = this.onReady;
        this.onReady = null;
        f();
      }
      this.pump();
    } else if (m.type === "done") {
      this.busy = false;
      if (this.mode === "raw") this.write("\x04" + m.err + "\x04>");
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
    this.busy = true;
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage({ type: "exec", code, mode });
  }

  softReset() {
    this.busy = true;
    this.worker.postMessage({ type: "snapshot" });
  }

  receive(data) {
    for (const c of data) {
      if (c === 3 && this.busy) {
        // Ctrl-C: interrupt the running code now; do not queue it
        Atomics.store(this.flag, 0, 1);
        Atomics.notify(this.flag, 0);
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
