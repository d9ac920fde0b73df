"""The simulated board's `time` module: MicroPython's ticks API on the virtual clock."""
from simboard import vclock
from simboard.vclock import ticks_diff, ticks_add, TICKS_MASK


def ticks_ms():
    return vclock._current[0].now_ms & TICKS_MASK


# Microseconds slept with sleep_us inside the current millisecond: [the clock and the ms they belong
# to, us]. The clock itself counts whole ms; this lets a blocking sequence (a capture's wait) walk
# through a 1 ms PWM period. It is dropped as soon as the clock moves on by other means, and a new
# clock (a new board) starts without it.
_sub_us = [None, 0, 0]


def sub_us():
    """Microseconds past the current virtual millisecond (0..999)."""
    clock = vclock._current[0]
    return _sub_us[2] if _sub_us[0] is clock and _sub_us[1] == clock.now_ms else 0


def ticks_us():
    # (now_ms * 1000) & TICKS_MASK, with no product above 2**30: after 18 virtual minutes that one
    # is a big int, which MicroPython allocates at every call (garbage the real ticks_us never makes)
    a = vclock._current[0].now_ms & 0x7FFFFFF  # 1000 = 8 * 125: (a * 125) mod 2**27, then * 8
    return ((((((((a >> 20) * 125) & 0x7F) << 20) + (a & 0xFFFFF) * 125) & 0x7FFFFFF) << 3) + sub_us()) & TICKS_MASK


def ticks_cpu():
    return ticks_us()


def time():
    return vclock._current[0].now_ms // 1000


def sleep_ms(ms):
    # A blocking sleep: nothing else on the board runs meanwhile, the plant still moves.
    clock = vclock._current[0]
    clock.advance_to(clock.now_ms + ms)


def sleep_us(us):
    clock = vclock._current[0]
    f = sub_us() + us
    if f >= 1000:
        clock.advance_to(clock.now_ms + f // 1000)
        f %= 1000
    _sub_us[0] = clock
    _sub_us[1] = clock.now_ms
    _sub_us[2] = f


def sleep(s):
    sleep_ms(int(s * 1000))


def install_into(mod):
    """Give a real `time` module (CPython) the virtual ticks functions; it keeps its own."""
    for name in ("ticks_ms", "ticks_us", "ticks_cpu", "ticks_diff", "ticks_add", "sleep_ms", "sleep_us"):
        setattr(mod, name, globals()[name])
