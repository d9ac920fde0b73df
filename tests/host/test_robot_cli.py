"""railbot status/home/charge/... against the simulator (--sim): replies, status, exit codes."""

import io

import pytest

from railbot_host import cli, robotcli


def test_status_of_a_fresh_simulated_board(capsys):
    assert cli.main(["status", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "ok <IDLE|" in out and "homed:0" in out


def test_charge_homes_first_and_delivers(capsys):
    assert cli.main(["charge", "12"]) == 0
    out = capsys.readouterr().out
    assert "homing first" in out and '"ev": "homed"' in out
    assert '"ev": "delivered", "bay": 12' in out


def test_errors_exit_1_and_usage_errors_exit_2(capsys):
    assert cli.main(["charge", "99", "--sim"]) == 1
    assert "error: bay 99 out of range" in capsys.readouterr().out
    assert cli.main(["alarm", "reset"]) == 1  # no alarm to reset
    assert cli.main(["status", "--port", "/dev/ttyNOSUCH0"]) == 3
    assert "no board at /dev/ttyNOSUCH0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["charge", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["status", "--sim", "--port", "x"])
    assert e.value.code == 2


def test_config_get(capsys):
    assert cli.main(["config", "get", "x.v_max_mm_s"]) == 0
    assert "x.v_max_mm_s = 1000" in capsys.readouterr().out
    assert cli.main(["config", "get", "x.nothing"]) == 1
    assert cli.main(["config", "set", "x.v_max_mm_s", "900"]) == 2


def test_console_runs_lines_on_one_simulated_board():
    tr = robotcli.SimTransport()
    out = io.StringIO()
    con = robotcli._console()
    con.file = out
    rc = robotcli.console(tr, con, io.StringIO("home\njog 500\nhold\nwait 2\nresume\nstatus\n"))
    assert rc == 0, out.getvalue()
    s = tr.status()
    assert s["homed"] and s["state"] == "IDLE" and 504 <= s["x_mm"] <= 506
    assert robotcli.console(tr, con, io.StringIO("frobnicate\n")) == 1
    assert "unknown command 'frobnicate'" in out.getvalue()


def test_parse_status():
    s = robotcli.parse_status("ok <HOLD|x:505.80|z:0.00|alarm:0|homed:1|jobs:2|carry:1>")
    assert s == {"state": "HOLD", "x_mm": 505.8, "z_mm": 0.0, "alarm": 0, "homed": True, "jobs": 2, "carry": 1}
    assert robotcli.parse_status("error: x") is None


def test_link_transport_over_the_simulator():
    """The --port path (host link codec <-> the firmware's link <-> Robot) in a loopback."""
    sim_tr = robotcli.SimTransport()
    from railbot.link import Link as FirmwareLink

    inbox = bytearray()
    fw = FirmwareLink(sim_tr.robot, lambda b: inbox.extend(bytes(b)))

    class Stream:
        def write(self, data):
            fw.feed(bytes(data))

        def read(self, n):
            out = bytes(inbox)
            inbox.clear()
            return out

    tr = robotcli.LinkTransport(Stream(), sim_tr.run_ms)
    assert tr.hello
    out = io.StringIO()
    con = robotcli._console()
    con.file = out
    assert robotcli.do(tr, "home", con) == 0
    assert robotcli.do(tr, "charge 12", con) == 0, out.getvalue()
    text = out.getvalue()
    assert "homed" in text and "delivered" in text
    assert tr.status()["homed"] and tr.status()["jobs"] == 0
    assert robotcli.do(tr, "charge 99", con) == 1


def _loopback(sim_tr):
    """A LinkTransport to the firmware's link on sim_tr's robot, in this process."""
    from railbot.link import Link as FirmwareLink

    inbox = bytearray()
    fw = FirmwareLink(sim_tr.robot, lambda b: inbox.extend(bytes(b)))

    class Stream:
        def write(self, data):
            fw.feed(bytes(data))

        def read(self, n):
            out = bytes(inbox)
            inbox.clear()
            return out

    return robotcli.LinkTransport(Stream(), sim_tr.run_ms)


def test_log_pages_through_the_black_box_over_the_link(capsys):
    sim_tr = robotcli.SimTransport()
    robot = sim_tr.robot
    for i in range(100):  # 101 events with the boot's, the last ones long: pages hold fewer of those
        robot.emit("test", (("i", i), ("pad", "x" * (120 if i >= 90 else 0))))
        if i % 5 == 4:
            sim_tr.run_ms(1000)  # at rest: each batch reaches the flash (1 KB of RAM waits for it)
    tr = _loopback(sim_tr)
    con, err = robotcli._console(), robotcli._console()
    assert robotcli.show_log(tr, con, err) == 0
    out = capsys.readouterr().out
    assert "#101" in out and "test i=99 pad=" + "x" * 120 in out and "#95 " not in out
    assert "page 1: #96..#101 of #1..#101 kept; dropped 0, flash errors 0" in out, out
    events, _ = robotcli.log_pages(tr, page=2)
    assert [e[0] for e in events] == list(range(80, 96))  # the 16 before the newest page
    events, info = robotcli.log_pages(tr, every=True)
    assert [e[0] for e in events] == list(range(1, 102)) and events[0][2] == "boot"
    assert [e[2] for e in events[1:4]] == ["test i=0 pad=", "test i=1 pad=", "test i=2 pad="]
    assert robotcli.log_pages(tr, page=40)[0] == []  # before the oldest: nothing
    # the console's `log` sends the request as typed; the simulator answers it as a board's link does
    for t in (tr, sim_tr):
        out = io.StringIO()
        con.file = out
        assert robotcli.console(t, con, io.StringIO("log 3 2\nlog x\n")) == 1
        text = out.getvalue()
        assert "ok 2 events 3..4 of 1..101" in text and "log 3 " in text and "log 4 " in text, text
        assert "error: log FROM must be an event number" in text


def test_log_on_the_simulator_homes_then_shows_the_black_box(capsys):
    assert cli.main(["log"]) == 0
    out = capsys.readouterr().out
    assert "#1 " in out and "boot" in out and "homed x_steps=" in out and "page 1: #1..#3 of #1..#3" in out
    assert cli.main(["log", "--all"]) == 0 and cli.main(["log", "--page", "3"]) == 0
    assert "page 3: no events of #1..#3 kept" in capsys.readouterr().out
