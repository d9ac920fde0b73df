"""Load and validate a board's data (robot.json here, pins.csv in railbot/pinmap.py); every error
names the file and the key. `config set` edits robot.json through lookup() and with_value()."""
import json
from railbot.pinmap import ConfigError, fail as _fail, read as _read
from railbot.grammar import canonical as _uint
from railbot.pinmap import PIN_NAMES, DC_GRIP_PINS, LINK_PINS, load_pins, check_peripheral_pins
from railbot.pinmap import PIN_TABLES, PWM_PINS, check_pwm, uart_of, uart_of_rx  # noqa: F401 (config's API too)


# What one PIO state machine at 125 MHz can pulse with margin, and what a TMC2209 takes.
STEP_RATE_MAX = 500000  # steps/s
# The planner (railbot/motion.py) keeps v*v and its curve constant 10**12/a below 2**30 (small ints).
PLANNER_RATE_MAX = 32767  # steps/s
PLANNER_ACCEL_MIN = 2000  # steps/s^2: the last step of a ramp (sqrt(2/a) s) fits one word's period
PLANNER_JERK_MIN = 160000  # steps/s^3: the last step of an S-curve (cbrt(6/j) s) fits one word's period
# Marker tags carry one byte.
MARKER_ID_MAX = 255
# machine.WDT on RP2040 takes at most 8388 ms.
WATCHDOG_MS_MAX = 8388
# An e-stop's ramp-down from top speed takes v/a (+ a/j); the safety relay's delay must cover that
# and this: the interrupt's latency, the step being cut, the slow last steps (docs/safety.md).
ESTOP_MARGIN_MS = 100


class _ListOf:
    # A schema node: a JSON list of min_len..max_len items, each matching `item`.
    def __init__(self, item, min_len, max_len):
        self.item = item
        self.min_len = min_len
        self.max_len = max_len


def _nonempty_str(v):
    if type(v) is not str or not v:
        return "expected a non-empty string, got " + _show(v)


def _one_of(*choices):
    def check(v):
        if type(v) is not str or v not in choices:
            return "expected one of " + ", ".join(choices) + ", got " + _show(v)
    return check


# Bounds catch typos and unit mix-ups (m for mm, s for ms); tuning lives inside them.
# A node is (min, max) for an int, a dict for an object, _ListOf for a list, or a
# function returning an error message (or None) for anything else.
def _schema():
    """robot.json's schema, built when a file is checked (boot, `config set`): garbage after,
    not heap held for good."""
    return {
        "board": _nonempty_str,
        "pin_names": _one_of(*sorted(PIN_TABLES)),
        "x": {
            "steps_per_mm": (1, 1000),
            "counts_per_mm": (1, 1000),
            "v_max_mm_s": (1, 5000),
            "a_max_mm_s2": (1, 20000),
            "travel_mm": (100, 200000),
            "home_speed_mm_s": (1, 1000),
            "locate_speed_mm_s": (1, 100),
            "pull_off_mm": (1, 100),
            "home_debounce_samples": (1, 20),
            "following_error_max_mm": (1, 1000),
            "marker_window_mm": (1, 100),
            "arrive_tolerance_mm": (1, 50),
            "step_pulse_ns": (20, 100000),
            "dir_setup_ns": (20, 100000),
            "jerk_mm_s3": (0, 10000000),
            "slip_max_pct": (0, 50),
            "drive_loss_max_pct": (0, 50),
            "encoder_fault_mm": (1, 1000),
            "creep_speed_mm_s": (1, 200),
            "creep_mm": (1, 500),
            "marker_baud": (300, 1000000),
            "reref_search_mm": (100, 200000),
        },
        "z": {
            "steps_per_mm": (1, 1000),
            "v_max_mm_s": (1, 1000),
            "a_max_mm_s2": (1, 10000),
            "travel_mm": (10, 2000),
            "engage_mm": (1, 2000),
            "home_speed_mm_s": (1, 200),
            "pull_off_mm": (1, 50),
            "step_pulse_ns": (20, 100000),
            "dir_setup_ns": (20, 100000),
            "jerk_mm_s3": (0, 10000000),
            "home_debounce_samples": (1, 20),
        },
        "gripper": {  # a "dc" gripper has keys of its own: railbot/config_dc.py
            "kind": _one_of("servo", "dc"),
            "open_us": (500, 2500),
            "closed_us": (500, 2500),
            "move_timeout_ms": (100, 10000),
        },
        "pick_place": {
            "present_timeout_ms": (10, 5000),  # a unit in reach / in the jaws after the lift or the jaws arrive
            "grip_tries": (1, 5),
            "unlatch_tries": (1, 5),
            "latch_tries": (1, 5),
            "relatch_drop_mm": (1, 50),  # down this far and up again for another latch try
            "retry_pause_ms": (0, 5000),
        },
        "timing": {
            "tick_ms": (1, 100),
            "idle_tick_ms": (1, 1000),
            "watchdog_ms": (100, WATCHDOG_MS_MAX),
            "stall_ms": (10, 10000),
            "latch_timeout_ms": (100, 30000),
            "pio_hz": (10000000, 133000000),
            "estop_relay_ms": (100, 30000),  # the safety relay's delay: driver power off after the chain opens
        },
        "site": {
            "stations": {
                "first_id": (1, MARKER_ID_MAX),
                "count": (1, MARKER_ID_MAX),
                "first_x_mm": (0, 200000),
                "pitch_mm": (100, 20000),
            },
            "docks": _ListOf({"id": (1, MARKER_ID_MAX), "x_mm": (0, 200000)}, 0, 8),
            "units": _ListOf({"id": (1, 99), "port": _nonempty_str}, 0, 99),
        },
    }


