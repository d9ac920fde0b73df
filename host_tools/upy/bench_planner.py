"""The planner's cost per step word under MicroPython: allocation and the heap_lock proof of planning
one word (upy_alloc_per_segment_bytes, upy_segment_heap_lock_ok) and its cost against the reference
loop (segment_cost_ref_ratio): bench_upy.py's `segment` phase. MicroPython subset.
"""
import gc

from benchlib import clock_cost, now_ms, out, per, time_empty


class _SegOut:
    """A step output that takes every word and keeps none: the planner's own cost, nothing else's."""

    def __init__(self):
        self.n = 0
        self.last = 0

    def space(self):
        return 1

    def pending(self):
        return 0

    def put(self, w):
        self.n += 1
        self.last = w

    def commit(self):
        pass


SEG_LOCKED = 4000  # words planned under heap_lock: the ramp up, at every speed


def phase_segment(folder):
    """Python cost, allocation and heap_lock proof of planning and queueing one step word.

    The SIM carriage's full-rail move is planned word by word (Axis._next_word, which computes and
    puts one word); its cost is compared with 1000 empty `for` iterations, the reference of
    tick_cost_ref_ratio."""
    import micropython
    from railbot import config
    from railbot.motion import Axis

    cfg, pins = config.load_board(folder)
    cx, hz = cfg["x"], cfg["timing"]["pio_hz"]
    cyc = hz // 1000000
    high = (cx["step_pulse_ns"] * cyc + 999) // 1000
    travel = cx["travel_mm"] * cx["steps_per_mm"]
    o = _SegOut()
    ax = Axis(o, cx["steps_per_mm"], cx["v_max_mm_s"], cx["a_max_mm_s2"], hz, high,
              (cx["dir_setup_ns"] * cyc + 999) // 1000)
    nxt = ax._next_word
    clock_ms = clock_cost()
    # allocation and heap_lock over the ramp (the costliest words)
    ax.move_to(travel)
    a0 = gc.mem_alloc()
    for _ in range(16):
        nxt()
    alloc = gc.mem_alloc() - a0
    done = 0
    micropython.heap_lock()
    try:
        while done < SEG_LOCKED and ax.queued_motion():
            nxt()
            done += 1
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    out("upy_alloc_per_segment_bytes", per(alloc, 16))
    out("upy_segment_heap_lock_ok", done == SEG_LOCKED)
    # cost: the whole move, best of 3, against the empty loop
    best = 1e9
    words = 0
    for _ in range(3):
        ax.set_position(0)
        ax.move_to(travel)
        o.n = 0
        t0 = now_ms()
        while ax.queued_motion():
            nxt()
        t = now_ms() - t0 - clock_ms
        words = o.n
        if t < best:
            best = t
    ref = 1e9
    for _ in range(24):
        r = time_empty() - clock_ms
        if r < ref:
            ref = r
    seg_us = best * 1000 / words
    out("segment_words_full_rail", words)
    out("segment_us", seg_us)
    out("segment_empty_loop_1000_us", ref * 1000)
    out("segment_cost_ref_ratio", seg_us / (ref * 1000))
