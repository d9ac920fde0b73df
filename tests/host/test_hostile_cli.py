"""Issue 14: every `railbot` entry and the console take any line. Generated streams of hostile input
(tests/firmware/hostile.py) at every typed argument, at the console and as broken board data: each
gets one clear `error:` line, exit 2 (or the robot's own reply in the console), and never a traceback."""
import copy
import io
import json
import re
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest
from hostile import hostile_lines, sample_lines
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from railbot_host import cli, robotcli, sim

REPO = Path(__file__).resolve().parents[2]
SIM_JSON = REPO / "boards" / "SIM" / "robot.json"

#: Deterministic and quick: the same examples on every run, no example database.
FAST = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


from railbot_host.gateway import console as gateway_console  # noqa: E402
from railbot_host.gateway import service  # noqa: E402

#: The entries the tests below run for real (the fixture replaces every entry with Ran).
REAL_SIM_MAIN = sim.main
REAL_GATEWAY_CONSOLE_MAIN = gateway_console.main


class Ran(Exception):
    """A command got past its arguments: the argv was taken."""


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    """Every command's entry raises Ran: a test that expects a usage error proves that nothing ran.
    The gateway's accounts, store and password prompt too, and stdin is empty."""
    import railbot_host.bench
    import railbot_host.boardtest
    import railbot_host.deploy
    import railbot_host.firmware_image
    import railbot_host.flash
    import railbot_host.testrun

    def ran(*a, **k):
        raise Ran()

    for mod in (sim, robotcli, railbot_host.testrun, railbot_host.boardtest, railbot_host.deploy,
                railbot_host.flash, railbot_host.firmware_image, railbot_host.bench, gateway_console):
        monkeypatch.setattr(mod, "main", ran)
    for name in ("Service", "Store"):
        monkeypatch.setattr(service, name, ran)
    monkeypatch.setattr(service.getpass, "getpass", ran)
    monkeypatch.setattr(sim, "run_day", ran)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def outcome(argv, capsys) -> tuple[int | str, str]:
    """Run `railbot argv`: ('ran', '') if a command got past its arguments, else (exit status, stderr)."""
    capsys.readouterr()
    try:
        rc = cli.main(argv)
    except Ran:
        return "ran", ""
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, err


def usage_error(argv, capsys) -> str:
    """Run `railbot argv`; it must exit 2 with one printable `error:` line, returned."""
    rc, err = outcome(argv, capsys)
    assert rc == 2, (argv, rc)
    return one_error_line(err)


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("railbot") and line.isprintable() and len(line) < 400, line
    return line


def plain(text: str, signed: bool = False, decimal: bool = False) -> bool:
    """Written the way the CLI takes numbers: ASCII digits, one leading sign if signed, one point if decimal."""
    body = text[1:] if signed and text[:1] in "+-" else text
    if decimal and body.count(".") == 1:
        body = body.replace(".", "")
    return body != "" and all("0" <= c <= "9" for c in body)


#: Every typed number of the CLI: (argv before it, option or positional name, signed, decimal).
NUMBER_SLOTS = [
    (["sim"], "--seed", False, False), (["sim"], "--hours", False, False), (["sim"], "--units", False, False),
    (["sim"], "--rate", False, True), (["sim"], "--tail", False, False),
    (["test"], "--timeout", False, True), (["flash", "--uf2", "x.uf2"], "--timeout", False, True),
    (["status"], "--seed", False, False), (["charge"], "bay", False, False), (["release"], "bay", False, False),
    (["jog"], "mm", True, False), (["log"], "--page", False, False),
    (["bench"], "--seed", False, False), (["bench"], "--hours", False, False),
    (["gateway", "--sim"], "--seed", False, False), (["gateway", "--sim"], "--speed", False, False),
    (["gateway", "token"], "--bay", False, False),
]
#: Every free-text argument: printable, bounded, and one word where a space cannot mean anything.
TEXT_SLOTS = [
    (["sim"], "--out"), (["sim"], "--board-data"), (["test"], "-k"), (["test"], "--port"),
    (["test"], "--modules"), (["deploy"], "--port"), (["flash"], "--uf2"), (["flash", "--uf2", "x"], "--drive"),
    (["status"], "--port"), (["config", "get"], "key"), (["config", "set", "x.v_max_mm_s"], "value"),
    (["console"], "--gateway"), (["bench"], "--out"), (["gateway", "--sim"], "--db"),
    (["gateway", "--sim"], "--cp-id"), (["gateway", "--sim"], "--http"), (["gateway", "user", "add"], "name"),
]


