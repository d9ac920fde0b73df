"""The link's fuzzing for `railbot bench` (issue 5 item 8): corrupted frames at the firmware's parser, and
frames with a valid CRC and mutated fields, commands and values at a simulated robot, under real MicroPython.

Driven step by step by host_tools/upy/bench.mjs like bench_upy.py (the WebAssembly port collects
garbage only between top-level calls, so the campaign runs in chunks with a collection between);
also runs under CPython: `python bench_link.py [--frames N] [--payload N]` with firmware, boards/SIM
and tests/firmware on the path. The fuzz itself is tests/firmware/linkfuzz.py, shared with the tests.
Output: `BENCH name value` and `NOTE ...` lines (railbot_host.bench). MicroPython subset.
"""
import gc
import sys

UPY = sys.implementation.name == "micropython"
RC = 0
CHUNK = 5000

from benchlib import GC, now_ms as _now_ms, out, note, parse_args, run, step  # noqa: E402,F401  (host_tools/upy/benchlib.py; bench.mjs calls step)


def _add(total, fig):
    """Sum the figures of fig into total (lists are joined)."""
    for k in fig:
        total[k] = (total.get(k, []) + fig[k]) if isinstance(fig[k], list) else total.get(k, 0) + fig[k]


def _campaign(count, fuzz, checked, after=None):
    """Generator: run fuzz(n, seed) in chunks of CHUNK frames (a new seed each), a collection between
    chunks, until `count` frames were CHECKED (the figure `checked` of each chunk, not the frames
    asked for); returns the summed figures (lists are joined)."""
    total = {}
    seed = 1
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        fig = fuzz(n, seed)
        _add(total, fig)
        if fig[checked] <= 0:
            print("ERROR link fuzz: a chunk of %d frames checked none" % n)
            break
        done += fig[checked]
        seed += 1
        if after is not None:
            after()
        yield GC
    return total


def phase_frames(count):
    import linkfuzz

    t0 = _now_ms()
    total = yield from _campaign(count, lambda n, seed: linkfuzz.frame_fuzz(n, seed=seed), "frames")
    wall = (_now_ms() - t0) / 1000
    out("link_fuzz_frames", total["frames"])
    out("link_fuzz_crashes", total["crashes"])
    out("link_fuzz_corrupt_accepted", total["corrupt_accepted"])
    out("link_fuzz_resync_failures", total["resync_failures"])
    out("link_fuzz_frames_wall_s", wall)
    note("link frame fuzz: %d corrupted frames checked (random, truncated, bits flipped, a byte dropped or "
         "doubled; %d asked, %d of them left unchanged by the mutation and not counted), %d dropped as bad "
         "frames, %d noise bytes, %d realtime bytes made by the corruption; a clean frame after every 8 was "
         "always taken: %s" % (
             total["frames"], total["asked"], total["unchanged"], total["bad_frames"], total["noise_bytes"],
             total["realtime_from_noise"], total["resync_failures"] == 0))


RUN_BETWEEN_S = 60  # simulated seconds the homed robot runs between chunks: its requests become work


