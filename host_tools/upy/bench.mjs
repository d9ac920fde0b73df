#!/usr/bin/env node
// Drives host_tools/upy/bench_upy.py (railbot bench) under MicroPython's WebAssembly port, one step
// per top-level call.
//
//   node bench.mjs [--heap BYTES] [--mount HOSTDIR:FSDIR]... [--path FSDIR]... -- SCRIPT.py [ARGS...]
//
// Why steps: this port's gc.collect() only marks a collection as pending; it runs when control
// is back at the top level (JavaScript), where no MicroPython pointer hides in WebAssembly locals.
// Inside one long runPython call the heap just grows and gc.mem_alloc() never drops. So the
// bench script is a generator (`steps(argv)`): the driver calls `step()` once per top-level call;
// a step that yields "gc" gets gc.collect() before returning, and the next step starts on a
// collected heap. Long runs (a simulated day) yield now and then so garbage is reclaimed.
//
// Exit status: the script's (bench_upy.RC), 1 if it raised (traceback on stderr), 2 for a usage or
// harness error.

import fs from "node:fs";
import path from "node:path";
import { boot, finish } from "./harness.mjs";

const USAGE = "usage: node bench.mjs [--heap BYTES] [--mount HOSTDIR:FSDIR]... [--path FSDIR]... -- SCRIPT.py [ARGS...]";

function parse(argv) {
  const o = { heap: undefined, mounts: [], paths: [], script: null, args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const need = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--heap") o.heap = Number(need());
    else if (a === "--mount") {
      const v = need();
      const k = v.lastIndexOf(":");
      if (k <= 0 || !v.slice(k + 1).startsWith("/")) throw new Error(`--mount wants HOSTDIR:/FSDIR, got ${v}`);
      o.mounts.push([path.resolve(v.slice(0, k)), path.posix.normalize(v.slice(k + 1))]);
    } else if (a === "--path") o.paths.push(need());
    else if (a === "--") {
      o.script = argv[i + 1];
      o.args = argv.slice(i + 2);
      break;
    } else throw new Error(`unknown option ${a}`);
  }
  if (!o.script) throw new Error("no SCRIPT given");
  return o;
}

async function main() {
  for (const st of [process.stdout, process.stderr])
    st.on("error", (e) => { if (e.code !== "EPIPE") throw e; });
  let o;
  try {
    o = parse(process.argv.slice(2));
    if (!fs.existsSync(o.script)) throw new Error(`can't open file '${o.script}'`);
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    return finish(2);
  }
  const modName = path.basename(o.script, ".py");
  const fsDir = "/__bench__";
  let mp;
  try {
    mp = await boot({
      heap: o.heap,
      mounts: [...o.mounts, [path.resolve(o.script), `${fsDir}/${modName}.py`]],
      paths: [...o.paths, fsDir],
    });
  } catch (e) {
    process.stderr.write(`bench: ${e && e.message ? e.message : e}\n`);
    return finish(2);
  }
  const argv = JSON.stringify([`${fsDir}/${modName}.py`, ...o.args]);
  let rc = 0;
  try {
    mp.runPython(
      `import sys\nsys.argv.clear()\nsys.argv.extend(${argv})\n` +
      `import ${modName} as __bench\n__bench_gen = __bench.steps(sys.argv[1:])\n__bench_more = True`
    );
    for (;;) {
      mp.runPython("__bench_more = __bench.step(__bench_gen)");
      if (!mp.globals.get("__bench_more")) break;
    }
    mp.runPython("__bench_rc = __bench.RC");
    rc = mp.globals.get("__bench_rc");
    rc = typeof rc === "number" ? rc : 1;
  } catch (e) {
    mp.flush();
    process.stderr.write(e && e.message ? (e.message.endsWith("\n") ? e.message : e.message + "\n") : `${e}\n`);
    rc = 1;
  }
  mp.flush();
  return finish(rc);
}

await main();
