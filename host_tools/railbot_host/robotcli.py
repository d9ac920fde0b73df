"""The robot's commands from the `railbot` CLI (status, home, charge, ...), through a transport.

A transport has `command(line) -> reply`, `run_ms(ms)` (let time pass), `now_ms()`, `events()`
(new event lines), `clock` (what its time is) and `close()`. `SimTransport` is the firmware on a
SimBoard in this process, on virtual time (the simulator boots unhomed, with the units of
boards/SIM/robot.json). `LinkTransport` is the host link (railbot_host.link) over a stream:
`--port` opens the serial port with it, to main.py's link on the board's USB.
Exit status: 0 ok, 1 the robot answered an error or raised an alarm or did not settle, 2 usage,
3 no board (or no link handshake) on --port.
"""

from __future__ import annotations

import re
import shlex
import sys
import unicodedata
from collections.abc import Callable

from rich.text import Text

from railbot_host import sim
from railbot_host.cli import printable, show
from railbot_host.link import MAX_PAYLOAD, LinkError

_STATUS = re.compile(r"^ok <(?P<state>\w+)\|x:(?P<x>[-\d.]+)\|z:(?P<z>[-\d.]+)\|alarm:(?P<alarm>\d+)\|"
                     r"homed:(?P<homed>\d)\|jobs:(?P<jobs>\d+)\|carry:(?P<carry>\d+)>")
RESTING = ("IDLE", "HOLD", "ALARM", "STOP")
SETTLE_MS = 15 * 60_000
_WAIT_S = re.compile(r"[0-9]{1,5}")


def parse_status(reply: str) -> dict | None:
    m = _STATUS.match(reply)
    if not m:
        return None
    d = m.groupdict()
    return {"state": d["state"], "x_mm": float(d["x"]), "z_mm": float(d["z"]), "alarm": int(d["alarm"]),
            "homed": d["homed"] == "1", "jobs": int(d["jobs"]), "carry": int(d["carry"])}


class SimTransport:
    """The firmware's Robot on a simulated board, driven on virtual time."""

    clock = "simulated"

    def __init__(self, seed: int = 1):
        sim._install()
        from simboard.board import SimBoard
        from simboard.day import event_line

        self._line = event_line
        self.board = SimBoard(str(sim.SIM_BOARD), seed=seed)
        self.robot = self.board.robot(emit=self._emit)
        self._new: list[str] = []
        self.log: list[str] = []
        self.robot.start()
        self.run_ms(200)  # boot: the tasks start, the safety inputs are read

    def now_ms(self) -> int:
        return self.board.clock.now_ms

    def _emit(self, kind, fields) -> None:
        line = self._line(self.now_ms(), "fw", kind, fields)
        self._new.append(line)
        self.log.append(line)

    def run_ms(self, ms: int) -> None:
        self.board.loop.run_until(self.now_ms() + ms)

    def command(self, line: str) -> str:
        words = line.split()
        if words and words[0].lower() == "log":  # the link's request, answered as a board's link does
            return self.robot.blackbox.request(words[1:], lambda text: self._new.append("log " + text))
        return self.robot.command(line)

    def status(self) -> dict:
        return parse_status(self.command("status")) or {}

    def events(self) -> list[str]:
        new, self._new = self._new, []
        return new

    def close(self) -> None:
        pass


