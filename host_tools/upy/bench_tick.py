"""One control tick mid-traverse under MicroPython: its allocation (upy_alloc_per_tick_bytes), the
proof under micropython.heap_lock() and its cost against the reference loop, measured on replayed
hardware (benchreplay.py) that must reproduce the real ticks' firmware state exactly:
bench_upy.py's `tick` phase, and bench_board.py's `left` (the same on another board). MicroPython subset.
"""
import gc

from benchlib import clock_cost, now_ms, note, out, per, time_empty
from benchreplay import _NA, CONFIG, READINTO, Fake, Replay, restore, same_state, snapshot, value_of
from benchsim import fw_objects, run_until


SIM_TICKS = 64  # real ticks measured against the simulated hardware
REC_TICKS = 256  # consecutive real ticks recorded, then replayed: 2.5 m at 1 m/s, past 2 markers
BATCHES = 24  # replayed batches timed
# The parts of the tick whose allocation is reported when it allocates (names that no longer
# exist in the firmware are skipped).
PARTS = (("carriage", "sense"), ("carriage", "read_encoder"), ("encoder", "count"), ("marker", "poll"),
         ("sup", "check"), ("carriage", "following_fault"),
         ("x", "busy"), ("x", "following_error"), ("x", "executing_span"), ("x", "feed"),
         ("x", "_next_word"), ("z", "busy"), ("z", "feed"), ("z", "_next_word"))


def _alloc_ticks(tick, n):
    a = gc.mem_alloc()
    for _ in range(n):
        tick()
    return gc.mem_alloc() - a


def _locked_ticks(tick, n):
    import micropython

    done = 0
    micropython.heap_lock()
    try:
        for _ in range(n):
            tick()
            done += 1
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    return done


def _time_ticks(tick, n):
    """Milliseconds (float) for n calls of tick()."""
    t0 = now_ms()
    for _ in range(n):
        tick()
    return now_ms() - t0



def _cruising(robot, margin_steps):
    x = robot.x
    if not robot.moving or not x.busy() or robot.alarm:
        return False
    # the planner's cruise phase (railbot.motion._CRUISE) with margin_steps of cruise still to plan
    return x.phase == 3 and x.cruise > margin_steps


def phase_tick(board, robot):
    """The tick's figures on a homed robot: a `charge 44` traverse, measured once it cruises mid-rail."""
    if not robot.homed:
        note("tick: robot not homed, skipped")
        return
    tick_ms = robot.tick_ms
    clock = board.clock
    reply = robot.command("charge 44")
    if not reply.startswith("ok"):
        note("tick: %s" % reply)
    x = robot.x
    per_tick = (getattr(x, "v_cap", 0) or 20000) * tick_ms // 1000
    margin = (SIM_TICKS + REC_TICKS + 32) * per_tick
    if not run_until(board, lambda: _cruising(robot, margin), 600000):
        note("tick: the carriage never cruised mid-rail: %s" % robot.command("status"))
        out("upy_tick_cruise_found", False)
        return
    note("tick: cruising at x=%d steps, %d steps to go, t=%d ms" % (robot.enc_steps, x.left, clock.now_ms))
    tick = robot.tick

    def advance():
        clock.advance_to(clock.now_ms + tick_ms)

    # 1. real ticks on the simulated hardware: firmware + sim allocations, sim cost included
    clock_ms = clock_cost()
    total = 0
    t_sim = 0.0
    for _ in range(SIM_TICKS):
        advance()
        a = gc.mem_alloc()
        t0 = now_ms()
        tick()
        t1 = now_ms()
        total += gc.mem_alloc() - a
        t_sim += t1 - t0 - clock_ms
    out("upy_alloc_per_tick_sim_bytes", per(total, SIM_TICKS))
    out("tick_sim_us", t_sim * 1000 / SIM_TICKS)

    # 2. record REC_TICKS consecutive real ticks at the machine/rp2 level
    objs = fw_objects(robot)
    rep = Replay(robot)
    advance()
    s0 = snapshot(objs)
    rep.record()
    try:
        for i in range(REC_TICKS):
            tick()
            if i < REC_TICKS - 1:
                advance()
        s1 = snapshot(objs)
        rep.fake()
    except ValueError as e:  # a hardware method the fakes do not know
        rep.real()
        note("tick: %s" % e)
        out("tick_replay_faithful", False)
        return
    except BaseException:
        rep.real()
        raise
    note("tick: replayed hardware: %s" % ", ".join(
        "%s(%s)" % (f.name, "/".join(f.methods)) for f in rep.fakes if f.methods))
    note("tick: the %d replayed ticks cover %d steps, %d step words (%d DMA re-arms), %d marker bytes, "
         "markers seen %d -> %d" % (
             REC_TICKS, abs(value_of(s1, robot.x, "pos") - value_of(s0, robot.x, "pos")),
             value_of(s1, robot.x, "words_total") - value_of(s0, robot.x, "words_total"),
             sum(f.n[CONFIG] for f in rep.fakes), sum(sum(r for r in f.rets[READINTO] if r) for f in rep.fakes),
             value_of(s0, robot, "tags_seen"), value_of(s1, robot, "tags_seen")))

    try:
        _replayed(robot, rep, objs, s0, s1, tick, clock_ms)
    finally:
        rep.real()
        restore(s1)




