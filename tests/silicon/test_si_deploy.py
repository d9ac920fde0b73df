"""The flash-then-deploy path on the emulated RP2040: stock MicroPython v1.28.0, `railbot deploy` of the firmware as .mpy (a second run writes nothing), the robot over USB, and `railbot test --port` with the firmware tests that fit the real heap."""

import re

import pytest
from si_support import run_cli

from railbot_host.silicon import EmulatedBoard

# The part of tests/firmware whose imports fit the rp2 port's heap (about 240 KB free, 165 KB once
# the simulated board is imported as source): the board-data loader's tests. A module that builds
# a simulated rig (plant and robot) does not fit (docs/silicon.md, "Board tests on the real heap").
BOARD_SUBSET = "test_config"


@pytest.fixture(scope="module")
def eb(stock):
    with EmulatedBoard(stock, files={}) as board:
        board.wait_boot(1)
        yield board


def _written(out: str) -> tuple[int, int]:
    m = re.search(r"(\d+) of (\d+) files written", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_deploy_then_the_second_deploy_writes_nothing(eb):
    first = run_cli("deploy", "--port", eb.url, "--board", "PICO", timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    n, total = _written(first.stdout)
    assert n == total > 20  # the .mpy modules, main.py, the board data, build_id.py
    second = run_cli("deploy", "--port", eb.url, "--board", "PICO", timeout=600)
    assert second.returncode == 0 and _written(second.stdout) == (0, total), second.stdout
    status = run_cli("status", "--port", eb.url)
    assert "ok <ALARM" in status.stdout and "(deployed, PICO)" in status.stdout, status.stdout + status.stderr
    assert "same firmware as the host" in status.stdout
    with eb.connect() as c:  # the planner's word loop went on as viper code for the RP2040 (railbot_host.native)
        c.enter_raw()
        out, err = c.exec("from railbot import motion\nprint(motion._plan.__name__)", 60)
    assert out.strip() == "railbot.plan_native", out + err


def test_board_tests_that_fit_the_real_heap(eb):
    r = run_cli("test", "--port", eb.url, "--modules", BOARD_SUBSET, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    m = re.search(r"= 0 failed, (\d+) passed, 0 skipped on the board", r.stdout)
    assert m and int(m.group(1)) >= 30, r.stdout[-1500:]