class LinkTransport:
    """The robot at the other end of the host link (railbot_host.link.Link over a stream).
    `wait_ms(ms)` lets time pass: real sleeps on a board, the simulator's clock in a loopback."""

    clock = "since connecting"

    def __init__(self, stream, wait_ms: Callable[[int], None], *, timeout_s: float = 1.0, clock=None):
        from railbot_host.link import Link

        self._new: list[str] = []
        self.log: list[str] = []
        kw = {"clock": clock} if clock is not None else {}
        self.link = Link(stream, on_event=self._event, timeout_s=timeout_s, **kw)
        self.wait_ms = wait_ms
        self.elapsed_ms = 0
        self.hello = self.link.hello()  # refuses another protocol version

    def _event(self, text: str) -> None:
        self._new.append(text)
        self.log.append(text)

    def now_ms(self) -> int:
        return self.elapsed_ms

    def run_ms(self, ms: int) -> None:
        self.wait_ms(ms)
        self.elapsed_ms += ms
        self.link.poll()

    def command(self, line: str) -> str:
        return self.link.request(line)

    status = SimTransport.status

    def events(self) -> list[str]:
        new, self._new = self._new, []
        return new

    def close(self) -> None:
        close = getattr(self.link.stream, "close", None)
        if close:
            close()


def serial_transport(port: str) -> LinkTransport:
    """A board on a serial port (or socket:// URL) that runs the link on its USB stdin/stdout."""
    import time

    import serial

    from railbot_host.link import LinkError, LinkVersionError

    try:
        stream = serial.serial_for_url(port, baudrate=115200, timeout=0.02)
    except (serial.SerialException, ValueError) as e:
        raise NoBoardError(f"no board at {port}: {e}") from None
    try:
        return LinkTransport(stream, lambda ms: time.sleep(ms / 1000))
    except LinkVersionError as e:
        stream.close()
        raise NoBoardError(f"the board at {port}: {e}") from None
    except LinkError as e:
        stream.close()
        raise NoBoardError(f"the board at {port} does not answer the link handshake ({e}); is main.py "
                           f"running? `railbot deploy --port {port}` or a reset starts it") from None


class NoBoardError(Exception):
    pass


#: CLI command -> (robot command line built from the arguments, needs a homed robot)
def robot_line(ns) -> tuple[str, bool]:
    c = ns.command
    if c in ("status", "home", "hold", "resume"):
        return c, False
    if c in ("charge", "release"):
        return f"{c} {ns.bay}", True
    if c == "jog":
        return f"jog {ns.mm}", True
    if c == "alarm":
        return "reset", False
    raise ValueError(c)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def parse_build(reply: str) -> dict | None:
    """The board's `build` reply as a dict (src, tree, commit, board, image); None if it has none."""
    if not reply.startswith("ok build ") or "=" not in reply:
        return None
    return dict(w.split("=", 1) for w in reply[9:].split() if "=" in w)


def build_line(reply: str, host_src: str, host_commit: str) -> str:
    """`railbot status`'s line: the board's build id beside the host tree's own, and whether the
    firmware the board runs is this clone's."""
    from railbot_host.firmware_build import short_commit

    host = f"host: src {host_src[:12]} commit {short_commit(host_commit)}"
    b = parse_build(reply)
    if b is None:
        what = ("none (firmware run from source)" if reply.startswith("ok build")
                else "unknown (firmware older than the build command)")
        return f"board build: {what} | {host}"
    same = "same firmware as the host" if b.get("src") == host_src else "differs from the host: flash or deploy"
    return (f"board build: src {b.get('src', '?')[:12]} commit {short_commit(b.get('commit', '?'))} "
            f"({b.get('image', '?')}, {b.get('board', '?')}) | {host} | {same}")


def show_build(con, tr) -> None:
    from railbot_host.firmware_build import git_commit, host_source_tree

    con.print(build_line(tr.command("build"), host_source_tree(), git_commit()), markup=False)


def show_status(con, s: dict, t_ms: int, clock: str = "simulated") -> None:
    from rich.table import Table

    t = Table(show_header=True, header_style="bold", title=f"robot at t = {t_ms / 1000:.1f} s ({clock})")
    for k in ("state", "x_mm", "z_mm", "alarm", "homed", "jobs", "carry"):
        t.add_column(k)
    colour = "red" if s["alarm"] else "green"
    t.add_row(f"[{colour}]{s['state']}[/]", f"{s['x_mm']:.1f}", f"{s['z_mm']:.1f}", str(s["alarm"]),
              "yes" if s["homed"] else "no", str(s["jobs"]), str(s["carry"]))
    con.print(t)


