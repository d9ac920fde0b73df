"""railbot_host.cpu_costs: the cost table against the chip's figures (drift, the bench bound, rewriting it)."""
import json
import shutil

import pytest

from railbot_host import bench, cpu_costs, silicon_bench as sb

CHIP = {"si_tick_cost_us_idle": 779, "si_cost_tick_move_us": 1320.7, "si_cost_step_word_us": 25.7,
        "si_cost_pilot_reading_total_us": 2568, "si_cost_marker_line_us": 866, "si_link_frame_us": 2861,
        "si_cost_save_cpu_us": 10752.6}


def test_the_measured_costs_come_from_the_chips_figures_never_from_the_table():
    meas = cpu_costs.measured(CHIP, capture_us=1082)
    assert meas["pilot_reading_us"] == 2568 - 1082 and meas["tick_rest_us"] == 779
    assert sorted(meas) == sorted(cpu_costs.SOURCES)
    assert cpu_costs.measured({}, capture_us=0) == {}


def test_the_simulated_capture_is_timed_on_the_simulated_board():
    assert 1082 <= cpu_costs.sim_capture_us() <= 1082 + 24  # 46 samples 24 us apart, no CPU charged


def test_drift_per_entry_and_its_max_against_the_bound():
    charged = {"tick_rest_us": 779, "link_frame_us": 2861}
    d = cpu_costs.drift(charged, {"tick_rest_us": 779, "link_frame_us": 2000})
    assert d["cpu_cost_drift_pct_tick_rest_us"] == 0.0
    assert d["cpu_cost_drift_pct_link_frame_us"] == 43.0 and d["cpu_cost_drift_max_pct"] == 43.0
    assert bench.check("cpu_cost_drift_max_pct", d["cpu_cost_drift_max_pct"]) is False
    assert bench.check("cpu_cost_drift_max_pct", 20) is True
    # an entry the chip did not measure: no max, and the bench fails on the missing figure
    d = cpu_costs.drift(charged, {"tick_rest_us": 779})
    assert "cpu_cost_drift_max_pct" not in d and "cpu_cost_drift_max_pct" in bench.failures(d)


def test_derive_adds_the_drift_of_the_boards_table_and_reports_a_bad_table(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_costs, "sim_capture_us", lambda: 1082)
    fig = dict(CHIP)
    assert cpu_costs.derive(fig) == []
    assert fig["cpu_cost_drift_max_pct"] <= 20 and len([k for k in fig if k.startswith("cpu_cost_drift_pct_")]) == 7
    bad = tmp_path / "cpu_costs.json"
    bad.write_text(json.dumps({"tick_rest_us": {"us": -5, "measured": "x"}}))
    errs = cpu_costs.derive(dict(CHIP), bad)
    assert len(errs) == 1 and "cpu_costs.json" in errs[0] and "tick_rest_us" in errs[0]
    assert cpu_costs.derive({}) == []  # no si_ figure at all: nothing to compare (the bound fails)


def test_write_table_rewrites_the_us_and_keeps_where_measured(tmp_path):
    path = tmp_path / "cpu_costs.json"
    shutil.copy(cpu_costs.TABLE, path)
    meas = cpu_costs.measured(CHIP, capture_us=1082)
    meas["link_frame_us"] = 3000.4
    changed = cpu_costs.write_table(meas, path)
    assert changed == ["link_frame_us: 2861 -> 3000"]
    t = json.loads(path.read_text())
    assert t["link_frame_us"]["us"] == 3000 and "si_parts.py" in t["link_frame_us"]["measured"]
    del meas["save_cpu_us"]
    with pytest.raises(ValueError, match="save_cpu_us"):
        cpu_costs.write_table(meas, path)


def test_the_word_fit_recovers_a_line_and_refuses_one_point():
    # ticks of 0..3 words at 1300 + 33 us a word
    ticks = [10, 20, 5, 1]
    us = [t * (1300 + 33 * k) for k, t in enumerate(ticks)]
    assert sb.words_fit(ticks, us) == {"cost_step_word_us": 33.0, "cost_tick_move_us": 1300.0}
    with pytest.raises(sb.SiliconBenchError):
        sb.words_fit([0, 12], [0, 12 * 1333])