def _show(v):
    t = type(v)
    if t is bool:
        return "bool " + ("true" if v else "false")
    if v is None:
        return "null"
    if t is float:
        return "float " + repr(v)
    if t is str:
        return "string " + repr(v)
    if t is list:
        return "a list"
    if t is dict:
        return "an object"
    return repr(v)


def _walk(value, node, key, path):
    t = type(node)
    if t is tuple:
        # type() and not isinstance(): a bool is an int to isinstance().
        if type(value) is not int:
            _fail(path, key, "expected an int, got " + _show(value))
        if value < node[0]:
            _fail(path, key, "%d is below the minimum %d" % (value, node[0]))
        if value > node[1]:
            _fail(path, key, "%d is above the maximum %d" % (value, node[1]))
    elif t is dict:
        if type(value) is not dict:
            _fail(path, key, "expected an object, got " + _show(value))
        prefix = key + "." if key else ""
        for k in value:
            if k not in node:
                _fail(path, prefix + k, "unknown key")
        for k in node:
            if k not in value:
                _fail(path, prefix + k, "missing key")
            _walk(value[k], node[k], prefix + k, path)
    elif isinstance(node, _ListOf):
        if type(value) is not list:
            _fail(path, key, "expected a list, got " + _show(value))
        if not node.min_len <= len(value) <= node.max_len:
            _fail(path, key, "%d items, expected %d..%d" % (len(value), node.min_len, node.max_len))
        for i in range(len(value)):
            _walk(value[i], node.item, "%s[%d]" % (key, i), path)
    else:
        msg = node(value)
        if msg:
            _fail(path, key, msg)


def _is_port(name, bay_count, dock_ids):
    if name[:1] == "B":
        return 1 <= _uint(name[1:]) <= bay_count
    if name[:1] == "D" and name[-1:] in ("L", "R"):
        return _uint(name[1:-1]) in dock_ids
    return False


