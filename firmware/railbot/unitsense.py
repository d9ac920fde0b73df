"""The unit-sense readers: the control pilot's IEC 61851 state from hardware captures, and the holster switch through the gripper contacts."""
import time
from micropython import const

# Control pilot (docs/safety.md): railbot.hal.pilot captures 46 ADC samples 24 us apart in hardware,
# a whole 1 kHz PWM period plus its shortest HIGH phase (5 %, 50 us), which then holds at least 2
# neighbouring samples; the reader classifies the capture.
_CP_TRIES = const(6)  # classifications to find two in a row that agree
_HOLSTER_SAMPLES = const(5)
_HOLSTER_GAP_US = const(200)
_HOLSTER_TRIES = const(3)
# IEC 61851 HIGH-level thresholds on the 12-bit ADC result (-12..+12 V -> 0..4095 through the divider:
# code = (mV + 12000) * 4096 // 24000). A needs 11 V (the norm's lower bound for A) rather than the
# 10.5 V midpoint, rounded up to the next code: noise errs towards B, a vehicle.
_CP_A = const(((12000 + 11000) * 4096 + 23999) // 24000)
_CP_B = const((12000 + 7500) * 4096 // 24000)
_CP_C = const((12000 + 4500) * 4096 // 24000)
_CP_D = const((12000 + 1500) * 4096 // 24000)
_CP_E = const((12000 - 6000) * 4096 // 24000)


def cp_high(samples):
    """The pilot's HIGH level (12-bit ADC result) in one capture: the highest median of three
    neighbouring samples, so a single-sample spike never counts, whatever the PWM's phase and duty."""
    a = b = 0
    top = 0
    for i in range(len(samples)):
        c = samples[i]
        if a < b:
            lo, hi = a, b
        else:
            lo, hi = b, a
        m = hi if c > hi else c if c > lo else lo
        if m > top:
            top = m
        a, b = b, c
    return top


def holster_in(pin):
    """Rule 1's holster switch, read through the gripper contacts: holstered only when a window of
    _HOLSTER_SAMPLES reads 200 us apart are all made, in one of _HOLSTER_TRIES windows. A single
    open read spoils a window (contact chatter errs towards "gun out", the safe side); a gun really
    out of its holster would need a whole window of false reads to pass."""
    for _ in range(_HOLSTER_TRIES):
        k = 0
        while k < _HOLSTER_SAMPLES and pin.value():
            k += 1
            time.sleep_us(_HOLSTER_GAP_US)
        if k == _HOLSTER_SAMPLES:
            return True
    return False


def cp_state(raw):
    """IEC 61851 control-pilot state from the HIGH level (12-bit ADC result)."""
    if raw >= _CP_A:
        return "A"
    if raw >= _CP_B:
        return "B"
    if raw >= _CP_C:
        return "C"
    if raw >= _CP_D:
        return "D"
    if raw >= _CP_E:
        return "E"
    return "F"


def cp_read(pilot):
    """The pilot state from hardware captures (railbot.hal.pilot), debounced: the first state two
    classifications in a row agree on, else "?" (unstable, or a capture that did not complete: never
    read as A, so it blocks a move like a vehicle does)."""
    last = "?"
    for _ in range(_CP_TRIES):
        s = cp_state(cp_high(pilot.buf)) if pilot.capture() else "?"
        if s == last:
            return s
        last = s
    return "?"
