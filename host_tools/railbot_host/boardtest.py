"""`railbot test --port`: the firmware test suite run on a board, one pytest-style line per test.

Deploys the firmware (with the data of --board: the board is left as `railbot deploy` leaves it),
copies tests/firmware, tests/upy_runner.py, the exclusion list and the simulated board (boards/SIM:
the tests drive simulated hardware) with the same hash skip as deploy, runs the runner in the raw REPL and reads its PASS/FAIL/SKIP lines.
Exit status: 0 all passed, 1 a test failed or the run broke off, 3 no board, 4 wrong _mpy,
5 mpy-cross failed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host import deploy
from railbot_host.board import Board, BoardError, MpremoteBoard

REPO_ROOT = deploy.REPO_ROOT
RUN = """\
import sys
for _p in ('/tests/firmware', '/boards/SIM', '/tests'):
    if _p not in sys.path:
        sys.path.insert(0, _p)
import upy_runner
try:
    upy_runner.main(%(args)r)
except SystemExit as e:
    print('upy: exit %%s' %% (e.args[0] if e.args else 0))
"""

_LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+)(?: \((.*)\))?\s*$")
_SUMMARY = re.compile(r"^upy: (\d+) passed, (\d+) failed, (\d+) skipped")
WORD = {"PASS": "PASSED", "FAIL": "FAILED", "SKIP": "SKIPPED"}


@dataclass
class Outcome:
    id: str
    result: str  # PASSED, FAILED, SKIPPED
    note: str = ""
    detail: list[str] = field(default_factory=list)


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    summary: tuple[int, int, int] | None = None
    other: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = {"PASSED": 0, "FAILED": 0, "SKIPPED": 0}
        for o in self.outcomes:
            c[o.result] += 1
        return c

    @property
    def ok(self) -> bool:
        c = self.counts()
        return self.summary is not None and c["FAILED"] == 0 and self.summary[1] == 0


class Parser:
    """Feed the runner's output line by line; `on_outcome` sees each test as it ends."""

    def __init__(self, on_outcome=None):
        self.run = Run()
        self.on_outcome = on_outcome
        self._pending: Outcome | None = None

    def _flush(self):
        if self._pending is not None and self.on_outcome:
            self.on_outcome(self._pending)
        self._pending = None

    def line(self, text: str) -> None:
        text = text.rstrip("\r\n")
        m = _LINE.match(text)
        if m:
            self._flush()
            o = Outcome(m.group(2), WORD[m.group(1)], m.group(3) or "")
            self.run.outcomes.append(o)
            if o.result == "FAILED":
                self._pending = o  # its traceback follows
            elif self.on_outcome:
                self.on_outcome(o)
            return
        s = _SUMMARY.match(text)
        if s:
            self._flush()
            self.run.summary = tuple(int(x) for x in s.groups())
            return
        if self._pending is not None and not text.startswith("upy:"):
            self._pending.detail.append(text)
        else:
            self._flush()
            self.run.other.append(text)

    def feed(self, text: str) -> None:
        for ln in text.splitlines():
            self.line(ln)

    def close(self) -> Run:
        self._flush()
        return self.run


def suite_files() -> dict[str, bytes]:
    """{remote path: bytes} the on-board run needs besides the firmware."""
    files = {}
    for f in sorted((REPO_ROOT / "tests" / "firmware").glob("*.py")):
        files["/tests/firmware/" + f.name] = f.read_bytes()
    files["/tests/upy_runner.py"] = (REPO_ROOT / "tests" / "upy_runner.py").read_bytes()
    files["/tests/upy_exclude.txt"] = (REPO_ROOT / "tests" / "upy_exclude.txt").read_bytes()
    for board in sorted((REPO_ROOT / "boards").iterdir()):  # the tests load every board's data
        for name in ("robot.json", "pins.csv"):
            if (board / name).is_file():
                files[f"/boards/{board.name}/{name}"] = (board / name).read_bytes()
    sim = REPO_ROOT / "boards" / "SIM"
    for f in sorted((sim / "simboard").rglob("*.py")):
        files["/boards/SIM/" + f.relative_to(sim).as_posix()] = f.read_bytes()
    return files


def runner_args(k: str | None = None, modules: str | None = None) -> list[str]:
    args = ["/tests/firmware", "--root", "/", "--exclude", "/tests/upy_exclude.txt"]
    return args + (["-k", k] if k else []) + (["--modules", modules] if modules else [])


def run_on_board(board: Board, parser: Parser, *, k: str | None = None, modules: str | None = None,
                 timeout: float = 3600) -> Run:
    buf = bytearray()

    def out(b: bytes) -> None:
        buf.extend(b)
        while b"\n" in buf:
            i = buf.index(b"\n")
            parser.line(buf[:i].decode("utf-8", errors="replace"))
            del buf[:i + 1]

    try:
        board.exec(RUN % {"args": runner_args(k, modules)}, on_output=out, timeout=timeout)
    finally:
        if buf:
            parser.line(buf.decode("utf-8", errors="replace"))
    return parser.close()


def main(ns) -> int:
    from rich.console import Console
    from rich.markup import escape

    con = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    style = {"PASSED": "green", "FAILED": "bold red", "SKIPPED": "yellow"}

    def show(o: Outcome) -> None:
        note = f" ({o.note})" if o.note else ""
        con.print(f"{o.id} [{style[o.result]}]{o.result}[/]{note}")
        for d in o.detail:
            con.print("    " + d, markup=False)

    t0 = time.perf_counter()
    try:
        with con.status("compiling firmware/railbot with mpy-cross"):
            emitted, files = deploy.prepare(ns.board)
        with MpremoteBoard(ns.port) as board:
            with con.status(f"deploying the firmware and the tests to {ns.port}"):
                deploy.deploy(board, files, emitted)
                deploy.sync(board, suite_files())
            con.print(f"running tests/firmware on the board at {ns.port}")
            run = run_on_board(board, Parser(show), k=ns.k, modules=getattr(ns, "modules", None),
                               timeout=ns.timeout)
            board.start()  # a soft reset: the tests' RAM is gone and main.py runs the robot again
    except BoardError as e:
        err.print(f"[bold red]railbot test --port:[/] {escape(str(e))}")
        return e.code
    c = run.counts()
    secs = time.perf_counter() - t0
    if run.summary is None:
        for ln in run.other[-10:]:
            con.print(ln, markup=False)
        err.print("[bold red]railbot test --port:[/] the runner ended without a summary line")
        return 1
    colour = "green" if run.ok else "red"
    con.print(f"[{colour}]= {c['FAILED']} failed, {c['PASSED']} passed, {c['SKIPPED']} skipped "
              f"on the board in {secs:.1f}s =[/]")
    return 0 if run.ok else 1
