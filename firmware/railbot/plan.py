"""The trapezoid planner's word loop (railbot.motion.Axis.feed): the maths of docs/motion.md, made cheap.

Planning a step word in bytecode costs the RP2040 about 0.6 ms (the emulated chip's figure): a ramp
asks for up to 16 words a control tick. So this module is written to be compiled by mpy-cross with
the viper emitter where the port has a native one (`-X emit=viper`, railbot_host.native says which
boards): every value a native int below 2**30, the axis's state read into locals once a call and
written back once, the tables as ptr32. Elsewhere (CPython, the WebAssembly port, a board without
a native emitter) the same source runs as plain Python and plans the same words.

Rules for this file, which viper enforces at compile time: every argument is annotated, every local
keeps one type (an int is never a bool or None), an object read from the axis is cast with int()
or ptr32() before arithmetic, no tuples, no floats, no calls into bytecode in the word loop except
`out.put`.
"""
from micropython import const

_DONE = const(0)
_ACCEL = const(1)
_PEAK = const(2)
_CRUISE = const(3)
_DECEL = const(4)
_N_RAMP = const(64)
_WORD_OVERHEAD = const(3)  # railbot.hal.pio: WORD_OVERHEAD, PERIOD_OVERHEAD (the step program's law)
_PERIOD_OVERHEAD = const(5)


