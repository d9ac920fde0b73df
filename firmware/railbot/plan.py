"""The trapezoid planner's word loop (railbot.motion.Axis.feed): the maths of docs/motion.md, made cheap.

Planning a step word in bytecode costs the RP2040 about 0.6 ms (the emulated chip's figure): a ramp
asks for up to 16 words a control tick. So this module is written to be compiled by mpy-cross with
the viper emitter where the port has a native one (`-X emit=viper`, railbot_host.native says which
boards): every value a native int below 2**30, the axis's state read into locals once a call and
written back once, the tables as ptr32. Elsewhere (CPython, the WebAssembly port, a board without
a native emitter) the same source runs as plain Python and plans the same words.

Rules for this file, which viper enforces at compile time: every argument is annotated, every local
keeps one type (an int is never a bool or None), an object read from the axis is cast with int()
or ptr32() before arithmetic, no tuples, no floats, no calls into bytecode in the word loop (the
words go to the axis's `words` array; Axis hands them to the step output in one batch). And one
that it does not: no jump over 2 KB of Thumb code. Past 2 KB a jump takes armv6m's long form, which
loads its offset from a word-aligned literal, and MicroPython v1.28 freezes armv6m native code only
2-byte aligned (docs/silicon.md, "Native code"; `railbot firmware` mends its own copy of mpy-tool,
but a build from MicroPython's make would not). tests/host/test_native.py looks for the long form
in the compiled module. Hence the loop in a few functions, which share the plan's state through the
axis's `work` array (new_work(); slots _W_*): plan_words loads it from the axis once a call and
stores it back once.
"""
import array
from micropython import const

_DONE = const(0)
_ACCEL = const(1)
_PEAK = const(2)
_CRUISE = const(3)
_DECEL = const(4)
_N_RAMP = const(64)
_WORD_OVERHEAD = const(3)  # railbot.hal.pio: WORD_OVERHEAD, PERIOD_OVERHEAD (the step program's law)
_PERIOD_OVERHEAD = const(5)
# the work slots: the Axis attribute of the same name, or (last three) what a word hands on
_W_PH = const(0)  # phase
_W_FIRST = const(1)
_W_J2 = const(2)
_W_TAU = const(3)
_W_R = const(4)
_W_NN = const(5)  # n
_W_D2 = const(6)
_W_SMALL = const(7)
_W_CYC = const(8)
_W_ACC_END2 = const(9)
_W_LEFT = const(10)
_W_CRUISE = const(11)
_W_PEAK = const(12)
_W_CACC = const(13)
_W_LAG = const(14)
_W_POS = const(15)
_W_QUEUED = const(16)
_W_T_FRAC = const(17)
_W_CP = const(18)
_W_CREM = const(19)
_W_CV = const(20)
_W_N_CHUNK = const(21)
_W_H = const(22)
_W_P_MIN = const(23)
_W_P_MAX = const(24)
_W_LOW_FIRST = const(25)
_W_DIR = const(26)
_W_TRACK = const(27)
_W_RING = const(28)
_W_N = const(29)  # the word's steps
_W_P = const(30)  # its period, cycles
_W_US = const(31)  # its duration, us
_W_S = const(32)  # s_now: S(j2) in cycles at the curve point
_W_SLOTS = const(33)


def ptr32(buf):
    """Bytecode's stand-in for viper's ptr32 cast: an array('i') indexes the same."""
    return buf


def new_work():
    """The work slots of one axis's plan (allocated once, by Axis)."""
    return array.array("i", bytes(4 * _W_SLOTS))


