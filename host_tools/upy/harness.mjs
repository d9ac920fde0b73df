#!/usr/bin/env node
// Real MicroPython on the desktop: the official WebAssembly port under Node.js.
//
// CLI:
//   node harness.mjs [--heap BYTES] [--pystack WORDS] [--mount HOSTDIR:FSDIR]...
//                    [--path FSDIR]... [--cwd FSDIR] (SCRIPT.py | --code "python") [ARGS...]
//
//   --mount  copies HOSTDIR (recursively; or a single file) into the interpreter's file system at
//            FSDIR. Kept: *.py *.mpy *.json *.csv *.txt; skipped: __pycache__, node_modules and
//            anything whose name starts with a dot.
//   --path   prepends FSDIR to sys.path (the first --path ends up first).
//   --cwd    os.chdir(FSDIR) before the script runs.
//   SCRIPT   a host file. If it lies inside a mounted host dir it runs from its copy in the
//            file system, else it is copied to /__main__/. Its FS dir goes on sys.path right after
//            the --path dirs; sys.argv = [SCRIPT's FS path, ARGS...] (['-c', ARGS...] for --code).
//   Everything after SCRIPT (or after the --code argument) is passed to the script untouched.
//
// Exit status: 0 if the script finishes, 1 if it raised (the MicroPython traceback goes to
// stderr), n for sys.exit(n) (None -> 0; a non-int -> printed to stderr, 1), 2 for a usage or
// harness error.
//
// Library use (other .mjs files: virtual board, bench):
//   import { boot, runScript } from "./harness.mjs";
//   const mp = await boot({heap, mounts: [[hostDir, fsDir]], paths: [fsDir]});
//   mp.runPython("..."); ...; mp.flush();
//
// Facts about the port worth knowing (MicroPython v1.27.0, "pyscript" variant):
// - The heap grows on demand: `heapsize` is only the first chunk, so MemoryError does not come
//   at a board's heap size. gc.mem_free() reports the grown heap.
// - Recursion depth is capped near 160 plain Python frames by the C stack check; `pystack` does
//   not change that.
// - The Emscripten FS reports errno 44 (not 2) for a missing file: OSError(44).
// - With `linebuffer: true` the port drops a last line that has no newline; this harness buffers
//   lines itself and flushes at exit.
// - One live interpreter per Node process: the port keeps its state in globals (globalThis.Module,
//   proxy tables), so a second boot() disowns the first (using the old one afterwards corrupts
//   both). Booting again and dropping the old object (a soft reset) works; ~6 ms after the first.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

export const DEFAULT_HEAP = 8 * 1024 * 1024;
export const DEFAULT_PYSTACK = 2048; // the package's default
export const KEEP_EXTENSIONS = [".py", ".mpy", ".json", ".csv", ".txt"];
const SKIP_NAMES = new Set(["__pycache__", "node_modules"]);

// ---------------------------------------------------------------------------------------------
// Output

/**
 * A byte sink that collects bytes and hands out whole lines. `target` is a Node writable (e.g.
 * process.stdout: lines are written undecoded, newline included, so UTF-8 stays intact) or a
 * function called with each line as a Buffer (newline included). Returns {put(bytes), flush()};
 * flush() hands out a last partial line.
 */
export function lineWriter(target) {
  const emit = typeof target === "function" ? target : (b) => target.write(b);
  let buf = Buffer.allocUnsafe(256);
  let len = 0;
  const grow = (need) => {
    if (len + need <= buf.length) return;
    const nb = Buffer.allocUnsafe(Math.max(buf.length * 2, len + need));
    buf.copy(nb, 0, 0, len);
    buf = nb;
  };
  const flush = () => {
    if (len > 0) {
      const line = Buffer.from(buf.subarray(0, len));
      len = 0;
      emit(line);
    }
  };
  const put = (data) => {
    // The port calls this with a 1-byte Uint8Array per byte (linebuffer: false).
    const bytes = typeof data === "number" ? [data] : data;
    grow(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      buf[len++] = c;
      if (c === 10) flush();
    }
  };
  return { put, flush };
}

