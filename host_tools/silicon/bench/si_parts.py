"""On the emulated RP2040 (railbot_host.silicon_bench): the heap after boot and after a day of link requests, one pilot capture's sample spacing, one save, one link frame."""
# The host prepends SETTLE_MS, DAY_REQUESTS, DAY_GAP_MS, PARTS (a string: "c" pilot capture,
# "s" save). Prints `SI name value` lines; times are emulated (ticks_us).
import array
import asyncio
import gc
import machine
import micropython
import time
import main
from railbot import link as L
from railbot.hal import pilot as P
from railbot.unitsense import cp_read

robot = main.build()
robot.hw.watchdog_off()  # the robot's tasks feed it; the measurements below pause them
out = []


def say(name, value):
    out.append((name, value))


# --- the pilot capture: every conversion's arrival, from the DMA's progress against SysTick ------
_SYST_CSR = 0xE000E010  # SysTick on the core clock, counting down over 24 bits: 8 ns at 125 MHz
_SYST_RVR = 0xE000E014
_SYST_CVR = 0xE000E018
_DMA_BASE = 0x50000000


@micropython.viper
def _watch(cfg, ts, cs) -> int:
    # A tight loop in machine code: stamp (SysTick, counting up) each change of the channel's
    # TRANS_COUNT, for cfg[2] core cycles. cfg: TRANS_COUNT address, SYST_CVR address, cycles.
    c_ = ptr32(cfg)
    cnt = ptr32(c_[0])
    syst = ptr32(c_[1])
    limit = int(c_[2])
    t = ptr32(ts)
    c = ptr32(cs)
    n = int(len(ts))
    k = int(0)
    prev = int(syst[0])
    elapsed = int(0)
    last = cnt[0]
    while k < n and elapsed < limit:
        now = int(syst[0])
        elapsed += (prev - now) & 0xFFFFFF
        prev = now
        v = cnt[0]
        if v != last:
            t[k] = 0xFFFFFF - now
            c[k] = v
            k += 1
            last = v
    return k


class _Watching:
    """Stands in for pilot.py's `time` during one capture: its waits stamp the DMA's progress."""

    def __init__(self, channel):
        self.mhz = machine.freq() // 1000000
        self.cfg = array.array("I", (_DMA_BASE + 0x40 * channel + 0x08, _SYST_CVR, 0))  # CHx_TRANS_COUNT
        self.ts = array.array("I", bytes(4 * 96))
        self.cs = array.array("I", bytes(4 * 96))
        self.n = 0

    def sleep_us(self, us):
        # capture() waits once for the whole capture, then a gap at a time while it is not done
        n = self.n
        self.cfg[2] = us * self.mhz
        self.n += _watch(self.cfg, memoryview(self.ts)[n:], memoryview(self.cs)[n:])


def pilot_figures():
    pc = robot.hw.pilot
    w = _Watching(pc.dma.channel)
    mem = machine.mem32
    csr = mem[_SYST_CSR]
    mem[_SYST_RVR] = 0xFFFFFF
    mem[_SYST_CSR] = 0x5  # on, core clock, no interrupt
    P.time = w
    try:
        done = pc.capture()
    finally:
        P.time = time
        mem[_SYST_CSR] = csr
    n = w.n
    say("cp_capture_done", 1 if done else 0)
    # the host derives the spacing (silicon_bench.sample_gaps): stamps in core cycles (24 bits),
    # TRANS_COUNT after each
    say("cp_cycles_per_us", w.mhz)
    say("cp_stamps", ",".join(str(w.ts[i]) for i in range(n)))
    say("cp_counts", ",".join(str(w.cs[i]) for i in range(n)))
    t0 = time.ticks_us()
    state = cp_read(pc)
    say("cp_read_us", time.ticks_diff(time.ticks_us(), t0))
    say("cp_read_state", "%r" % state)


def save_figures():
    ms = []
    for _ in range(3):
        t0 = time.ticks_us()
        robot.save()
        ms.append(time.ticks_diff(time.ticks_us(), t0) / 1000)
    ms.sort()
    say("save_ms", ms[1])
    say("save_ms_max", ms[2])


# --- the day: requests through the firmware's own Link (parser, robot.command, encoder) ----------
COMMANDS = ("status", "config get x.v_max_mm_s", "log", "charge 3", "ledger", "cancel 3", "alarms",
            "status", "build", "config get timing.tick_ms", "help", "charge 7", "cancel 7")
VERBS = ("status", "config", "log", "charge", "ledger", "cancel", "alarms", "build", "help")
sent = [0]


def sink(mv):
    sent[0] += len(mv)


async def day():
    robot.start()
    await asyncio.sleep_ms(SETTLE_MS)
    gc.collect()
    say("heap_free_after_boot_bytes", gc.mem_free())
    if "c" in PARTS:
        pilot_figures()
    if "s" in PARTS:
        save_figures()
    link = L.Link(robot, write=sink)
    buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
    body = bytearray(L.HEADER + L.MAX_PAYLOAD + 4)
    mv = memoryview(buf)
    n = L.encode(buf, L.T_HELLO, 0, 1, "railbot-link 1", L.MAX_PAYLOAD, body)
    link.feed(mv[:n])
    status_us = []
    worst = 0
    by_verb = [0] * len(VERBS)
    for i in range(DAY_REQUESTS):
        cmd = COMMANDS[i % len(COMMANDS)]
        n = L.encode(buf, L.T_REQUEST, (i + 1) & 0xFF, i % 65535 + 2, cmd, L.MAX_PAYLOAD, body)
        t0 = time.ticks_us()
        link.feed(mv[:n])
        us = time.ticks_diff(time.ticks_us(), t0)
        if cmd == "status":
            status_us.append(us)
        if us > worst:
            worst = us
        v = VERBS.index(cmd.split()[0])
        if us > by_verb[v]:
            by_verb[v] = us
        await asyncio.sleep_ms(DAY_GAP_MS)
    status_us.sort()
    say("link_frame_us", status_us[len(status_us) // 2])
    say("link_frame_us_max", worst)
    for v in range(len(VERBS)):
        say("link_frame_us_max_" + VERBS[v], by_verb[v])
    say("day_requests", link.executed)
    say("day_link_errors", link.errors + link.bad_payload + link.send_failed)
    say("day_reply_bytes", sent[0])
    gc.collect()
    say("heap_free_after_day_bytes", gc.mem_free())


try:
    asyncio.run(day())
finally:
    robot.shutdown()
    robot.hw.watchdog_off()
say("alarm", robot.alarm)
for k, v in out:
    print("SI", k, v)