def isqrt(n: int) -> int:
    """floor(sqrt(n)) for 0 <= n < 2**30, small ints only (no square above n is ever formed)."""
    if n <= 0:
        return 0
    x = 1
    k = n
    while k:  # x = 2**ceil(bits/2) >= sqrt(n)
        k >>= 2
        x <<= 1
    y = (x + n // x) >> 1
    while y < x:  # Newton from above ends on the floor
        x = y
        y = (x + n // x) >> 1
    return x


def plan_words(ax, k_max: int, ahead_us: int, lead_us: int) -> int:
    """Plan up to k_max words of ax's move into ax.words while less than lead_us of motion is queued
    (ahead_us now); return how many (the caller hands them to the step output). ax.t_end is the
    caller's too: it adds the words' time, ax.words_us here (ax.t_frac carries the remainder)."""
    wo = ax.work
    w = ptr32(wo)
    tbo = ax.p_of_n
    starts = ptr32(ax.starts)
    ends = ptr32(ax.ends)
    words = ptr32(ax.words)
    load(ax, wo)
    k = 0
    us_sum = 0
    while w[_W_PH] != _DONE and k < k_max and ahead_us + us_sum < lead_us:
        ph = w[_W_PH]
        if w[_W_FIRST] and ph != _ACCEL:  # the move's first step, off the curve
            w[_W_N] = 1
            span = 0
            if ph == _CRUISE:
                w[_W_CRUISE] -= 1
            else:  # a one-step triangle: the peak step
                w[_W_PEAK] = 0
        elif ph == _CRUISE:
            span = int(cruise_span(wo))
        else:
            span = int(ramp_span(wo, tbo))
        # the word of n steps over span ideal cycles: its period (words end on their ideal times: the
        # lag), the ring's start/end positions, the queue's time, the next phase
        n = w[_W_N]
        h = w[_W_H]
        if w[_W_FIRST]:
            w[_W_FIRST] = 0
            low = w[_W_LOW_FIRST]
            p = low + h + _PERIOD_OVERHEAD
            w[_W_LAG] = 0
        else:
            lag = w[_W_LAG]
            p = (span - lag - _WORD_OVERHEAD + (n >> 1)) // n
            if p < w[_W_P_MIN]:
                p = w[_W_P_MIN]
            elif p > w[_W_P_MAX]:
                p = w[_W_P_MAX]
            w[_W_LAG] = lag + _WORD_OVERHEAD + n * p - span
            low = p - h - _PERIOD_OVERHEAD
        dirn = w[_W_DIR]
        words[k] = (low << 8) | ((n - 1) << 1) | (1 if dirn > 0 else 0)
        pos = w[_W_POS]
        if w[_W_TRACK]:
            i = w[_W_QUEUED] % w[_W_RING]
            starts[i] = pos
            ends[i] = pos + dirn * n
        w[_W_POS] = pos + dirn * n
        w[_W_QUEUED] += 1
        w[_W_LEFT] -= n
        cyc = w[_W_CYC]
        cycles = _WORD_OVERHEAD + n * p + w[_W_T_FRAC]
        us = cycles // cyc
        w[_W_T_FRAC] = cycles - us * cyc
        w[_W_US] = us
        w[_W_P] = p
        us_sum += us
        k += 1
        # the phase the move is in now
        j2 = w[_W_J2]
        if ph == _ACCEL and j2 >= w[_W_ACC_END2]:
            ph = _PEAK if w[_W_PEAK] else (_CRUISE if w[_W_CRUISE] > 0 else _DECEL)
        elif ph == _PEAK and not w[_W_PEAK]:
            ph = _DECEL if j2 > 0 else (_CRUISE if w[_W_CRUISE] > 0 else _DONE)
        elif ph == _CRUISE and w[_W_CRUISE] == 0:
            ph = _DECEL if j2 > 0 else _DONE
        if ph == _DECEL and j2 == 0:
            ph = _DONE
        if w[_W_LEFT] <= 0:
            ph = _DONE
        w[_W_PH] = ph
    if k:
        store(ax, wo, k, us_sum)
    return k


def load(ax, wo):
    """The axis's plan into the work slots."""
    w = ptr32(wo)
    w[_W_PH] = int(ax.phase)
    w[_W_FIRST] = int(ax.first)
    w[_W_J2] = int(ax.j2)
    w[_W_TAU] = int(ax.tau)
    w[_W_R] = int(ax.r)
    w[_W_NN] = int(ax.n)
    w[_W_D2] = int(ax.d2)
    w[_W_SMALL] = int(ax.small)
    w[_W_CYC] = int(ax.cyc)
    w[_W_ACC_END2] = int(ax.acc_end2)
    w[_W_LEFT] = int(ax.left)
    w[_W_CRUISE] = int(ax.cruise)
    w[_W_PEAK] = int(ax.peak)
    w[_W_CACC] = int(ax.cacc)
    w[_W_LAG] = int(ax.lag)
    w[_W_POS] = int(ax.pos)
    w[_W_QUEUED] = int(ax.queued)
    w[_W_T_FRAC] = int(ax.t_frac)
    w[_W_CP] = int(ax.cp)
    w[_W_CREM] = int(ax.crem)
    w[_W_CV] = int(ax.cv)
    w[_W_N_CHUNK] = int(ax.n_chunk)
    w[_W_H] = int(ax.h)
    w[_W_P_MIN] = int(ax.p_min)
    w[_W_P_MAX] = int(ax.p_max)
    w[_W_LOW_FIRST] = int(ax.low_first)
    w[_W_DIR] = int(ax.dir)
    w[_W_TRACK] = int(ax.track)
    w[_W_RING] = int(ax.ring)
    w[_W_S] = int(ax.s_now)


def store(ax, wo, k: int, us_sum: int):
    """The work slots back into the axis, after k words of us_sum us."""
    w = ptr32(wo)
    ax.phase = w[_W_PH]
    ax.first = w[_W_FIRST]
    ax.n = w[_W_NN]
    ax.j2 = w[_W_J2]
    ax.tau = w[_W_TAU]
    ax.r = w[_W_R]
    ax.s_now = w[_W_S]
    ax.left = w[_W_LEFT]
    ax.cruise = w[_W_CRUISE]
    ax.peak = w[_W_PEAK]
    ax.cacc = w[_W_CACC]
    ax.lag = w[_W_LAG]
    ax.pos = w[_W_POS]
    ax.queued = w[_W_QUEUED]
    ax.words_total = int(ax.words_total) + k
    ax.t_frac = w[_W_T_FRAC]
    ax.words_us = us_sum
    ax.tail_us = w[_W_US] + 1
    ax.v = int(ax.hz) // w[_W_P]


def cruise_span(wo) -> int:
    """A cruise word: its n (at most a chunk, the cruise left, and a period drift of 40 cycles: equal
    whole-cycle periods drift off/cv a step from the exact one), and its ideal span in cycles, n
    exact periods pio_hz / v (Bresenham)."""
    w = ptr32(wo)
    n = w[_W_N_CHUNK]
    crem = w[_W_CREM]
    cv = w[_W_CV]
    cruise = w[_W_CRUISE]
    if crem:
        off = crem if crem + crem <= cv else cv - crem
        d = 40 * cv // off
        if d < n:
            n = d
    if n > cruise:
        n = cruise
    w[_W_CRUISE] = cruise - n
    c = w[_W_CACC] + n * crem
    q = c // cv
    w[_W_CACC] = c - q * cv
    w[_W_N] = n
    return n * w[_W_CP] + q


def ramp_span(wo, tbo) -> int:
    """A ramp word (acceleration, the peak step, deceleration; the move's first step on the curve):
    its n, the curve point moved by it, and its ideal span in cycles."""
    w = ptr32(wo)
    table = ptr32(tbo)
    ph = w[_W_PH]
    j2s = w[_W_J2]
    taus = w[_W_TAU]
    rs = w[_W_R]
    nn = w[_W_NN]
    d2 = w[_W_D2]
    s0 = w[_W_S]
    n = 1
    if not w[_W_FIRST] and ph != _PEAK:
        # the sag budget's n for step period pp (us) (railbot.motion._sag_table)
        if ph == _ACCEL:
            pp = d2 // taus
        else:  # the sag is set by the slow end of the word, about nn periods nearer rest
            te = taus - nn * (d2 // taus)
            pp = d2 // te if te > 0 else 0x3FFFFFFF
        while nn < _N_RAMP and pp <= table[nn + 1]:
            nn += 1
        while nn > 1 and pp > table[nn]:
            nn -= 1
        lim = 0x7FFFFFF // taus  # keeps dn * m below 2**29 on the curve
        n = nn if nn <= lim else (lim if lim > 0 else 1)
        go = (w[_W_ACC_END2] - j2s) >> 1 if ph == _ACCEL else j2s >> 1
        if n > go:
            n = go
    small = w[_W_SMALL]
    while True:
        # the curve point to j2n half steps: tau = floor(sqrt(j2n * d2)), r the remainder, S(j2n)
        if ph == _ACCEL:
            j2n = j2s + 2 * n
        elif ph == _PEAK:
            j2n = j2s + 1
        else:
            j2n = j2s - 2 * n
        if j2n <= small:
            v = j2n * d2
            tau = int(isqrt(v))
            r = v - tau * tau
        else:
            if w[_W_J2] < small:
                v = small * d2
                t = int(isqrt(v))
                w[_W_J2] = small
                w[_W_TAU] = t
                w[_W_R] = v - t * t
            dn = j2n - w[_W_J2]
            tau = w[_W_TAU]
            u = tau + tau
            q = d2 // u
            m = d2 - q * u
            s = w[_W_R] + dn * m
            f = s // u
            rho = s - f * u
            base = dn * q + f
            # (tau + delta)^2 <= j2n * d2 with delta = base - d: rho + u*d - (base - d)^2 >= 0
            d = (base * base - rho) // (u + base + base)
            e = base - d
            while rho + u * d - e * e < 0:
                d += 1
                e -= 1
            while rho + u * (d - 1) - (e + 1) * (e + 1) >= 0:
                d -= 1
                e += 1
            tau += e
            r = rho + u * d - e * e
        w[_W_J2] = j2n
        w[_W_TAU] = tau
        w[_W_R] = r
        # S(j2n) in cycles (deterministic in the curve point, so word spans telescope)
        if tau == 0:
            w[_W_S] = 0
        else:
            cyc = w[_W_CYC]
            frac = (r << 7) // tau if r < 0x400000 else r // (tau >> 7)  # r / (2 tau) in 1/256 us
            w[_W_S] = tau * cyc + ((frac * cyc + 128) >> 8)
        # a deceleration word's sag is checked at its slow end: fewer steps until it fits
        if ph != _DECEL or n == 1 or tau == 0 or d2 // tau <= table[n]:
            break
        n -= 1
        w[_W_J2] = j2s
        w[_W_TAU] = taus
        w[_W_R] = rs
    s1 = w[_W_S]
    w[_W_N] = n
    if ph == _PEAK:  # half a step up the curve and back: twice that, the curve left as it was
        w[_W_J2] = j2s
        w[_W_TAU] = taus
        w[_W_R] = rs
        w[_W_S] = s0
        w[_W_PEAK] = 0
        return 2 * (s1 - s0)
    if ph == _DECEL:
        w[_W_NN] = n
        return s0 - s1
    w[_W_NN] = nn
    return s1 - s0


def ring_copy(src, k: int, dst, off: int, at: int, mask: int) -> int:
    """src[0:k] into the ring dst[off + ((at + i) & mask)]; the ring index after them
    (railbot.hal.StepOutput.put_words)."""
    a = ptr32(src)
    b = ptr32(dst)
    i = 0
    while i < k:
        b[off + ((at + i) & mask)] = a[i]
        i += 1
    return (at + k) & mask
