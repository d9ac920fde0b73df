"""Tests of railbot.config: shipped boards load, bad board data fails naming file and key."""
import json
import os

from railbot import config
from railbot.config import ConfigError, load_board, load_pins, load_robot
from support import REPO, raises, tmp_path, write_tmp

SIM = REPO + "/boards/SIM"
PICO = REPO + "/boards/PICO"


def _sim_robot():
    with open(SIM + "/robot.json") as f:
        return json.load(f)


def _robot_error(robot, name="robot.json"):
    # Write `robot` to a temp file, load it, return the ConfigError's message.
    path = write_tmp(name, json.dumps(robot))
    return str(raises(ConfigError, load_robot, path))


def _pins_error(text, name="pins.csv", required=config.PIN_NAMES):
    path = write_tmp(name, text)
    return str(raises(ConfigError, load_pins, path, required))


def _sim_pins_text():
    with open(SIM + "/pins.csv") as f:
        return f.read()


def test_sim_board_loads():
    robot, pins = load_board(SIM)
    assert robot["board"] == "SIM"
    assert robot["x"]["travel_mm"] == 60000
    assert len(robot["site"]["units"]) == 6
    assert sorted(pins) == sorted(config.PIN_NAMES)


def test_pico_board_loads_with_sim_mechanics_and_site():
    robot, pins = load_board(PICO + "/")
    sim, _ = load_board(SIM)
    assert robot["board"] == "PICO"
    assert robot["pin_names"] == "RPI_PICO" and sim["pin_names"] == "GP0-29"
    sim["board"] = "PICO"
    sim["pin_names"] = "RPI_PICO"
    assert robot == sim
    assert sorted(pins) == sorted(config.PIN_NAMES)
    assert pins["cp_adc"] in ("GP26", "GP27", "GP28")


def test_pin_names_are_the_sim_pins():
    names = [line.split(",")[0] for line in _sim_pins_text().split("\n") if line]
    assert sorted(names) == sorted(config.PIN_NAMES)
    assert len(set(config.PIN_NAMES)) == len(config.PIN_NAMES)


def test_unknown_key():
    r = _sim_robot()
    r["x"]["v_max_mms"] = 1000
    msg = _robot_error(r, "unknown_key.json")
    assert "unknown_key.json" in msg and "x.v_max_mms" in msg and "unknown key" in msg


def test_missing_key():
    r = _sim_robot()
    del r["timing"]["stall_ms"]
    msg = _robot_error(r, "missing_key.json")
    assert "missing_key.json" in msg and "timing.stall_ms" in msg and "missing key" in msg


def test_float_is_not_an_int():
    r = _sim_robot()
    r["x"]["steps_per_mm"] = 20.5
    msg = _robot_error(r, "float.json")
    assert "float.json" in msg and "x.steps_per_mm" in msg and "float" in msg


def test_bool_is_not_an_int():
    r = _sim_robot()
    r["z"]["pull_off_mm"] = True
    msg = _robot_error(r, "bool.json")
    assert "bool.json" in msg and "z.pull_off_mm" in msg and "bool" in msg


def test_out_of_range_names_the_bound():
    r = _sim_robot()
    r["x"]["v_max_mm_s"] = 0
    msg = _robot_error(r, "range.json")
    assert msg == write_tmp("range.json", json.dumps(r)) + ": x.v_max_mm_s: 0 is below the minimum 1"
    r["x"]["v_max_mm_s"] = 5001
    msg = _robot_error(r, "range.json")
    assert "x.v_max_mm_s" in msg and "maximum 5000" in msg


def test_bad_gripper_kind_and_board():
    r = _sim_robot()
    r["gripper"]["kind"] = "magnet"
    msg = _robot_error(r, "kind.json")
    assert "kind.json" in msg and "gripper.kind" in msg and "magnet" in msg
    r = _sim_robot()
    r["board"] = ""
    assert "board" in _robot_error(r, "board.json")


def test_cross_checks_of_mechanics():
    r = _sim_robot()
    r["z"]["engage_mm"] = r["z"]["travel_mm"]
    assert "z.engage_mm" in _robot_error(r)
    r = _sim_robot()
    r["gripper"]["closed_us"] = r["gripper"]["open_us"]
    assert "gripper.closed_us" in _robot_error(r)
    r = _sim_robot()
    r["timing"]["watchdog_ms"] = r["timing"]["idle_tick_ms"]
    assert "timing.watchdog_ms" in _robot_error(r)
    r = _sim_robot()
    r["x"]["steps_per_mm"] = 1000
    assert "x.v_max_mm_s" in _robot_error(r)