def show_events(con, lines: list[str]) -> None:
    for ln in lines:
        alarm = '"ev": "alarm"' in ln or ln.startswith(("alarm ", "log alarm "))
        con.print(Text(printable(ln), style="red" if alarm else "dim"))


_LOG_REPLY = re.compile(r"^ok (?P<n>\d+) events (?:(?P<first>\d+)\.\.(?P<last>\d+)|none) of "
                        r"(?P<oldest>\d+)\.\.(?P<newest>\d+) dropped=(?P<dropped>\d+) flash_errors=(?P<errors>\d+)$")
_LOG_EVENT = re.compile(r"^log (?P<seq>\d+) (?P<ms>\d+) (?P<text>.*)$")


class LogError(Exception):
    pass


def log_request(tr, line: str) -> tuple[list[tuple[int, int, str]], dict]:
    """One `log ...` request: its events as (seq, ms since that boot, text) and the reply's fields.
    LogError with the robot's answer if it is not a page."""
    try:
        reply = tr.command(line)
    except LinkError as e:
        raise LogError(f"the board did not answer: {e}") from None
    events = []
    for e in tr.events():
        m = _LOG_EVENT.match(e)
        if m:
            events.append((int(m["seq"]), int(m["ms"]), m["text"]))
    m = _LOG_REPLY.match(reply)
    if not m:
        raise LogError(reply)
    return events, {k: int(v) for k, v in m.groupdict().items() if v is not None}


def log_pages(tr, page: int = 1, every: bool = False) -> tuple[list[tuple[int, int, str]], dict]:
    """The events of the black box's `page`-th page back from the newest (16 events or fewer, as the
    newest page holds), or all of them (every), oldest first; with the first reply's fields."""
    events, info = log_request(tr, "log")
    if every:
        start, end = info["oldest"], info["newest"]
        events = []
    else:
        for _ in range(page - 1):
            if not events:
                break
            end = events[0][0] - 1
            start = max(info["oldest"], end - 15)
            events = fetch_log(tr, start, end) if start <= end else []
        return events, info
    return fetch_log(tr, start, end), info


def fetch_log(tr, start: int, end: int) -> list[tuple[int, int, str]]:
    """Every event kept numbered start..end, a `log FROM COUNT` request at a time."""
    out: list[tuple[int, int, str]] = []
    while start <= end:
        got, info = log_request(tr, f"log {start} {min(16, end - start + 1)}")
        got = [e for e in got if start <= e[0] <= end]
        if not got:
            break
        out += got
        start = got[-1][0] + 1
    return out


def show_log(tr, con, err, page: int = 1, every: bool = False) -> int:
    """`railbot log`: print the page (or every event), then what the black box keeps."""
    try:
        events, info = log_pages(tr, page, every)
    except LogError as e:
        err.print(f"railbot log: {printable(str(e))}", markup=False)
        return 1
    for seq, ms, text in events:
        line = Text(f"#{seq:<7} {ms / 1000:10.3f} s  ")
        line.append(printable(text), style="red" if text.startswith("alarm ") else None)
        con.print(line)
    what = f"page {page}" if not every else "all"
    span = f"#{events[0][0]}..#{events[-1][0]}" if events else "no events"
    con.print(Text(f"{what}: {span} of #{info['oldest']}..#{info['newest']} kept; dropped {info['dropped']}, "
                   f"flash errors {info['errors']} since the robot's boot (time: seconds since that event's boot)",
                   style="dim"))
    return 0