def phase_payload(count):
    """Half the frames at a robot that was never homed, half at a homed one (jog, lift, reref are
    accepted there); the homed one runs a simulated minute between chunks, so queued requests,
    holds and jogs are carried out, alarms come and go, and the next chunk meets another state."""
    import linkfuzz
    from simboard.rig import Rig

    t0 = _now_ms()
    total = {}
    for homed in (False, True):
        rig = Rig(home=homed)
        yield GC

        def between(rig=rig, homed=homed):
            del rig.events[:]  # the rig's own event list would grow with the valid commands' events
            if homed:
                rig.run(RUN_BETWEEN_S)

        half = count // 2 if not homed else count - count // 2
        part = yield from _campaign(half, lambda n, seed: linkfuzz.payload_fuzz(rig, n, seed=seed),
                                    "payload_frames", between)
        out("link_fuzz_payload_frames_" + ("homed" if homed else "unhomed"), part["payload_frames"])
        out("link_fuzz_payload_accepted_" + ("homed" if homed else "unhomed"), part["valid"])
        _add(total, part)
    wall = (_now_ms() - t0) / 1000
    out("link_fuzz_payload_frames", total["payload_frames"])
    out("link_fuzz_bad_payload_state_changes", total["bad_payload_state_changes"])
    out("link_fuzz_payload_no_reply", total["no_reply"])
    out("link_fuzz_payload_accepted", total["valid"])
    out("link_fuzz_payload_wrong_effects", total["wrong_effects"])
    out("link_fuzz_payload_wall_s", wall)
    for why in total["wrong_seen"][:5]:
        note("link payload fuzz: accepted, but did something else: " + why)
    note("link payload fuzz: %d frames with a valid CRC checked (%d asked): %d error replies, %d dropped (type or "
         "length), %d retries of a refused id, %d accepted commands, each checked against its reply" % (
             total["payload_frames"], total["asked"], total["errors"], total["dropped"], total["retried"],
             total["valid"]))


def phase_heap():
    """Heap held by the link: the module imported and one Link on a (counting) robot."""
    class Robot:
        def __init__(self):
            self.emit = None

    robot = Robot()
    yield GC
    a = gc.mem_alloc()
    from railbot import link as L

    keep = L.Link(robot, None)
    yield GC
    out("upy_link_heap_bytes", gc.mem_alloc() - a)
    del keep


def phase_alloc():
    """Allocation of the parser: per byte inside a frame (must be 0), and per complete request."""
    from simboard.rig import Rig
    from railbot import link as L
    import linkfuzz

    link = L.Link(linkfuzz.CountingRobot(), lambda data: None)
    buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
    n = L.encode(buf, L.T_REQUEST, 0, 1, "x" * L.MAX_PAYLOAD)
    inside = n - 1
    body = memoryview(buf)[:inside]
    link.feed(body)
    a = gc.mem_alloc()
    link.feed(body)  # n - 1 bytes, no frame completes (the SOF cuts the last one short)
    per_byte = gc.mem_alloc() - a
    ok = False
    import micropython

    micropython.heap_lock()
    try:
        link.feed(body)
        ok = True
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    rig = Rig(home=False)
    link = L.Link(rig.robot, lambda data: None)
    n = L.encode(buf, L.T_REQUEST, 0, 1, "status")
    frame = bytes(buf[:n])
    link.feed(frame)
    a = gc.mem_alloc()
    link.feed(frame)  # a retry: answered from the window
    retry = gc.mem_alloc() - a
    n = L.encode(buf, L.T_REQUEST, 0, 2, "status")
    frame = bytes(buf[:n])
    a = gc.mem_alloc()
    link.feed(frame)
    request = gc.mem_alloc() - a
    out("upy_link_alloc_per_byte_bytes", per_byte)
    out("upy_link_heap_lock_ok", ok)
    out("upy_link_request_alloc_bytes", request)
    note("link allocation: %d bytes inside a frame allocate %d bytes; a `status` request and its reply %d bytes, "
         "a retried one %d bytes" % (inside, per_byte, request, retry))


USAGE = "usage: bench_link.py [--frames N] [--payload N] [alloc]"


def steps(argv):
    global RC
    args = parse_args(argv, {"frames": 100000, "payload": 100000}, ("alloc",), need_phase=False)
    if args is None:
        print(USAGE)
        RC = 2
        return
    (opts, phases) = args
    import simboard

    simboard.install()
    if phases and UPY:
        yield from phase_heap()
        phase_alloc()
        yield GC
    if opts["frames"]:
        yield from phase_frames(opts["frames"])
    if opts["payload"]:
        yield from phase_payload(opts["payload"])
    print("BENCH_DONE")
    RC = 0


if __name__ == "__main__":
    run(steps(sys.argv[1:]))
    sys.exit(RC)
