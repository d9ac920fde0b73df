#!/usr/bin/env node
// Runs an emulated Pico and serves its USB serial port on 127.0.0.1, so mpremote and `railbot --port socket://...` work against it as against a board.
//
//   node silicon.mjs --uf2 IMAGE.uf2 --bootrom rp2040-bootrom-B1.bin [--fs LFS.img] [--port N]
//                    [--flash-in FILE] [--flash-out FILE] [--speed X] [--no-fix NAME]...
//                    [--flash-times typical|max] [--plant-in FD --plant-out FD]
//
// --plant-in/--plant-out: pipes to the plant on the pins (plant.mjs; railbot_host.pinplant opens
// them): emulated time then moves in lockstep with the plant, a millisecond at a time.
//
// Control on stdin/stdout, one JSON object a line. Out: {"event":"listening","port":N},
// {"event":"boot","n":K,"cause":"power|watchdog|force"}, {"event":"usb","connected":true},
// replies {"reply":OP,...}. In: {"op":"stats"}, {"op":"host_reads","on":false}, {"op":"power_cycle"},
// {"op":"quit"}. The TCP connection is the USB cable as the host sees it: one host at a time; a
// reboot of the chip drops it (the board's USB device goes away) and a new connection reaches the
// new chip once it has enumerated.
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { Board, FS_OFFSET, loadUf2 } from './board.mjs';
import { FIXES } from './fixes.mjs';
import { MAX_TIMES_NS, TIMES_NS } from './nor.mjs';
import { PinPlant } from './plant.mjs';

const FLASH_BYTES = 2 * 1024 * 1024;
const SLICE_CYCLES = 400_000; // then let Node serve the sockets
const TO_DEVICE_HIGH_WATER = 64 * 1024; // pause the socket beyond this much unsent input

function parseArgs(argv) {
  const a = { port: 0, noFix: [], speed: 1, flashTimes: 'typical' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) fail(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--uf2') a.uf2 = v();
    else if (k === '--bootrom') a.bootrom = v();
    else if (k === '--fs') a.fs = v();
    else if (k === '--flash-in') a.flashIn = v();
    else if (k === '--flash-out') a.flashOut = v();
    else if (k === '--port') a.port = Number(v());
    else if (k === '--speed') a.speed = Number(v());
    else if (k === '--no-fix') a.noFix.push(v());
    else if (k === '--flash-times') a.flashTimes = v();
    else if (k === '--plant-in') a.plantIn = Number(v());
    else if (k === '--plant-out') a.plantOut = Number(v());
    else fail(`unknown argument ${k}`);
  }
  if (!a.uf2 && !a.flashIn) fail('--uf2 IMAGE or --flash-in FILE is required');
  if (!a.bootrom) fail('--bootrom FILE is required');
  for (const n of a.noFix) if (!(n in FIXES)) fail(`--no-fix ${n}: no such fix (${Object.keys(FIXES).join(', ')})`);
  if (!(a.speed >= 0)) fail('--speed must be a number >= 0 (0: idle time is not paced)');
  if (!['typical', 'max'].includes(a.flashTimes)) fail(`--flash-times ${a.flashTimes}: typical or max`);
  if ((a.plantIn === undefined) !== (a.plantOut === undefined)) fail('--plant-in and --plant-out go together');
  for (const fd of [a.plantIn, a.plantOut]) {
    if (fd !== undefined && !(Number.isInteger(fd) && fd > 2)) fail(`--plant-in/--plant-out: ${fd} is not a file descriptor above 2`);
  }
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) fail('--port must be 0..65535');
  return a;
}

