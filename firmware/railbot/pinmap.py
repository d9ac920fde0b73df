"""A board's pins.csv: the pin names the firmware uses, the RP2040's pin functions, and the checks
that each peripheral sits on a pin that can do its job; every error names the file and the pin.
Also what both board data loaders share (robot.json's is railbot/config.py): ConfigError, reading
a file, failing with the file and the key named."""
from railbot.grammar import canonical as _uint


class ConfigError(Exception):
    pass


def fail(path, key, msg):
    if key:
        raise ConfigError(path + ": " + key + ": " + msg)
    raise ConfigError(path + ": " + msg)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise ConfigError(path + ": cannot read: " + str(e))
    except UnicodeError:
        raise ConfigError(path + ": cannot read: not UTF-8 text")
    except MemoryError:  # a file bigger than the heap's largest free block
        raise ConfigError(path + ": cannot read: too big for the heap")

# Every pin name the firmware uses; a board's pins.csv must name each exactly once.
PIN_NAMES = (
    "x_step", "x_dir", "x_enable", "x_diag", "enc_a", "enc_b",
    "home_sw", "limit_min", "limit_max", "marker_rx",
    "z_step", "z_dir", "z_enable", "z_stow_sw",
    "grip_pwm", "jaw_open_sw", "jaw_closed_sw", "unit_present_sw", "holster_sw", "cp_adc",
    "side_sel", "unlatch", "port_latched_sw", "port_occupied_sw",
    "estop_in",
)
# Pins only a DC gear-motor gripper uses (gripper.kind "dc"): H-bridge direction, motor current (ADC).
DC_GRIP_PINS = ("grip_dir", "grip_isense")
# The host link on a UART (docs/protocol.md), besides the USB: both pins or neither.
LINK_PINS = ("link_tx", "link_rx")
# The pin names a board's MicroPython build gives Pin(name) (robot.json pin_names): only the pins the
# board brings out, as GPIO numbers named GP<n>. RPI_PICO: MicroPython 1.28 ports/rp2/boards/RPI_PICO/
# pins.csv (GP23, GP24 and GP29 are not on the header, Pin("GP23") raises there; GP25 is the LED).
# GP0-29: a board that brings out all 30 GPIOs under those names (the simulated board, boards/SIM).
PIN_TABLES = {
    "RPI_PICO": tuple(range(23)) + (25, 26, 27, 28),
    "GP0-29": tuple(range(30)),
}
# RP2040 pin functions (datasheet 1.4.3, MicroPython's ports/rp2/boards/rp2040_af.csv): the UART a
# TX pin belongs to (its RX pin is the next one), the UART of each RX pin, the ADC inputs; PWM slice
# (gpio >> 1) & 7, channel gpio & 1 (A, B).
UART_OF_TX = {0: 0, 12: 0, 16: 0, 28: 0, 4: 1, 8: 1, 20: 1, 24: 1}
UART_OF_RX = {1: 0, 13: 0, 17: 0, 29: 0, 5: 1, 9: 1, 21: 1, 25: 1}
ADC_PINS = (26, 27, 28, 29)
# Pins driven by machine.PWM: no two on one slice and channel (they would be one output).
PWM_PINS = ("grip_pwm",)


def _gpio(pin):
    # "GP<n>" -> n (canonical decimal), else -1
    return _uint(pin[2:]) if pin[:2] == "GP" else -1


def _show_table(table):
    # (0, 1, ..., 22, 25, 26) -> "GP0..GP22, GP25..GP26"
    runs = []
    for n in table:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join("GP%d" % a if a == b else "GP%d..GP%d" % (a, b) for a, b in runs)