def test_planner_limits():
    r = _sim_robot()
    r["x"]["v_max_mm_s"] = 1700  # 34 000 steps/s: v*v would not be a small int
    assert "x.v_max_mm_s" in _robot_error(r) and "planner" in _robot_error(r)
    r = _sim_robot()
    r["z"]["a_max_mm_s2"] = 40  # 1 600 steps/s^2: a ramp's last step would not fit one word
    assert "z.a_max_mm_s2" in _robot_error(r)
    r = _sim_robot()
    r["x"]["jerk_mm_s3"] = 5000  # 100 000 steps/s^3: the S-curve's last step would not fit one word
    msg = _robot_error(r)
    assert "x.jerk_mm_s3" in msg and "0 turns the jerk limit off" in msg
    r["x"]["jerk_mm_s3"] = 8000  # 160 000: the least
    load_robot(write_tmp("jerk.json", json.dumps(r)))
    r = _sim_robot()
    r["timing"]["pio_hz"] = 125500000
    assert "timing.pio_hz" in _robot_error(r) and "MHz" in _robot_error(r)


def test_stations_and_docks_on_the_rail():
    r = _sim_robot()
    r["site"]["stations"]["pitch_mm"] = 2800
    msg = _robot_error(r, "site.json")
    assert "site.json" in msg and "site.stations.pitch_mm" in msg and "x.travel_mm" in msg
    r = _sim_robot()
    r["site"]["docks"][3]["x_mm"] = 60001
    assert "site.docks[3].x_mm" in _robot_error(r)


def test_marker_ids_unique_and_apart():
    r = _sim_robot()
    r["site"]["docks"][0]["id"] = 5
    assert "site.docks[0].id" in _robot_error(r)
    r = _sim_robot()
    r["site"]["docks"][1]["id"] = r["site"]["docks"][0]["id"]
    assert "site.docks[1].id" in _robot_error(r)
    r = _sim_robot()
    r["site"]["docks"][1]["x_mm"] = 1980  # station 1 is at 2000, window 15
    msg = _robot_error(r)
    assert "site.docks[1].x_mm" in msg and "marker_window_mm" in msg


def test_bad_port_names():
    for port in ("B0", "B45", "B01", "D99L", "D24", "D24X", "X1", "b1"):
        r = _sim_robot()
        r["site"]["units"][2]["port"] = port
        msg = _robot_error(r, "port.json")
        assert "port.json" in msg and "site.units[2].port" in msg and port in msg, msg


def test_good_port_names():
    r = _sim_robot()
    r["site"]["units"][0]["port"] = "B44"
    r["site"]["units"][1]["port"] = "B1"
    r["site"]["units"][2]["port"] = "D27R"
    load_robot(write_tmp("ports.json", json.dumps(r)))


def test_two_units_on_one_port():
    r = _sim_robot()
    r["site"]["units"][3]["port"] = r["site"]["units"][0]["port"]
    msg = _robot_error(r, "twice.json")
    assert "twice.json" in msg and "site.units[3].port" in msg and "unit 1" in msg


def test_duplicate_unit_id():
    r = _sim_robot()
    r["site"]["units"][4]["id"] = 2
    assert "site.units[4].id" in _robot_error(r)


def test_malformed_json():
    path = write_tmp("broken.json", '{"board": "SIM", "x": {')
    msg = str(raises(ConfigError, load_robot, path))
    assert "broken.json" in msg and "JSON" in msg


def test_missing_file():
    msg = str(raises(ConfigError, load_robot, REPO + "/boards/NONE/robot.json"))
    assert "boards/NONE/robot.json" in msg


def test_pins_comments_and_blank_lines():
    pins = load_pins(write_tmp("ok.csv", "# a comment\n\nx_step, GP2\r\nx_dir,GP3\n"))
    assert pins == {"x_step": "GP2", "x_dir": "GP3"}


def test_duplicate_pin():
    msg = _pins_error(_sim_pins_text().replace("x_dir,GP3", "x_dir,GP2"), "dup_pin.csv")
    assert "dup_pin.csv:2:" in msg and "x_dir" in msg and "x_step" in msg


