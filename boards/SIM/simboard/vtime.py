"""The simulated board's `time` module: MicroPython's ticks API on the virtual clock."""
from simboard import vclock
from simboard.vclock import ticks_diff, ticks_add, TICKS_MASK


def ticks_ms():
    return vclock._current[0].now_ms & TICKS_MASK


def ticks_us():
    # (now_ms * 1000) & TICKS_MASK, with no product above 2**30: after 18 virtual minutes that one
    # is a big int, which MicroPython allocates at every call (garbage the real ticks_us never makes)
    clock = vclock._current[0]
    a = clock.now_ms & 0x7FFFFFF  # 1000 = 8 * 125: (a * 125) mod 2**27, then * 8
    return ((((((((a >> 20) * 125) & 0x7F) << 20) + (a & 0xFFFFF) * 125) & 0x7FFFFFF) << 3) + clock.now_us) & TICKS_MASK


def ticks_cpu():
    return ticks_us()


def time():
    return vclock._current[0].now_ms // 1000


def sleep_ms(ms):
    # A blocking sleep: nothing else on the board runs meanwhile, the plant still moves; a whole
    # number of ms from now, us into the ms kept (in steps of ms: a day in us is a big int)
    clock = vclock._current[0]
    us = clock.now_us
    clock.advance_to(clock.now_ms + ms)
    clock.now_us = us


def sleep_us(us):
    vclock._current[0].advance_us(us)


def sleep(s):
    sleep_ms(int(s * 1000))


def install_into(mod):
    """Give a real `time` module (CPython) the virtual ticks functions; it keeps its own."""
    for name in ("ticks_ms", "ticks_us", "ticks_cpu", "ticks_diff", "ticks_add", "sleep_ms", "sleep_us"):
        setattr(mod, name, globals()[name])
