"""Tests of railbot.config: shipped boards load, bad board data fails naming file and key."""
import json

from railbot import config
from railbot.config import ConfigError, load_board, load_pins, load_robot
from support import REPO, raises, write_tmp

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
    sim["board"] = "PICO"
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