def test_duplicate_pin_name():
    msg = _pins_error("x_step,GP2\nx_step,GP3\n", "dup_name.csv", None)
    assert "dup_name.csv:2:" in msg and "x_step" in msg


def test_malformed_csv_line():
    for bad in ("x_step GP2", "x_step,GP2,GP3", ",GP2", "x_step,"):
        msg = _pins_error("x_dir,GP3\n" + bad + "\n", "bad_line.csv", None)
        assert "bad_line.csv:2:" in msg, msg


def test_bad_pin_form():
    for bad in ("GP30", "GP", "GP02", "gp2", "D2", "GP-1"):
        msg = _pins_error("x_step," + bad + "\n", "form.csv", None)
        assert "form.csv:1:" in msg and "x_step" in msg and bad in msg, msg


def test_unknown_pin_name():
    msg = _pins_error(_sim_pins_text() + "x_brake,GP27\n", "unknown.csv")
    assert "unknown.csv:26:" in msg and "x_brake" in msg and "unknown pin name" in msg


def test_missing_pin():
    text = _sim_pins_text().replace("holster_sw,GP22\n", "")
    msg = _pins_error(text, "missing.csv")
    assert "missing.csv" in msg and "holster_sw" in msg and "missing pin" in msg


# -- pins: the board's real names, and what each peripheral can use ------------------------------

_folders = [0]


def _board_with(pins_text, pin_names=None):
    """A folder with the SIM board's robot.json (pin_names replaced if given) and `pins_text`."""
    import os

    _folders[0] += 1
    folder = write_tmp("pinboard%d" % _folders[0], "")
    os.remove(folder)
    os.mkdir(folder)
    r = _sim_robot()
    if pin_names is not None:
        r["pin_names"] = pin_names
    with open(folder + "/robot.json", "w") as f:
        f.write(json.dumps(r))
    with open(folder + "/pins.csv", "w") as f:
        f.write(pins_text)
    return folder


def _board_error(pins_text, pin_names=None):
    return str(raises(ConfigError, load_board, _board_with(pins_text, pin_names)))


def _moved(text, name, pin):
    # pins.csv text with `name` moved to `pin`
    lines = [line for line in text.split("\n") if line and not line.startswith(name + ",")]
    return "\n".join(lines) + "\n%s,%s\n" % (name, pin)


def test_pin_names_must_be_a_known_table():
    r = _sim_robot()
    r["pin_names"] = "RPI_PICO_W"
    msg = _robot_error(r, "pin_names.json")
    assert "pin_names" in msg and "RPI_PICO" in msg and "GP0-29" in msg, msg


def test_a_pico_has_no_gp23_gp24_gp29():
    with open(PICO + "/pins.csv") as f:
        pico = f.read()
    for pin in ("GP23", "GP24", "GP29", "GPIO23", "GP30"):
        msg = _board_error(_moved(pico, "side_sel", pin), "RPI_PICO")
        assert "pins.csv:" in msg and "side_sel" in msg and pin in msg and "not a pin of RPI_PICO" in msg, msg
        assert "GP0..GP22, GP25..GP28" in msg, msg
    # the same pins are real on the SIM board (all 30 GPIOs brought out): GP29 is a UART0 RX pin
    robot, pins = load_board(_board_with(_moved(_sim_pins_text(), "marker_rx", "GP29")))
    assert pins["marker_rx"] == "GP29" and config.uart_of_rx("GP29") == 0


def test_marker_rx_must_be_a_uart_rx_pin():
    for pin in ("GP23", "GP24", "GP27"):  # free on the SIM board: no UART, a TX pin, an ADC pin
        msg = _board_error(_moved(_sim_pins_text(), "marker_rx", pin))
        assert "marker_rx: %s is not a UART RX pin (UART0: GP1, 13, 17, 29; UART1: GP5, 9, 21, 25)" % pin in msg, msg
    for pin, uart in (("GP1", 0), ("GP13", 0), ("GP17", 0), ("GP29", 0), ("GP5", 1), ("GP9", 1), ("GP21", 1),
                      ("GP25", 1)):
        assert config.uart_of_rx(pin) == uart