def ptr32(buf):
    """Bytecode's stand-in for viper's ptr32 cast: an array('i') indexes the same."""
    return buf


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
    """Plan and put up to k_max words of ax's move while less than lead_us of motion is queued
    (ahead_us now); return how many. ax.t_end is the caller's: it adds the returned words' time,
    ax.words_us here (and carries ax.t_frac)."""
    # the axis's state, in locals (names as on Axis)
    ph = int(ax.phase)
    first = int(ax.first)
    nn = int(ax.n)
    j2 = int(ax.j2)
    tau = int(ax.tau)
    r = int(ax.r)
    left = int(ax.left)
    cruise = int(ax.cruise)
    peak = int(ax.peak)
    acc_end2 = int(ax.acc_end2)
    cacc = int(ax.cacc)
    lag = int(ax.lag)
    pos = int(ax.pos)
    queued = int(ax.queued)
    t_frac = int(ax.t_frac)
    d2 = int(ax.d2)
    small = int(ax.small)
    cyc = int(ax.cyc)
    cp = int(ax.cp)
    crem = int(ax.crem)
    cv = int(ax.cv)
    n_chunk = int(ax.n_chunk)
    h = int(ax.h)
    p_min = int(ax.p_min)
    p_max = int(ax.p_max)
    low_first = int(ax.low_first)
    dirn = int(ax.dir)
    track = int(ax.track)
    ring = int(ax.ring)
    table = ptr32(ax.p_of_n)
    starts = ptr32(ax.starts)
    ends = ptr32(ax.ends)
    out = ax.out
    k = 0
    us_sum = 0
    us = 0
    p = 0
    while ph != _DONE and k < k_max and ahead_us + us_sum < lead_us:
        # --- the word: n steps over span cycles (ideal) -------------------------------------------
        n = 1
        span = 0
        if first and ph != _ACCEL:
            if ph == _CRUISE:
                cruise -= 1
            else:  # a one-step triangle: the peak step
                peak = 0
        elif ph == _CRUISE:
            n = n_chunk
            if crem:  # at most a period drift of 40 cycles (whole-cycle periods drift off/cv a step)
                off = crem if crem + crem <= cv else cv - crem
                dd = 40 * cv // off
                if dd < n:
                    n = dd
            if n > cruise:
                n = cruise
            cruise -= n
            c = cacc + n * crem
            q = c // cv
            cacc = c - q * cv
            span = n * cp + q
        else:
            # S(j2) in cycles at the word's start (deterministic in the curve state)
            s0 = 0
            if tau:
                frac = (r << 7) // tau if r < 0x400000 else r // (tau >> 7)
                s0 = tau * cyc + ((frac * cyc + 128) >> 8)
            # the ramp's n for step period pp (us): the sag budget's table (Axis._ramp_n)
            if not first and ph != _PEAK:
                if ph == _ACCEL:
                    pp = d2 // tau
                else:  # the sag is set by the slow end of the word, about nn periods nearer rest
                    pq = d2 // tau
                    te = tau - nn * pq
                    pp = d2 // te if te > 0 else 0x3FFFFFFF
                while nn < _N_RAMP and pp <= table[nn + 1]:
                    nn += 1
                while nn > 1 and pp > table[nn]:
                    nn -= 1
                lim = 0x7FFFFFF // tau  # keeps dn * m below 2**29 on the curve
                n = nn if nn <= lim else (lim if lim > 0 else 1)
                go = (acc_end2 - j2) >> 1 if ph == _ACCEL else j2 >> 1
                if n > go:
                    n = go
            j2s = j2
            taus = tau
            rs = r
            while True:
                # the curve point to j2n half steps: tau = floor(sqrt(j2n * d2)), r the remainder
                if ph == _ACCEL:
                    j2n = j2s + 2 * n
                elif ph == _PEAK:
                    j2n = j2s + 1
                else:
                    j2n = j2s - 2 * n
                if j2n <= small:
                    v = j2n * d2
                    t = int(isqrt(v))
                    j2 = j2n
                    tau = t
                    r = v - t * t
                else:
                    if j2s < small:
                        v = small * d2
                        t = int(isqrt(v))
                        j2 = small
                        tau = t
                        r = v - t * t
                    else:
                        j2 = j2s
                        tau = taus
                        r = rs
                    dn = j2n - j2
                    u = tau + tau
                    q = d2 // u
                    m = d2 - q * u
                    s = r + dn * m
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
                    j2 = j2n
                    tau = tau + e
                    r = rho + u * d - e * e
                # a deceleration word's sag is checked at its slow end: fewer steps until it fits
                if ph != _DECEL or n == 1 or tau == 0 or d2 // tau <= table[n]:
                    break
                n -= 1
            s1 = 0
            if tau:
                frac = (r << 7) // tau if r < 0x400000 else r // (tau >> 7)
                s1 = tau * cyc + ((frac * cyc + 128) >> 8)
            if ph == _ACCEL:
                span = s1 - s0
            elif ph == _PEAK:  # half a step up the curve and back: twice that, the curve left as it was
                span = 2 * (s1 - s0)
                j2 = j2s
                tau = taus
                r = rs
                peak = 0
            else:
                nn = n
                span = s0 - s1
        # --- the word's period, out to the program; words end on their ideal times (lag) ----------
        if first:
            first = 0
            low = low_first
            p = low + h + _PERIOD_OVERHEAD
            lag = 0
        else:
            want = span - lag - _WORD_OVERHEAD
            p = (want + (n >> 1)) // n
            if p < p_min:
                p = p_min
            elif p > p_max:
                p = p_max
            lag += _WORD_OVERHEAD + n * p - span
            low = p - h - _PERIOD_OVERHEAD
        out.put((low << 8) | ((n - 1) << 1) | (1 if dirn > 0 else 0))
        if track:
            i = queued % ring
            starts[i] = pos
            ends[i] = pos + dirn * n
        pos += dirn * n
        queued += 1
        cycles = _WORD_OVERHEAD + n * p + t_frac
        us = cycles // cyc
        t_frac = cycles - us * cyc
        us_sum += us
        k += 1
        left -= n
        # --- the next phase -----------------------------------------------------------------------
        if ph == _ACCEL and j2 >= acc_end2:
            ph = _PEAK if peak else (_CRUISE if cruise > 0 else _DECEL)
        elif ph == _PEAK and not peak:
            ph = _DECEL if j2 > 0 else (_CRUISE if cruise > 0 else _DONE)
        elif ph == _CRUISE and cruise == 0:
            ph = _DECEL if j2 > 0 else _DONE
        if ph == _DECEL and j2 == 0:
            ph = _DONE
        if left <= 0:
            ph = _DONE
    if k:
        ax.phase = ph
        ax.first = first
        ax.n = nn
        ax.j2 = j2
        ax.tau = tau
        ax.r = r
        ax.left = left
        ax.cruise = cruise
        ax.peak = peak
        ax.cacc = cacc
        ax.lag = lag
        ax.pos = pos
        ax.queued = queued
        ax.words_total = int(ax.words_total) + k
        ax.t_frac = t_frac
        ax.words_us = us_sum
        ax.tail_us = us + 1
        ax.v = int(ax.hz) // p
    return k