def with_value(before, name, value):
    if name.startswith("--"):
        return before + [f"{name}={value}"]
    if name.startswith("-"):
        return before + [name + value]  # -kVALUE
    return before + ["--", value]  # a positional: even one that starts with '-'


def names(line, name):
    assert f"argument {name}:" in line, (name, line)


@FAST
@given(slot=st.sampled_from(NUMBER_SLOTS), value=hostile_lines(surrogates=True))
def test_a_number_not_in_plain_ascii_digits_is_refused(slot, value, capsys):
    before, name, signed, decimal = slot
    assume(not plain(value, signed, decimal))
    names(usage_error(with_value(before, name, value), capsys), name)


@pytest.mark.parametrize("value", ["\u0661\u0662", "\uff11\uff12", "\xb2", "+1", " 12", "12 ", "1_0", "nan",
                                   "inf", "-inf", "1e3", "0x10", "9" * 10000, "1" + "0" * 30, "\x00", ""])
@pytest.mark.parametrize("slot", NUMBER_SLOTS, ids=lambda s: " ".join(s[0] + [s[1]]))
def test_every_number_refuses_the_usual_suspects(slot, value, capsys):
    before, name, signed, decimal = slot
    if signed and value == "+1":
        return  # jog +1: one millimetre forward
    names(usage_error(with_value(before, name, value), capsys), name)


def unprintable(value: str) -> bool:
    """Empty, a control character (a tab apart), not UTF-8 (a lone surrogate), or longer than any path."""
    return not value or not value.replace("\t", " ").isprintable() or len(value) > 4096


@FAST
@given(slot=st.sampled_from(TEXT_SLOTS), value=hostile_lines(surrogates=True))
def test_free_text_is_refused_unless_printable_and_bounded(slot, value, capsys):
    before, name = slot
    rc, err = outcome(with_value(before, name, value), capsys)
    if unprintable(value):
        assert rc == 2
        names(one_error_line(err), name)
    elif rc != "ran":  # one word only, a length bound, a URL that is not http://, --http not HOST:PORT
        assert rc == 2
        one_error_line(err)


@pytest.mark.parametrize("argv, says", [
    (["log", "--page", "2", "--all"], "argument --all: not allowed with argument --page"),
    (["log", "--all", "--page", "0"], "argument --page: 0 is out of range"),
    (["log", "--page", "100000001"], "argument --page: 100000001 is out of range"),
    (["log", "--page"], "argument --page: expected one argument"),
    (["log", "7"], "unrecognized arguments: 7"),
])
def test_log_takes_one_page_or_all(argv, says, capsys):
    assert says in usage_error(argv, capsys)


COMMANDS = ["sim", "test", "deploy", "flash", "firmware", "status", "home", "charge", "release", "jog",
            "hold", "resume", "alarm", "log", "config", "console", "bench", "gateway"]


@FAST
@given(command=st.sampled_from(COMMANDS + [""]), words=st.lists(hostile_lines(surrogates=True), min_size=1, max_size=4))
def test_any_argv_is_one_error_line_or_taken(command, words, capsys):
    rc, err = outcome(([command] if command else []) + words, capsys)
    assert rc in ("ran", 0, 2), rc  # 0: -h or --help among the words
    if rc == 2:
        one_error_line(err)


# --- as a user runs it: the console script in a subprocess ------------------------------------------

def _railbot() -> list[str]:
    script = Path(sys.executable).with_name("railbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "railbot_host.cli"]


@pytest.mark.parametrize("args", [
    ["sim", "--seed", "\u0661\u0662"], ["sim", "--hours", "+1"], ["charge", "\x1b[2J"], ["jog", "1_0"],
    ["status", "--port", "x" * 10000], ["config", "get", b"x.\xff".decode(errors="surrogateescape")],
    ["sim", "--rate", "nan"], ["test", "--timeout", "inf"], ["sim", "--out", "a\x07b"],
])
def test_the_command_line_as_a_user_types_it(args):
    proc = subprocess.run(_railbot() + args, cwd=REPO, capture_output=True, timeout=120)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if "error:" in ln]) == 1, err


# --- the console: a stream of hostile lines, one reply each ----------------------------------------

@pytest.fixture(scope="module")
def transport():
    return robotcli.SimTransport()


def replies(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("ok", "error:"))]


def run_console(tr, data: bytes) -> tuple[int, str]:
    out = io.StringIO()
    con = robotcli._console()
    con.file = out
    rc = robotcli.console(tr, con, io.BytesIO(data))
    return rc, out.getvalue()


