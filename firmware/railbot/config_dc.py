"""Board data of a DC gear-motor gripper (gripper.kind "dc"): its keys and checks, loaded only for such boards."""
from railbot.config import _fail, _nonempty_str
from railbot.pinmap import _gpio, ADC_PINS

GRIPPER = {
    "kind": _nonempty_str,
    "move_timeout_ms": (100, 10000),
    "pwm_hz": (1000, 50000),
    "duty_pct": (10, 100),
    "hold_duty_pct": (0, 100),
    "isense_ma_fs": (100, 20000),  # motor current at ADC full scale
    "stall_ma": (10, 20000),
    "stall_ms": (1, 15),  # with the 1 ms loop: motor off within 20 ms of a jam (docs/gripper.md)
    "hold_min_ma": (1, 20000),
    "backoff_ms": (10, 2000),
}


def schema(base):
    s = dict(base)
    s["gripper"] = GRIPPER
    return s


def check(g, path):
    for key, above in (("stall_ma", "isense_ma_fs"), ("hold_min_ma", "stall_ma"), ("backoff_ms", "move_timeout_ms")):
        if g[key] >= g[above]:
            _fail(path, "gripper." + key, "%d is not below gripper.%s %d" % (g[key], above, g[above]))


def check_pins(pins, path):
    """The H-bridge direction and current-sense pins, the current on an ADC pin."""
    for name in ("grip_dir", "grip_isense"):
        if name not in pins:
            _fail(path, name, "missing pin (gripper.kind is dc)")
    if _gpio(pins["grip_isense"]) not in ADC_PINS:
        _fail(path, "grip_isense", "%s is not an ADC pin GP26..GP29" % pins["grip_isense"])