def _check_motion(r, path):
    x = r["x"]
    z = r["z"]
    for axis, a in (("x", x), ("z", z)):
        if a["home_speed_mm_s"] > a["v_max_mm_s"]:
            _fail(path, axis + ".home_speed_mm_s", "%d exceeds %s.v_max_mm_s %d"
                  % (a["home_speed_mm_s"], axis, a["v_max_mm_s"]))
        rate = a["v_max_mm_s"] * a["steps_per_mm"]
        if rate > STEP_RATE_MAX:
            _fail(path, axis + ".v_max_mm_s", "%d steps/s at %s.steps_per_mm %d exceeds %d"
                  % (rate, axis, a["steps_per_mm"], STEP_RATE_MAX))
        if rate > PLANNER_RATE_MAX:
            _fail(path, axis + ".v_max_mm_s", "%d steps/s at %s.steps_per_mm %d exceeds the planner's %d"
                  % (rate, axis, a["steps_per_mm"], PLANNER_RATE_MAX))
        jerk = a["jerk_mm_s3"] * a["steps_per_mm"]
        if 0 < jerk < PLANNER_JERK_MIN:
            _fail(path, axis + ".jerk_mm_s3", "%d steps/s^3 at %s.steps_per_mm %d is below the planner's %d "
                  "(0 turns the jerk limit off)" % (jerk, axis, a["steps_per_mm"], PLANNER_JERK_MIN))
        acc = a["a_max_mm_s2"] * a["steps_per_mm"]
        if acc < PLANNER_ACCEL_MIN:
            _fail(path, axis + ".a_max_mm_s2", "%d steps/s^2 at %s.steps_per_mm %d is below the planner's %d"
                  % (acc, axis, a["steps_per_mm"], PLANNER_ACCEL_MIN))
    if r["timing"]["pio_hz"] % 1000000:
        _fail(path, "timing.pio_hz", "%d is not a whole number of MHz" % r["timing"]["pio_hz"])
    if x["locate_speed_mm_s"] > x["home_speed_mm_s"]:
        _fail(path, "x.locate_speed_mm_s", "%d exceeds x.home_speed_mm_s %d"
              % (x["locate_speed_mm_s"], x["home_speed_mm_s"]))
    # Arriving at a station must leave its marker readable.
    if x["arrive_tolerance_mm"] > x["marker_window_mm"]:
        _fail(path, "x.arrive_tolerance_mm", "%d exceeds x.marker_window_mm %d"
              % (x["arrive_tolerance_mm"], x["marker_window_mm"]))
    # A dead measuring wheel must show as ENCODER_FAULT before it shows as a following error.
    if x["encoder_fault_mm"] >= x["following_error_max_mm"]:
        _fail(path, "x.encoder_fault_mm", "%d is not below x.following_error_max_mm %d"
              % (x["encoder_fault_mm"], x["following_error_max_mm"]))
    if x["creep_speed_mm_s"] > x["v_max_mm_s"]:
        _fail(path, "x.creep_speed_mm_s", "%d exceeds x.v_max_mm_s %d" % (x["creep_speed_mm_s"], x["v_max_mm_s"]))
    if z["engage_mm"] >= z["travel_mm"]:
        _fail(path, "z.engage_mm", "%d is not below z.travel_mm %d" % (z["engage_mm"], z["travel_mm"]))
    g = r["gripper"]
    if g["kind"] == "servo" and g["open_us"] == g["closed_us"]:
        _fail(path, "gripper.closed_us", "%d equals gripper.open_us" % g["closed_us"])
    t = r["timing"]
    if t["idle_tick_ms"] < t["tick_ms"]:
        _fail(path, "timing.idle_tick_ms", "%d is below timing.tick_ms %d" % (t["idle_tick_ms"], t["tick_ms"]))
    # E-stop, stop category 1 (PRODUCT.md rule 4): each axis must ramp down from its top speed before
    # the safety relay cuts driver power (docs/safety.md, "E-stop and limits").
    for axis in ("x", "z"):
        a = r[axis]
        stop_ms = a["v_max_mm_s"] * 1000 // a["a_max_mm_s2"]
        if a["jerk_mm_s3"]:
            stop_ms += a["a_max_mm_s2"] * 1000 // a["jerk_mm_s3"]
        if stop_ms + ESTOP_MARGIN_MS > t["estop_relay_ms"]:
            _fail(path, "timing.estop_relay_ms", "%d is too short: %s stops from %s.v_max_mm_s %d in %d ms "
                  "(+ %d ms margin)" % (t["estop_relay_ms"], axis, axis, a["v_max_mm_s"], stop_ms, ESTOP_MARGIN_MS))
    # The idle tick feeds the watchdog: one late tick must not reset the board.
    if t["watchdog_ms"] < 2 * t["idle_tick_ms"]:
        _fail(path, "timing.watchdog_ms", "%d is below 2 * timing.idle_tick_ms %d"
              % (t["watchdog_ms"], 2 * t["idle_tick_ms"]))


def _check_site(r, path):
    travel = r["x"]["travel_mm"]
    gap_min = 2 * r["x"]["marker_window_mm"]
    st = r["site"]["stations"]
    first, count = st["first_id"], st["count"]
    if first + count - 1 > MARKER_ID_MAX:
        _fail(path, "site.stations.count", "station ids %d..%d exceed %d"
              % (first, first + count - 1, MARKER_ID_MAX))
    if st["first_x_mm"] > travel:
        _fail(path, "site.stations.first_x_mm", "%d is beyond x.travel_mm %d" % (st["first_x_mm"], travel))
    last_x = st["first_x_mm"] + (count - 1) * st["pitch_mm"]
    if last_x > travel:
        _fail(path, "site.stations.pitch_mm", "station %d at %d mm is beyond x.travel_mm %d"
              % (first + count - 1, last_x, travel))
    if count > 1 and st["pitch_mm"] < gap_min:
        _fail(path, "site.stations.pitch_mm", "%d is below 2 * x.marker_window_mm %d" % (st["pitch_mm"], gap_min))
    # Every marker: (x_mm, what, key that placed it).
    markers = [(st["first_x_mm"] + i * st["pitch_mm"], "station %d" % (first + i), "site.stations")
               for i in range(count)]
    docks = r["site"]["docks"]
    dock_ids = []
    for i in range(len(docks)):
        d = docks[i]
        key = "site.docks[%d]" % i
        if d["x_mm"] > travel:
            _fail(path, key + ".x_mm", "%d is beyond x.travel_mm %d" % (d["x_mm"], travel))
        if first <= d["id"] < first + count:
            _fail(path, key + ".id", "%d is already station %d" % (d["id"], d["id"]))
        if d["id"] in dock_ids:
            _fail(path, key + ".id", "%d is already a dock" % d["id"])
        dock_ids.append(d["id"])
        markers.append((d["x_mm"], "dock %d" % d["id"], key))
    markers.sort()
    for i in range(1, len(markers)):
        a, b = markers[i - 1], markers[i]
        if b[0] - a[0] < gap_min:
            # Two stations are never this close (pitch checked above), so one is a dock.
            key = b[2] if b[2] != "site.stations" else a[2]
            _fail(path, key + ".x_mm", "%s at %d mm and %s at %d mm are closer than"
                  " 2 * x.marker_window_mm %d" % (a[1], a[0], b[1], b[0], gap_min))
    units = r["site"]["units"]
    holder = {}  # port -> unit id
    unit_ids = []
    for i in range(len(units)):
        u = units[i]
        key = "site.units[%d]" % i
        if u["id"] in unit_ids:
            _fail(path, key + ".id", "unit %d listed twice" % u["id"])
        unit_ids.append(u["id"])
        port = u["port"]
        if not _is_port(port, 2 * count, dock_ids):
            _fail(path, key + ".port", "%r is not a port (B1..B%d, D<dock id>L, D<dock id>R)" % (port, 2 * count))
        if port in holder:
            _fail(path, key + ".port", "port %s already holds unit %d" % (port, holder[port]))
        holder[port] = u["id"]