def _ends_session(line: str) -> bool:
    words, _ = robotcli.console_words(line)
    return bool(words) and words[0] in ("quit", "exit")


def _silent(line: bytes) -> bool:
    """Blank lines and comments get no reply."""
    words, why = robotcli.console_words(line)
    return not words and not why


@pytest.fixture
def short_settle(monkeypatch):
    monkeypatch.setattr(robotcli, "SETTLE_MS", 3000)  # an accepted command's work is not what is tested


@FAST
@given(line=hostile_lines())
def test_each_hostile_console_line_gets_one_reply(transport, short_settle, line):
    assume(not _ends_session(line))
    data = line.encode() + b"\n"
    rc, out = run_console(transport, data)
    assert "Traceback" not in out
    got = replies(out)
    assert len(got) == (0 if _silent(data) else 1), (line, out)
    typed = line.rstrip("\r")  # the end of a CRLF line is not part of it
    if not typed.replace("\t", " ").isprintable() or len(typed.encode()) > robotcli.LINE_MAX_BYTES:
        assert got[0].startswith("error:"), (line, got)
    if got and got[0].startswith("error:"):
        assert rc == 1


def test_a_whole_stream_in_one_session(transport, short_settle):
    """300 seeded lines, a few bytes that are not UTF-8 and an over-long line, in one session that
    goes on to its end: one reply per line that is not blank or a comment, then `status` answers."""
    lines = [ln.encode() for ln in sample_lines(14, 300) if not _ends_session(ln)]
    lines += [b"\xff\xfe", b"status \xc3", b"\xed\xa0\x80", b"jog " + b"1" * 100_000, b"status"]
    rc, out = run_console(transport, b"\n".join(lines) + b"\n")
    assert "Traceback" not in out
    got = replies(out)
    want = sum(not _silent(ln + b"\n") for ln in lines)
    assert len(got) == want, out[-3000:]
    assert got[-1].startswith("ok <") and rc == 1
    assert "error: the line is not UTF-8 text (byte 1)" in got
    assert "error: the line is over 65536 characters long; a command is at most 480 bytes" in got


@pytest.mark.parametrize("line, why", [
    ('charge "12', "error: no closing quotation"),
    ("status\\", "error: no escaped character"),
    ("\x1b[2Jstatus", "error: control character \\x1b at column 1"),
    ("charge 1\x002", "error: control character \\x00 at column 9"),
    ("jog " + "9" * 10000, "error: the line is 10004 bytes long"),
    ("wait \u0661\u0662", "error: wait takes whole seconds 0..3600, got '\u0661\u0662'"),
    ("wait 99999", "error: wait takes whole seconds"),
    ("frob [/] :smile:", "error: unknown command 'frob'"),
])
def test_the_console_names_what_is_wrong(transport, line, why):
    rc, out = run_console(transport, line.encode() + b"\nstatus\n")
    got = replies(out)
    assert len(got) == 2 and got[0].startswith(why), out
    assert got[1].startswith("ok <") and rc == 1
    if "[/]" in line:
        assert "> frob [/] :smile:" in out  # as typed, not read as markup or emoji


def test_the_gateways_console_reads_lines_the_same_way(monkeypatch):
    monkeypatch.setenv("RAILBOT_GATEWAY_USER", "u")
    monkeypatch.setenv("RAILBOT_GATEWAY_PASSWORD", "p")
    monkeypatch.setattr(gateway_console, "command", lambda url, auth, line: "ok " + line)
    out = io.StringIO()
    rc = REAL_GATEWAY_CONSOLE_MAIN(types.SimpleNamespace(gateway="http://gw"), io.StringIO('status "\n\x1b[2J\nstatus\n'), out)
    assert out.getvalue().splitlines() == ["error: no closing quotation: a quote or a backslash at the end is not closed",
                                           "error: control character \\x1b at column 1: type plain text",
                                           "> status", "ok status"]
    assert rc == 1


# --- broken board data: railbot sim --board-data ----------------------------------------------------

BASE = json.loads(SIM_JSON.read_text())


def _paths(node, key=""):
    """(dotted key as the loader names it, container, index) of every value in the board data."""
    if isinstance(node, dict):
        for k, v in node.items():
            name = f"{key}.{k}" if key else k
            yield name, node, k
            yield from _paths(v, name)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield f"{key}[{i}]", node, i
            yield from _paths(v, f"{key}[{i}]")


def _other_type(value):
    """Values of every JSON type but value's (bool apart from int, as the loader tells them apart)."""
    samples = [True, None, 1.5, "12", [1], {"a": 1}, 7]
    return [s for s in samples if type(s) is not type(value)]