def load_pins(path, required=None, optional=(), names="GP0-29"):
    """Read pins.csv (`name,pin` lines) at `path`; with `required`, exactly those names (and any of
    `optional`); every pin one of the board's PIN_TABLES[names]. Returns name -> pin."""
    table = PIN_TABLES[names]
    pins = {}
    line_of = {}  # name -> line number
    owner = {}  # pin -> name
    n = 0
    for line in read(path).split("\n"):
        n += 1
        line = line.strip()
        if not line or line[0] == "#":
            continue
        where = "%s:%d" % (path, n)
        parts = line.split(",")
        name = parts[0].strip()
        pin = parts[-1].strip()
        if len(parts) != 2 or not name or not pin:
            raise ConfigError(where + ": expected name,pin, got %r" % line)
        if name in pins:
            raise ConfigError(where + ": " + name + ": duplicate pin name (first on line %d)" % line_of[name])
        if required is not None and name not in required and name not in optional:
            raise ConfigError(where + ": " + name + ": unknown pin name")
        if _gpio(pin) not in table:
            raise ConfigError(where + ": " + name + ": %r is not a pin of %s (%s)" % (pin, names, _show_table(table)))
        if pin in owner:
            raise ConfigError(where + ": " + name + ": pin %s already used by %s" % (pin, owner[pin]))
        pins[name] = pin
        line_of[name] = n
        owner[pin] = name
    if required is not None:
        for name in required:
            if name not in pins:
                raise ConfigError(path + ": " + name + ": missing pin")
    return pins


def _uart_pins(uarts):
    # {pin: uart} -> "UART0: GP1, 13, 17, 29; UART1: GP5, 9, 21, 25"
    parts = []
    for u in (0, 1):
        parts.append("UART%d: GP%s" % (u, ", ".join(str(p) for p in sorted(uarts) if uarts[p] == u)))
    return "; ".join(parts)


def check_pwm(pins, users, path):
    """No two of the pins named in `users` on one PWM slice and channel (RP2040: slice (gpio >> 1) & 7,
    channel gpio & 1): they would be the same output."""
    seen = {}  # (slice, channel) -> name
    for name in users:
        if name not in pins:
            continue
        g = _gpio(pins[name])
        key = ((g >> 1) & 7, g & 1)
        if key in seen:
            fail(path, name, "%s is PWM slice %d channel %s, as %s %s" % (
                pins[name], key[0], "AB"[key[1]], seen[key], pins[seen[key]]))
        seen[key] = name


def check_peripheral_pins(pins, path):
    rx = pins["marker_rx"]
    if _gpio(rx) not in UART_OF_RX:
        fail(path, "marker_rx", "%s is not a UART RX pin (%s)" % (rx, _uart_pins(UART_OF_RX)))
    adc = pins["cp_adc"]
    if _gpio(adc) not in ADC_PINS:
        fail(path, "cp_adc", "%s is not an ADC pin (GP26..GP29)" % adc)
    check_pwm(pins, PWM_PINS, path)
    tx, rx = pins.get("link_tx"), pins.get("link_rx")
    if tx is None and rx is None:
        return
    if tx is None or rx is None:
        fail(path, "link_rx" if rx is None else "link_tx", "missing pin: the UART link needs link_tx and link_rx")
    n = _gpio(tx)
    if n not in UART_OF_TX:
        fail(path, "link_tx", "%s is not a UART TX pin (%s)" % (tx, _uart_pins(UART_OF_TX)))
    if rx != "GP%d" % (n + 1):
        fail(path, "link_rx", "%s is not the RX pin of %s's UART (GP%d)" % (rx, tx, n + 1))
    if UART_OF_TX[n] == uart_of_rx(pins["marker_rx"]):
        fail(path, "link_tx", "%s is on UART%d, which marker_rx %s uses" % (tx, UART_OF_TX[n], pins["marker_rx"]))


def uart_of(pins):
    """The UART id of the board's link pins (pins.csv link_tx, link_rx), or -1 if it has none."""
    tx = pins.get("link_tx")
    return -1 if tx is None else UART_OF_TX[_gpio(tx)]


def uart_of_rx(pin):
    """The UART id whose RX the pin ("GP13") can be (load_board checked marker_rx is one)."""
    return UART_OF_RX[_gpio(pin)]