def settle(tr, con, max_ms: int | None = None, step_ms: int = 100) -> bool:
    """Let the robot work until it rests (no motion, no queued job) or max_ms (default SETTLE_MS),
    showing its events as they come and its state on a status line; True if it rests."""
    max_ms = SETTLE_MS if max_ms is None else max_ms
    with con.status("working") as line:
        end = tr.now_ms() + max_ms
        while tr.now_ms() < end:
            tr.run_ms(step_ms)
            show_events(con, tr.events())
            s = tr.status()
            if s.get("state") in RESTING and (s.get("jobs") == 0 or s.get("state") != "IDLE"):
                return True
            if s:
                line.update(f"{s['state']}  x {s['x_mm']:.0f} mm  z {s['z_mm']:.0f} mm  jobs {s['jobs']}  "
                            f"t {tr.now_ms() / 1000:.0f} s ({tr.clock})")
    return False


def do(tr, line: str, con, *, wait: bool = True) -> int:
    """Send one robot command, let it work, show the reply, events and status; the exit status."""
    try:
        reply = tr.command(line)
    except LinkError as e:
        reply = f"error: the board did not answer: {e}"
    ok = reply.startswith("ok")
    con.print(Text(f"> {printable(line)}"))  # as typed, never read as rich markup
    con.print(Text(printable(reply), style="green" if ok else "bold red"))
    if not ok:
        return 1
    rested = settle(tr, con) if wait and line != "status" else True
    show_events(con, tr.events())
    s = tr.status()
    if s:
        show_status(con, s, tr.now_ms(), tr.clock)
    if not rested:
        con.print(f"[bold red]the robot did not come to rest within {SETTLE_MS / 60000:g} min ({tr.clock})[/]")
        return 1
    if s.get("alarm") and line != "reset":
        con.print(f"[bold red]alarm {s['alarm']} raised[/]")
        return 1
    return 0


def open_transport(ns):
    if getattr(ns, "port", None):
        return serial_transport(ns.port)
    return SimTransport(seed=ns.seed)


class UsageError(Exception):
    pass


def main(ns) -> int:
    con = _console()
    err = _console()
    err.file = sys.stderr
    try:
        if ns.command == "config":
            if ns.action == "get" and ns.value is not None:
                raise UsageError("config get takes a key, not a value")
            if ns.action == "set" and ns.value is None:
                raise UsageError("config set needs a key and a value")
            if ns.action == "set" and not getattr(ns, "port", None):
                raise UsageError("config set changes a board's robot.json: use --port (the simulator "
                                 "boots from boards/SIM/robot.json each time; edit that file)")
        tr = open_transport(ns)
    except UsageError as e:
        err.print(f"railbot {ns.command}: {e}", markup=False)
        return 2
    except NoBoardError as e:
        err.print(f"railbot {ns.command}: {e}", markup=False)
        return 3
    try:
        if ns.command == "config":
            line = " ".join(("config", ns.action, ns.key) + ((ns.value,) if ns.value is not None else ()))
            if why := line_error(line):
                err.print(f"railbot config: {why}", markup=False)
                return 2
            reply = tr.command(line)
            if not reply.startswith("ok "):
                err.print(f"railbot config: {reply}", markup=False)
                return 1
            key, _, rest = reply[3:].partition("=")
            con.print(f"{key} = {rest}", markup=False)
            return 0
        if ns.command == "log":
            if not isinstance(tr, LinkTransport):  # a fresh simulator has only its boot: home it first
                tr.command("home")
                settle(tr, con)
                tr.events()
            return show_log(tr, con, err, page=ns.page, every=ns.all)
        if ns.command == "console":
            return console(tr, con, getattr(sys.stdin, "buffer", sys.stdin))  # bytes: bad UTF-8 is a line's error
        line, needs_home = robot_line(ns)
        if ns.command == "status":
            rc = do(tr, line, con)
            show_build(con, tr)
            return rc
        if needs_home and not tr.status().get("homed"):
            con.print("[dim]the robot is not homed (a simulated board boots unhomed): homing first[/]")
            if do(tr, "home", con) != 0:
                return 1
        return do(tr, line, con)
    finally:
        tr.close()