@st.composite
def broken_board_data(draw):
    """(file text, key the error must name or None, words of the reason) from one mutation of the
    SIM board's robot.json: a key dropped, a value of another type, an int out of every range, an
    unknown key, or the text cut short."""
    cfg = copy.deepcopy(BASE)
    paths = list(_paths(cfg))
    kind = draw(st.sampled_from(["drop", "retype", "range", "unknown", "truncate"]))
    if kind == "truncate":
        text = json.dumps(cfg, indent=2)
        return text[:draw(st.integers(0, len(text) - 1))], None, "bad JSON"
    if kind == "unknown":
        dicts = [(name, c[k]) for name, c, k in paths if isinstance(c[k], dict)] + [("", cfg)]
        where, d = draw(st.sampled_from(dicts))
        new = draw(hostile_lines().filter(lambda s: s not in d))
        d[new] = draw(st.sampled_from([1, "x", None]))
        return json.dumps(cfg), (f"{where}.{new}" if where else new), "unknown key"
    if kind == "drop":
        name, c, k = draw(st.sampled_from([p for p in paths if isinstance(p[1], dict)]))
        del c[k]
        return json.dumps(cfg), name, "missing key"
    if kind == "range":
        name, c, k = draw(st.sampled_from([p for p in paths if type(p[1][p[2]]) is int]))
        c[k] = draw(st.sampled_from([-1, -(2**40), 10**9, 2**63]))  # outside every range of the schema
        return json.dumps(cfg), name, "is (below the minimum|above the maximum)"
    name, c, k = draw(st.sampled_from(paths))
    c[k] = draw(st.sampled_from(_other_type(c[k])))
    return json.dumps(cfg), name, "expected .*, got "


def board_data_error(path, capsys) -> str:
    capsys.readouterr()
    assert cli.main(["sim", "--board-data", str(path), "--quiet", "--out", str(Path(path).parent / "out")]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].isprintable(), err
    assert lines[0].startswith(f"railbot sim: error: board data {path}: "), lines[0]
    return lines[0]


@pytest.fixture
def real_sim_main(monkeypatch):
    monkeypatch.setattr(sim, "main", REAL_SIM_MAIN)  # run_day stays Ran: no day is run


@FAST
@given(case=broken_board_data())
def test_broken_board_data_is_named_by_file_key_and_reason(case, capsys, real_sim_main):
    text, key, reason = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "robot.json"
        path.write_text(text)
        line = board_data_error(path, capsys)
    if key is not None:
        assert f": {cli.one_line(key, 10**6)[:200]}" in line, (key, line)
    assert re.search(reason, line), line


@pytest.mark.parametrize("content, says", [
    (b"\xff\xfe{}", "cannot read: not UTF-8 text"),
    (b"[" * 100_000, "bad JSON"),
    (b"[]", "expected an object, got a list"),
    (b"", "bad JSON"),
    (b'{"board": "SIM", "board": 1}', ""),
])
def test_board_data_that_is_not_board_data(content, says, tmp_path, capsys, real_sim_main):
    path = tmp_path / "robot.json"
    path.write_bytes(content)
    assert says in board_data_error(path, capsys)


def test_board_data_that_cannot_take_the_units_asked_for(tmp_path, capsys, real_sim_main):
    cfg = copy.deepcopy(BASE)
    cfg["site"]["stations"]["count"] = 1
    cfg["site"]["docks"] = cfg["site"]["docks"][:1]
    cfg["site"]["units"] = [{"id": 1, "port": "B1"}]
    path = tmp_path / "robot.json"
    path.write_text(json.dumps(cfg))
    capsys.readouterr()
    assert cli.main(["sim", "--board-data", str(path), "--units", "12", "--quiet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"board data {path} with --units 12: site.units[" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("mutate, says", [
    (lambda c: c["z"].pop("engage_mm"), "z.engage_mm: missing key"),
    (lambda c: c["x"].update(v_max_mm_s="fast"), "x.v_max_mm_s: expected an int, got string 'fast'"),
    (lambda c: c["timing"].update(tick_ms=10**9), "timing.tick_ms: 1000000000 is above the maximum"),
])
def test_make_sim_with_broken_board_data(mutate, says, tmp_path):
    """As `make sim ROBOT=...` runs it: a subprocess, exit 2, one line with file, key and reason."""
    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    path = tmp_path / "robot.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run(_railbot() + ["sim", "--board-data", str(path), "--out", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"railbot sim: error: board data {path}: {says}" +
                                        proc.stderr.split(says, 1)[1].rstrip("\n")]
    assert "Traceback" not in proc.stderr