def test_the_link_may_not_share_the_markers_uart():
    # SIM: marker_rx GP13 is UART0; GP28/GP29 are UART0's too (estop_in moved off GP28)
    text = _moved(_sim_pins_text(), "estop_in", "GP27") + "link_tx,GP28\nlink_rx,GP29\n"
    msg = _board_error(text)
    assert "pins.csv: link_tx: GP28 is on UART0, which marker_rx GP13 uses" in msg, msg
    robot, pins = load_board(_board_with(_sim_pins_text() + "link_tx,GP24\nlink_rx,GP25\n"))  # UART1
    assert config.uart_of(pins) == 1


def test_cp_adc_must_be_an_adc_pin():
    msg = _board_error(_moved(_sim_pins_text(), "cp_adc", "GP25"))
    assert "pins.csv: cp_adc: GP25 is not an ADC pin (GP26..GP29)" in msg, msg
    robot, pins = load_board(_board_with(_moved(_sim_pins_text(), "cp_adc", "GP29")))
    assert pins["cp_adc"] == "GP29"


def test_two_pwm_users_on_one_slice_and_channel():
    # RP2040: slice (gpio >> 1) & 7, channel gpio & 1: GP0 and GP16 are both 0A; GP14 is 7A, GP15 7B
    for a, b, clash in (("GP0", "GP16", "PWM slice 0 channel A"), ("GP15", "GP14", None), ("GP0", "GP17", None),
                        ("GP3", "GP19", "PWM slice 1 channel B"), ("GP28", "GP12", "PWM slice 6 channel A")):
        pins = {"grip_pwm": a, "other_pwm": b}
        if clash is None:
            config.check_pwm(pins, ("grip_pwm", "other_pwm"), "pins.csv")
        else:
            msg = str(raises(ConfigError, config.check_pwm, pins, ("grip_pwm", "other_pwm"), "pins.csv"))
            assert msg == "pins.csv: other_pwm: %s is %s, as grip_pwm %s" % (b, clash, a), msg
    assert config.PWM_PINS == ("grip_pwm",)  # the only PWM user today; load_board checks them all


def test_every_shipped_pin_is_a_real_pin_of_its_board():
    checked = 0
    for folder in (SIM, PICO):
        robot, pins = load_board(folder)
        table = config.PIN_TABLES[robot["pin_names"]]
        for name in pins:
            assert int(pins[name][2:]) in table, (folder, name)
            checked += 1
    assert checked == 2 * len(config.PIN_NAMES)


def test_a_board_data_file_that_is_not_text_or_nests_too_deep_is_a_config_error():
    path = tmp_path("robot_bytes.json")
    with open(path, "wb") as f:
        f.write(b'{"x": "\xff\xfe"}')
    msg = str(raises(config.ConfigError, config.load_robot, path))
    assert msg.startswith(path + ": "), msg  # CPython: not UTF-8
    os.remove(path)
    path = tmp_path("robot_deep.json")
    with open(path, "wb") as f:  # 3000 deep, written in pieces: the board tier runs this on a chip's heap
        for c in (b"[" * 100, b"]" * 100):
            for _ in range(30):
                f.write(c)
    msg = str(raises(config.ConfigError, config.load_robot, path))
    os.remove(path)
    assert msg.startswith(path + ": "), msg  # CPython: nested too deep; MicroPython parses it: not an object


def test_a_safety_relay_too_quick_for_the_ramp_down_is_refused():
    # PRODUCT.md rule 4: the e-stop's ramp down from top speed must end before the relay cuts power
    robot = _sim_robot()
    robot["timing"]["estop_relay_ms"] = 2099  # x: 1000 mm/s at 500 mm/s^2 is 2000 ms, + 100 ms margin
    msg = _robot_error(robot)
    assert "timing.estop_relay_ms" in msg and "2099 is too short" in msg and "x.v_max_mm_s 1000" in msg, msg
    robot["timing"]["estop_relay_ms"] = 2100
    load_robot(write_tmp("robot.json", json.dumps(robot)))
    robot["x"]["jerk_mm_s3"] = 8000  # an S-curve adds a/j = 62 ms
    msg = _robot_error(robot)
    assert "in 2062 ms" in msg, msg
    robot["timing"]["estop_relay_ms"] = 2300
    robot["z"]["v_max_mm_s"], robot["z"]["a_max_mm_s2"] = 120, 50  # the lift: 2400 ms
    msg = _robot_error(robot)
    assert "z stops from z.v_max_mm_s 120 in 2400 ms" in msg, msg
