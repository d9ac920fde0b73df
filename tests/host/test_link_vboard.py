"""The host link end to end: `railbot deploy` to the virtual board starts main.py, whose link serves
the USB; the `railbot` CLI talks to it with --port socket://... (status, charge with its events
streamed, log, config get/set), and mpremote can still interrupt it."""

import time

import pytest

from railbot_host import cli, upy
from railbot_host.link import Link, LinkError
from railbot_host.vboard import VirtualBoard

pytestmark = pytest.mark.skipif(upy.node_path() is None, reason="node is not installed")


@pytest.fixture(scope="module")
def vb():
    # 10x wall-clock time; the carriage starts 20 mm from home, so homing is short; the firmware
    # comes from the board's flash, as deployed
    with VirtualBoard(speed=10, start_x_mm=20, repo_firmware=False) as board:
        yield board


def wait_for_link(url: str, timeout: float = 60.0) -> str:
    """The board's hello once main.py serves the link (it boots after a deploy's soft reset)."""
    import serial

    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        with serial.serial_for_url(url, timeout=0.02) as s:
            try:
                return Link(s, timeout_s=0.5, retries=1).hello()
            except LinkError as e:
                last = e
    raise AssertionError(f"no link on {url} within {timeout} s: {last}")


def test_deploy_starts_main_py_and_the_cli_drives_the_robot_over_usb(vb, capsys):
    assert cli.main(["deploy", "--port", vb.url, "--board", "SIM", "--quiet"]) == 0
    assert "main.py started" in capsys.readouterr().out
    assert wait_for_link(vb.url) == "railbot-link 1"

    assert cli.main(["status", "--port", vb.url]) == 0
    out = capsys.readouterr().out
    assert "ok <IDLE|" in out and "homed:0" in out, out

    # homes first (the board boots unhomed), then the charge; events come over the link
    assert cli.main(["charge", "3", "--port", vb.url]) == 0
    out = capsys.readouterr().out
    assert "homing first" in out and "homed" in out, out
    assert "delivered bay=3" in out, out

    assert cli.main(["log", "--port", vb.url]) == 0
    out = capsys.readouterr().out
    assert "delivered bay=3" in out and "page 1: #1.." in out, out  # the black box, on the board's file system

    assert cli.main(["charge", "99", "--port", vb.url]) == 1
    assert "error: bay 99 out of range" in capsys.readouterr().out


def test_config_set_over_the_link_is_validated_and_saved_on_the_board(vb, capsys):
    wait_for_link(vb.url)
    assert cli.main(["config", "get", "x.v_max_mm_s", "--port", vb.url]) == 0
    assert "x.v_max_mm_s = 1000" in capsys.readouterr().out
    assert cli.main(["config", "set", "x.v_max_mm_s", "99999", "--port", vb.url]) == 1
    assert "x.v_max_mm_s: 99999 is above the maximum 5000" in capsys.readouterr().err
    assert cli.main(["config", "set", "x.v_max_mm_s", "900", "--port", vb.url]) == 0
    assert "saved to /robot.json" in capsys.readouterr().out
    assert cli.main(["config", "get", "x.v_max_mm_s", "--port", vb.url]) == 0
    assert "1000 (saved 900, used from the next reset)" in capsys.readouterr().out
    # mpremote still gets in (Ctrl-C stops main.py) and reads the file main.py saved
    r = vb.mpremote("exec", "import json; print(json.load(open('/robot.json'))['x']['v_max_mm_s'])")
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "900", r.stdout + r.stderr
    # now the board sits at the REPL: no link, and the CLI says what to do
    capsys.readouterr()
    assert cli.main(["status", "--port", vb.url]) == 3
    assert "is main.py running?" in capsys.readouterr().err


def test_the_console_over_the_link(vb):
    """`railbot console --port` as a technician runs it: lines on stdin, one board session."""
    import subprocess
    import sys
    from pathlib import Path

    vb.reset()  # the last test's mpremote stopped main.py: the board starts it again (and the plant over)
    wait_for_link(vb.url)
    script = Path(sys.executable).with_name("railbot")
    r = subprocess.run([str(script), "console", "--port", vb.url], input="home\njog 300\nhold\nwait 1\nresume\n"
                       "status\nfrobnicate\nquit\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr  # the unknown command's error
    assert "ok hold" in r.stdout and "jogged" in r.stdout, r.stdout
    assert "unknown command 'frobnicate'" in r.stdout
    status = [ln for ln in r.stdout.splitlines() if ln.startswith("ok <")][-1]
    assert "|homed:1|" in status and abs(float(status.split("|x:")[1].split("|")[0]) - 305) < 1, status