def _replayed(robot, rep, objs, s0, s1, tick, clock_ms):
    # fidelity: the replay must end in the very state the real ticks ended in
    rep.rewind(s0)
    for _ in range(REC_TICKS):
        tick()
    mism, div = rep.faults()
    diff = same_state(s1, snapshot(objs))
    faithful = mism == 0 and div == 0 and not diff and not robot.alarm
    out("tick_replay_faithful", faithful)
    if not faithful:
        note("tick: replay mismatches=%d diverged=%d alarm=%d state diff: %s" % (
            mism, div, robot.alarm, "; ".join(diff[:6])))

    # allocation of the replayed tick (nothing is freed inside a step: the difference is exact)
    rep.rewind(s0)
    total = _alloc_ticks(tick, REC_TICKS)
    out("upy_alloc_per_tick_bytes", per(total, REC_TICKS))

    # where it allocates: each part of the tick measured inside it (inclusive of what it calls)
    if total:
        try:
            _alloc_parts(robot, rep, s0, tick)
        except Exception as e:  # a diagnosis only: the figures above and below stand
            note("tick: the allocation breakdown failed: %r" % (e,))

    # proof under heap_lock
    rep.rewind(s0)
    done = _locked_ticks(tick, REC_TICKS)
    out("upy_tick_heap_lock_ok", done == REC_TICKS)
    if done != REC_TICKS:
        note("tick: MemoryError under heap_lock in replayed tick %d of %d" % (done + 1, REC_TICKS))

    # cost: replayed ticks vs 1000 iterations of an empty loop, interleaved, best of BATCHES
    best_tick = best_ref = 1e9
    for b in range(BATCHES):
        rep.rewind(s0)
        t = _time_ticks(tick, REC_TICKS) - clock_ms
        r = time_empty() - clock_ms
        if t < best_tick:
            best_tick = t
        if r < best_ref:
            best_ref = r
    out("tick_replay_us", best_tick * 1000 / REC_TICKS)
    out("empty_loop_1000_us", best_ref * 1000)
    out("clock_read_us", clock_ms * 1000)


def _alloc_parts(robot, rep, s0, tick):
    hw = robot.hw
    owners = {"robot": robot, "carriage": robot.carriage, "sup": robot.sup, "x": robot.x, "z": robot.z, "hw": hw,
              "encoder": getattr(hw, "encoder", None),
              "marker": getattr(hw, "marker", None), "wdt": getattr(hw, "wdt", None)}
    acc = [0] * len(PARTS)
    calls = [0] * len(PARTS)
    installed = []
    mem = gc.mem_alloc

    def wrap(k, real):
        # fixed optional parameters: a *args wrapper would allocate a tuple per call
        def w(a=_NA, b=_NA, c=_NA):
            m = mem()
            if a is _NA:
                r = real()
            elif b is _NA:
                r = real(a)
            elif c is _NA:
                r = real(a, b)
            else:
                r = real(a, b, c)
            acc[k] += mem() - m
            calls[k] += 1
            return r
        return w

    for k in range(len(PARTS)):
        on, name = PARTS[k]
        o = owners.get(on)
        if o is None or isinstance(o, Fake) or not hasattr(o, name):
            continue
        setattr(o, name, wrap(k, getattr(o, name)))
        installed.append((o, name))
    try:
        rep.rewind(s0)
        for _ in range(REC_TICKS):
            tick()
    finally:
        for o, name in installed:
            delattr(o, name)
    for k in range(len(PARTS)):
        if calls[k]:
            on, name = PARTS[k]
            note("tick alloc in %s.%s: %d bytes in %d calls over %d ticks" % (
                on, name, acc[k], calls[k], REC_TICKS))