def load_robot(path):
    """Read robot.json at `path`, validate it against its schema and the cross-checks, return the dict."""
    text = _read(path)
    try:
        r = json.loads(text)
    except ValueError as e:
        raise ConfigError(path + ": bad JSON: " + str(e))
    except (RuntimeError, MemoryError):  # CPython's recursion limit; the board's parser stack outgrows the heap
        raise ConfigError(path + ": bad JSON: nested too deep (or too big for the heap)")
    return check_robot(r, path)


def check_robot(r, path):
    """Validate board data `r` (as read from `path`) against the schema and the cross-checks; r."""
    schema = _schema()
    dc = type(r) is dict and type(r.get("gripper")) is dict and r["gripper"].get("kind") == "dc"
    if dc:
        from railbot import config_dc  # only boards with a DC gripper pay for its checks

        schema = config_dc.schema(schema)
    _walk(r, schema, "", path)
    _check_motion(r, path)
    if dc:
        config_dc.check(r["gripper"], path)
    _check_site(r, path)
    return r


def lookup(r, key):
    """The value at dotted `key` of board data r ("x.v_max_mm_s", "site.units.0.port"); KeyError."""
    node = r
    for part in key.split("."):
        if type(node) is dict and part in node:
            node = node[part]
        elif type(node) is list and 0 <= _uint(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node


def with_value(r, key, text, path):
    """A copy of board data r with dotted `key` set to `text` (read as the type the key holds now),
    validated as a whole; ConfigError naming the key if not (r is never changed)."""
    new = json.loads(json.dumps(r))
    i = key.rfind(".")
    last = key[i + 1:]
    try:
        parent = lookup(new, key[:i]) if i >= 0 else new
        old = lookup(parent, last)
    except KeyError:
        _fail(path, key, "no such key")
    if type(old) is int:
        n = _uint(text[1:] if text[:1] == "-" else text)
        if n < 0:
            _fail(path, key, "expected an int, got %r" % text)
        value = -n if text[:1] == "-" else n
    elif type(old) is str:
        value = text
    else:
        _fail(path, key, "is %s: set the keys inside it" % _show(old))
    parent[int(last) if type(parent) is list else last] = value
    return check_robot(new, path)


def save_robot(r, path):
    """Write board data r to `path` whole or not at all (a new file, then a rename)."""
    import os

    tmp = path + ".new"
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(r))
        try:
            os.rename(tmp, path)
        except OSError:  # a file system whose rename does not replace (FAT)
            os.remove(path)
            os.rename(tmp, path)
    except OSError as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise ConfigError(path + ": cannot write: " + str(e))


def load_board(folder):
    """Load `folder`/robot.json and `folder`/pins.csv (all of PIN_NAMES, and DC_GRIP_PINS for a DC
    gripper; pins of the board's pin_names, each peripheral's on a pin it can use); return (robot, pins)."""
    if folder.endswith("/"):
        folder = folder[:-1]
    robot = load_robot(folder + "/robot.json")
    pins = load_pins(folder + "/pins.csv", PIN_NAMES, DC_GRIP_PINS + LINK_PINS, robot["pin_names"])
    check_peripheral_pins(pins, folder + "/pins.csv")
    if robot["gripper"]["kind"] == "dc":
        from railbot import config_dc

        config_dc.check_pins(pins, folder + "/pins.csv")
    return robot, pins