function fail(msg) {
  process.stderr.write(`silicon: ${msg}\n`);
  process.exit(2);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function readFile(path, what) {
  try {
    return new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    fail(`${what} ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

const args = parseArgs(process.argv.slice(2));
const bootrom = readFile(args.bootrom, 'bootrom');
if (bootrom.length !== 16384) fail(`bootrom ${args.bootrom}: ${bootrom.length} bytes, a B1 mask ROM has 16384`);
const flash = new Uint8Array(FLASH_BYTES).fill(0xff);
if (args.flashIn) {
  const img = readFile(args.flashIn, 'flash image');
  if (img.length !== FLASH_BYTES) fail(`flash image ${args.flashIn}: ${img.length} bytes, expected ${FLASH_BYTES}`);
  flash.set(img);
} else {
  try {
    loadUf2(readFile(args.uf2, 'UF2'), flash);
  } catch (e) {
    fail(`${args.uf2}: ${e.message}`);
  }
}
if (args.fs) {
  const img = readFile(args.fs, 'file system image');
  if (img.length > FLASH_BYTES - FS_OFFSET) fail(`file system image ${args.fs}: ${img.length} bytes, more than the ${FLASH_BYTES - FS_OFFSET} the flash has for it`);
  flash.set(img, FS_OFFSET);
}

const fixes = Object.keys(FIXES).filter((n) => !args.noFix.includes(n));
let client = null;
const plant = args.plantIn === undefined ? null : new PinPlant(args.plantIn, args.plantOut);
const board = new Board(new Uint32Array(bootrom.buffer, bootrom.byteOffset, 4096), flash, {
  fixes,
  speed: args.speed,
  flashTimes: args.flashTimes === 'max' ? MAX_TIMES_NS : TIMES_NS,
  plant,
});

function attachUsb() {
  const { cdc } = board;
  cdc.onData = (buf) => {
    if (client && !client.destroyed) client.write(buf);
  };
  cdc.onConnected = () => emit({ event: 'usb', connected: true, n: board.boots });
}
board.onBoot = (cause) => {
  emit({ event: 'boot', n: board.boots, cause });
  attachUsb();
};
board.onReboot = () => {
  if (client) {
    client.destroy(); // the board's USB device went away
    client = null;
  }
};
emit({ event: 'boot', n: board.boots, cause: 'power' });
attachUsb();

const server = net.createServer((socket) => {
  if (client) {
    socket.end('silicon: the port is in use by another host\r\n');
    return;
  }
  client = socket;
  socket.setNoDelay(true);
  socket.on('data', (data) => {
    board.cdc.write(data);
    if (board.cdc.queuedToDevice > TO_DEVICE_HIGH_WATER) socket.pause();
    kick();
  });
  socket.on('close', () => {
    if (client === socket) client = null;
  });
  socket.on('error', () => {});
});
server.listen(args.port, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));

let timer = null;
let running = false;
let waitTimer = null;
function kick() {
  if (waitTimer !== null) {
    clearTimeout(waitTimer);
    waitTimer = null;
  }
  if (!running && timer === null) timer = setImmediate(loop);
}
function loop() {
  timer = null;
  running = true;
  const next = board.run(SLICE_CYCLES);
  running = false;
  if (client && client.isPaused() && board.cdc.queuedToDevice < TO_DEVICE_HIGH_WATER / 2) client.resume();
  if (next < 0) timer = setImmediate(loop);
  else if (next > 0) waitTimer = setTimeout(() => { waitTimer = null; kick(); }, next);
  // else: the core sleeps with nothing scheduled; host input (kick) wakes it
}
kick();

function stats() {
  const nor = board.ctx.nor;
  return {
    boots: board.boots,
    cause: board.cause,
    nanos: board.nanos,
    cycles: board.cycles,
    idle_ns: board.idleNs,
    pio_cycles: board.pio ? board.pio.pioCycles : 0,
    flash_erases: nor ? nor.erases : 0,
    flash_programs: nor ? nor.programs : 0,
    flash_busy_ns: nor ? nor.busyNs : 0,
    flash_poll_skipped_ns: nor ? nor.skippedNs : 0,
    usb: { ...board.cdc.stats, hostBuffered: board.cdc.hostBuffer.length, heldIn: board.cdc.pendingIn.length },
    fixes,
    plant: plant ? { exchanges: plant.exchanges, adc_reads: plant.adcReads } : null,
  };
}

function quit() {
  if (args.flashOut) fs.writeFileSync(args.flashOut, flash);
  emit({ reply: 'quit' });
  process.exit(0);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    emit({ error: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  switch (msg.op) {
    case 'stats':
      emit({ reply: 'stats', ...stats() });
      break;
    case 'host_reads':
      board.cdc.setReading(!!msg.on);
      emit({ reply: 'host_reads', on: !!msg.on });
      kick();
      break;
    case 'power_cycle':
      board.requestReboot('power');
      emit({ reply: 'power_cycle' });
      kick();
      break;
    case 'quit':
      quit();
      break;
    default:
      emit({ error: `unknown op ${JSON.stringify(msg.op)}` });
  }
});
rl.on('close', quit);