#: The longest command line a robot takes: one link frame's payload (the simulator is held to it too).
LINE_MAX_BYTES = MAX_PAYLOAD
#: `wait S` in the console: whole seconds up to an hour.
WAIT_S_MAX = 3600
#: What the console reads of one line at most; the rest of a longer line is skipped, not stored.
_READ_MAX = 1 << 16


def line_error(line: str) -> str:
    """Why `line` cannot go to a robot as a command ('error: ...'), or '' if it can: not UTF-8 text,
    too long for a link frame, or a control character (ESC, NUL, ...) a terminal would act on."""
    if any("\ud800" <= c <= "\udfff" for c in line):
        return "error: the line is not UTF-8 text"
    size = len(line.encode())
    if size > LINE_MAX_BYTES:
        return f"error: the line is {size} bytes long; a command is at most {LINE_MAX_BYTES}"
    if not line.replace("\t", " ").isprintable():
        col, bad = next((i, c) for i, c in enumerate(line) if c != "\t" and not c.isprintable())
        what = "control" if unicodedata.category(bad) == "Cc" else "unprintable"
        return f"error: {what} character {printable(bad)} at column {col + 1}: type plain text"
    return ""


def console_words(raw: str | bytes) -> tuple[list[str], str]:
    """One typed line -> (its words, '') or ([], 'error: ...'); a blank line or a comment gives ([], '')."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError as e:
            return [], f"error: the line is not UTF-8 text (byte {e.start + 1})"
    line = raw.rstrip("\r\n") if raw.endswith("\n") else raw
    why = line_error(line)
    if why:
        return [], why
    try:
        return shlex.split(line, comments=True), ""
    except ValueError as e:  # shlex: "No closing quotation", "No escaped character"
        return [], f"error: {str(e).lower()}: a quote or a backslash at the end is not closed"


def _read_line(stdin) -> tuple[str | bytes, bool]:
    """The next line of stdin ('' or b'' at the end) and whether it was longer than _READ_MAX: such
    a line is read to its end but not kept."""
    line = stdin.readline(_READ_MAX)
    if len(line) < _READ_MAX or line[-1:] in ("\n", b"\n"):
        return line, False
    while (more := stdin.readline(_READ_MAX)) and more[-1:] not in ("\n", b"\n"):
        pass
    return line, True


def console(tr, con, stdin, prompt: Callable[[str], None] | None = None) -> int:
    """Lines of robot commands (plus `wait S`: run S simulated seconds; `quit`). Every line that is not
    blank or a comment gets one reply line: the robot's `ok ...` or `error: ...`, or the console's own
    `error: ...` for a line it cannot send (not UTF-8, too long, a control character, an unclosed quote).
    stdin: text or bytes. Exit 1 if any line answered an error."""
    rc = 0
    interactive = stdin.isatty()
    while True:
        if interactive:
            con.print("railbot> ", end="")
        raw, too_long = _read_line(stdin)
        if not raw:
            break
        words, why = console_words(raw)
        if too_long:
            why = f"error: the line is over {_READ_MAX} characters long; a command is at most {LINE_MAX_BYTES} bytes"
        if why:
            con.print(Text(why, style="bold red"))
            rc = 1
            continue
        if not words:
            continue
        if words[0] in ("quit", "exit"):
            break
        if words[0] == "wait":
            if len(words) == 2 and _WAIT_S.fullmatch(words[1]) and int(words[1]) <= WAIT_S_MAX:
                tr.run_ms(int(words[1]) * 1000)
                show_events(con, tr.events())
                con.print(Text(f"ok waited {int(words[1])} s ({tr.clock})", style="green"))
            else:
                arg = " ".join(words[1:])
                con.print(Text(f"error: wait takes whole seconds 0..{WAIT_S_MAX}, got {show(arg)}", style="bold red"))
                rc = 1
            continue
        rc |= do(tr, " ".join(words), con, wait=words[0] not in ("hold",))
    return rc