/** The output sink boot() hands the port for one stream (see boot()). */
function makeSink(cb, stream, linebuffer) {
  if (cb === undefined) return lineWriter(stream);
  if (!linebuffer) return { put: cb, flush() {} };
  // Like the port's own linebuffer mode (a decoded line, no newline), but flushable.
  return lineWriter((b) => cb(b.toString("utf8", 0, b[b.length - 1] === 10 ? b.length - 1 : b.length)));
}

// ---------------------------------------------------------------------------------------------
// File system

/** mkdir -p in the Emscripten FS. */
export function mkdirp(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    const info = FS.analyzePath(cur);
    if (!info.exists) FS.mkdir(cur);
    else if (!FS.isDir(info.object.mode)) throw new Error(`FS: ${cur} exists and is not a directory`);
  }
}

function keepFile(name) {
  return KEEP_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/**
 * Copy a host directory (recursively) or a single host file into the FS at `fsPath`.
 * Returns the number of files copied.
 */
export function mount(FS, hostPath, fsPath) {
  const st = fs.statSync(hostPath); // throws a clear ENOENT if missing
  if (st.isFile()) {
    mkdirp(FS, path.posix.dirname(fsPath));
    FS.writeFile(fsPath, fs.readFileSync(hostPath)); // raw bytes: .mpy stays binary
    return 1;
  }
  let n = 0;
  const walk = (hostDir, fsDir) => {
    mkdirp(FS, fsDir);
    for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
      const name = ent.name;
      if (name.startsWith(".") || SKIP_NAMES.has(name)) continue;
      const hp = path.join(hostDir, name);
      const fp = path.posix.join(fsDir, name);
      let s;
      try {
        s = fs.statSync(hp); // follows symlinks
      } catch {
        continue; // dangling symlink
      }
      if (s.isDirectory()) walk(hp, fp);
      else if (s.isFile() && keepFile(name)) {
        FS.writeFile(fp, fs.readFileSync(hp));
        n++;
      }
    }
  };
  walk(hostPath, fsPath);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Interpreter

const pyStr = (s) => JSON.stringify(String(s)); // a JSON string is a valid Python str literal

/**
 * Start a MicroPython interpreter.
 *   heap      initial GC heap in bytes (the port grows it on demand)
 *   pystack   Python stack in words
 *   mounts    [[hostPath, fsPath], ...] copied into the FS
 *   paths     FS dirs prepended to sys.path, in order
 *   cwd       FS dir to chdir into (optional)
 *   stdout, stderr
 *             callbacks for the interpreter's output. Default: line-buffered writes to
 *             process.stdout / process.stderr.
 *   linebuffer
 *             for stdout/stderr callbacks given: true (default) calls them with one decoded line
 *             at a time, without its newline (as the port does); false calls them with each raw
 *             byte as a 1-byte Uint8Array (what a REPL bridge wants).
 * Resolves to the port's object (runPython, runPythonAsync, FS, pyimport, replInit, ...) plus
 * `flush()`, which hands out a last partial line still held back (the port's own linebuffer mode
 * would lose it). Only one interpreter per process is usable at a time (see the header).
 */
export async function boot({
  heap = DEFAULT_HEAP,
  pystack = DEFAULT_PYSTACK,
  mounts = [],
  paths = [],
  cwd = null,
  stdout,
  stderr,
  linebuffer = true,
} = {}) {
  const out = makeSink(stdout, process.stdout, linebuffer);
  const err = makeSink(stderr, process.stderr, linebuffer);
  const mp = await loadMicroPython({
    heapsize: heap,
    pystack,
    linebuffer: false, // raw bytes to our sinks, which do the line buffering
    stdout: out.put,
    stderr: err.put,
  });
  mp.flush = () => {
    out.flush();
    err.flush();
  };
  for (const [hostPath, fsPath] of mounts) mount(mp.FS, hostPath, fsPath);
  const setup = ["import sys"];
  // Prepend in reverse so that paths[0] ends up at sys.path[0].
  for (const p of [...paths].reverse()) setup.push(`sys.path.insert(0, ${pyStr(p)})`);
  if (cwd) setup.push("import os", `os.chdir(${pyStr(cwd)})`);
  mp.runPython(setup.join("\n"));
  return mp;
}

// Runs a script or code string inside the interpreter with CPython-like exit semantics. Defined
// once per interpreter under private names; returns an int exit status.
const RUNNER = `
def __harness_run(file, code, argv):
    import sys
    sys.argv.clear()  # sys.argv cannot be rebound in this port, only mutated
    sys.argv.extend(argv)
    g = {"__name__": "__main__", "__file__": file}
    try:
        if code is None:
            execfile(file, g)
        else:
            exec(code, g)
    except SystemExit as e:
        __harness_unlock()
        c = e.args[0] if e.args else None
        if c is None:
            return 0
        if isinstance(c, int):
            return c
        print(c, file=sys.stderr)
        return 1
    except BaseException as e:
        __harness_unlock()
        __harness_traceback(e)
        return 1
    __harness_unlock()
    return 0

def __harness_unlock():
    # A script that dies inside micropython.heap_lock() would make printing the traceback hang
    # the interpreter. heap_unlock() returns the new depth (and wraps below 0), so read the depth
    # with a balanced lock/unlock first.
    try:
        import micropython
        micropython.heap_lock()
        d = micropython.heap_unlock()
        while d > 0:
            d = micropython.heap_unlock()
    except Exception:
        pass

def __harness_traceback(e):
    # The traceback without this wrapper's own frame.
    import sys
    try:
        import io
        s = io.StringIO()
        sys.print_exception(e, s)
        lines = s.getvalue().split("\\n")
        sys.stderr.write("\\n".join(l for l in lines if not l.endswith(", in __harness_run")))
    except BaseException:
        sys.print_exception(e, sys.stderr)
`;

/**
 * Run a script (`file`, an FS path) or a `code` string in a booted interpreter as __main__, with
 * sys.argv = argv. Returns the exit status (number); a traceback goes to the interpreter's stderr.
 */
export function runScript(mp, { file = null, code = null, argv = [] } = {}) {
  if (!mp.__harnessRunner) {
    mp.runPython(RUNNER);
    mp.__harnessRunner = true;
  }
  const call = `__harness_rc = __harness_run(${file === null ? "'<string>'" : pyStr(file)}, ${
    code === null ? "None" : pyStr(code)
  }, [${argv.map(pyStr).join(", ")}])`;
  try {
    mp.runPython(call);
  } catch (e) {
    // Only reachable if the wrapper itself failed (e.g. MemoryError while printing).
    if (e && e.name === "PythonError") {
      process.stderr.write(e.message.endsWith("\n") ? e.message : e.message + "\n");
      return 1;
    }
    throw e;
  }
  const rc = mp.globals.get("__harness_rc");
  return typeof rc === "number" ? rc & 0xff : 1;
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE =
  "usage: node harness.mjs [--heap BYTES] [--pystack WORDS] [--mount HOSTDIR:FSDIR]... " +
  "[--path FSDIR]... [--cwd FSDIR] (SCRIPT.py | --code PYTHON) [ARGS...]";

class UsageError extends Error {}

export function parseArgs(argv) {
  const o = { heap: DEFAULT_HEAP, pystack: DEFAULT_PYSTACK, mounts: [], paths: [], cwd: null,
              script: null, code: null, args: [] };
  let i = 0;
  const need = (flag) => {
    if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[++i];
  };
  const int = (flag, v) => {
    const m = /^(\d+)([kKmM]?)$/.exec(v);
    if (!m) throw new UsageError(`${flag}: not a size: ${v}`);
    return Number(m[1]) * ({ "": 1, k: 1024, m: 1024 * 1024 })[m[2].toLowerCase()];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--heap") o.heap = int(a, need(a));
    else if (a === "--pystack") o.pystack = int(a, need(a));
    else if (a === "--mount") {
      const v = need(a);
      const k = v.lastIndexOf(":");
      if (k <= 0 || !v.slice(k + 1).startsWith("/"))
        throw new UsageError(`--mount wants HOSTDIR:/FSDIR, got ${v}`);
      o.mounts.push([path.resolve(v.slice(0, k)), path.posix.normalize(v.slice(k + 1))]);
    } else if (a === "--path") o.paths.push(need(a));
    else if (a === "--cwd") o.cwd = need(a);
    else if (a === "--code") {
      o.code = need(a);
      o.args = argv.slice(i + 1);
      return o;
    } else if (a === "-h" || a === "--help") throw new UsageError("");
    else if (a === "--") {
      if (i + 1 >= argv.length) break;
      o.script = argv[i + 1];
      o.args = argv.slice(i + 2);
      return o;
    } else if (a.startsWith("--")) throw new UsageError(`unknown option ${a}`);
    else {
      o.script = a;
      o.args = argv.slice(i + 1);
      return o;
    }
  }
  throw new UsageError("no SCRIPT or --code given");
}

/** Where a host file appears in the FS: inside a mount if it lies in one, else null. */
function fsPathOf(hostFile, mounts) {
  const abs = path.resolve(hostFile);
  for (const [host, fsp] of [...mounts].reverse()) { // later mounts win, as when copying
    const rel = path.relative(host, abs);
    if (rel === "") return fsp;
    if (!rel.startsWith("..") && !path.isAbsolute(rel)) return path.posix.join(fsp, ...rel.split(path.sep));
  }
  return null;
}

export function finish(code) {
  // Drain both streams, then exit explicitly: a script may leave JS timers behind (the port's
  // own asyncio is bound to the JS event loop) that would keep Node alive.
  let pending = 2;
  const done = () => { if (--pending === 0) process.exit(code); };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

export async function main(argv = process.argv.slice(2)) {
  // A reader that hangs up early (`| head`) must not crash us with EPIPE; drop further output.
  for (const st of [process.stdout, process.stderr])
    st.on("error", (e) => { if (e.code !== "EPIPE") throw e; });
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) process.stderr.write(`harness: ${e.message}\n`);
    process.stderr.write(USAGE + "\n");
    return finish(2);
  }
  let mp;
  let file = null;
  let extraPath = null;
  try {
    const mounts = [...o.mounts];
    if (o.script !== null) {
      if (!fs.existsSync(o.script) || !fs.statSync(o.script).isFile())
        throw new Error(`can't open file '${o.script}'`);
      file = fsPathOf(o.script, mounts);
      if (file === null || !keepFile(file)) {
        file = path.posix.join("/__main__", path.basename(o.script));
        mounts.push([path.resolve(o.script), file]);
      }
      extraPath = path.posix.dirname(file);
    }
    mp = await boot({ heap: o.heap, pystack: o.pystack, mounts, paths: o.paths, cwd: o.cwd });
    // The script's dir goes right after the --path dirs.
    if (extraPath !== null) {
      mp.runPython(`import sys\nif ${pyStr(extraPath)} not in sys.path: sys.path.insert(${o.paths.length}, ${pyStr(extraPath)})`);
    }
  } catch (e) {
    if (mp) mp.flush();
    process.stderr.write(`harness: ${e && e.name === "PythonError" ? e.message : e.message || e}\n`);
    return finish(2);
  }
  const argvPy = o.code !== null ? ["-c", ...o.args] : [file, ...o.args];
  let rc;
  try {
    rc = runScript(mp, { file, code: o.code, argv: argvPy });
  } catch (e) {
    // A JS-side failure (e.g. the wasm aborted); keep the message, not the minified source.
    mp.flush();
    process.stderr.write(`harness: ${e && e.message ? e.message : e}\n`);
    return finish(2);
  }
  mp.flush();
  return finish(rc);
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) await main();
