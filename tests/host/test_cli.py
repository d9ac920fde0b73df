"""The `railbot` command line: usage errors exit 2 naming the option; `sim` writes its files; helpers."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from railbot_host import cli, sim, testrun

REPO = Path(__file__).resolve().parents[2]


def _railbot() -> list[str]:
    script = Path(sys.executable).with_name("railbot")  # the console script of the venv
    return [str(script)] if script.exists() else [sys.executable, "-m", "railbot_host.cli"]


@pytest.mark.parametrize("option, value", [
    ("--seed", "-1"), ("--seed", "x"),
    ("--hours", "0"), ("--hours", "169"), ("--hours", "2.5"),
    ("--units", "0"), ("--units", "13"),
    ("--rate", "0.05"), ("--rate", "5.5"), ("--rate", "nan"), ("--rate", "fast"),
])
def test_bad_sim_argument_exits_2_naming_the_option(option, value, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["sim", option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and value in err


@pytest.mark.parametrize("argv", [[], ["fly"], ["test", "--tier", "all"], ["sim", "--bogus"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert "usage: railbot" in capsys.readouterr().err


def test_sim_writes_summary_events_and_timeline(tmp_path):
    out = tmp_path / "sim"
    proc = subprocess.run(_railbot() + ["sim", "--hours", "2", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("requests", "served", "abandoned", "mean_wait_s", "p95_wait_s", "max_wait_s",
                "travel_m", "alarms", "seed", "hours", "units", "rate", "violations", "wall_s",
                "sim_speedup"):
        assert key in summary, key
    assert summary["hours"] == 2 and summary["units"] == 6 and summary["seed"] == 1
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert any(e["ev"] == "homed" for e in events)
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "12 h more with no new cars" in proc.stdout


@pytest.mark.parametrize("units", [1, 6, 7, 12])
def test_robot_config_has_the_units_asked_for(units):
    cfg = sim.robot_config(units)
    got = cfg["site"]["units"]
    assert [u["id"] for u in got] == list(range(1, units + 1))
    assert len({u["port"] for u in got}) == units


def test_failures_name_every_reason():
    s = {"abandoned": 1, "pending": 2, "alarms": 3}
    why = sim.failures(s, ["lift moved while traversing"])
    assert len(why) == 4 and "abandoned" in why[0] and "unserved" in why[1]
    assert "alarm" in why[2] and "lift moved" in why[3]
    assert sim.failures({"abandoned": 0, "pending": 0, "alarms": 0}, []) == []


def _proc(stdout, rc=0):
    return subprocess.CompletedProcess([], rc, stdout=stdout, stderr="")


def test_mission_comparison_counts_differing_lines(tmp_path, capsys):
    same = testrun.compare_missions(_proc("a\nb\n"), _proc("a\nb\n"), out_dir=tmp_path)
    assert same.ok and same.counts == "2 lines, 0 differ"
    diff = testrun.compare_missions(_proc("a\nb\nc\n"), _proc("a\nB\n"), out_dir=tmp_path)
    assert not diff.ok and diff.counts == "3 lines, 2 differ"
    out = capsys.readouterr().out
    assert "line 2:" in out and "<missing>" in out
    assert (tmp_path / "mission_micropython.jsonl").read_text() == "a\nB\n"
    failed = testrun.compare_missions(_proc("a\n"), _proc("a\n", rc=1), out_dir=tmp_path)
    assert not failed.ok


def test_mission_comparison_against_the_committed_log(tmp_path, capsys):
    want = tmp_path / "expected"
    want.write_text("a\nb\n")
    assert testrun.compare_missions(_proc("a\nb\n"), _proc("a\nb\n"), out_dir=tmp_path, expected=want).ok
    moved = testrun.compare_missions(_proc("a\nc\n"), _proc("a\nc\n"), out_dir=tmp_path, expected=want)
    assert not moved.ok and "1 differ from the committed log" in moved.counts
    assert "expected: b" in capsys.readouterr().out
    gone = testrun.compare_missions(_proc("a\n"), _proc("a\n"), out_dir=tmp_path, expected=tmp_path / "nope")
    assert not gone.ok


def test_bench_options_are_parsed_by_the_bench(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--seed", "x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "railbot bench" in err and "argument --seed" in err


def test_railbot_test_ends_with_a_plain_total_line():
    from railbot_host.testrun import Result, total_line

    ok = [Result("cpython", True, "183 passed, 0 failed, 2 skipped"),
          Result("micropython", True, "71 passed, 0 failed, 0 skipped"),
          Result("mission log", True, "152 lines, 0 differ")]
    assert total_line(ok) == "total: 255 passed, 0 failed, 2 skipped"
    crashed = [Result("cpython", False, "0 passed, 0 failed, 0 skipped"), Result("mission log", False, "not run")]
    assert total_line(crashed) == "total: 0 passed, 2 failed, 0 skipped"
