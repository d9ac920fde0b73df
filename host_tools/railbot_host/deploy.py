"""`railbot deploy`: compile the firmware with mpy-cross and copy to a board only what differs.

Steps: compile firmware/railbot to build/deploy/mpy (mpy-cross, as the bench does); refuse a board
whose sys.implementation._mpy is not the version in the .mpy headers; read a digest of every file
on the board under /railbot plus main.py and the board data; write only the files whose digest
differs (a file edited on the board by hand is rewritten) and remove stale files under /railbot (a
stale robot.py would shadow robot.mpy); then import railbot.build_id on the board and check that its
tree hash is the one just deployed. The _mpy, the digests, the stale files and the tree the board
imports come back from one exec: a redeploy with nothing changed is one raw-REPL round trip.

The digest is MD5 where the board's hashlib has it (sha256 where not): it tells a file that differs,
it signs nothing, and on the rp2 port sha256 costs the chip about 5.6 times as much (70 ms against
12.5 ms of emulated chip time per 64 KB, most of a no-change deploy's work).

Exit status: 0 deployed, 1 failed (write or check), 2 usage, 3 no board, 4 wrong _mpy,
5 mpy-cross failed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host import bench, native
from railbot_host.board import EXIT_BUILD, EXIT_WRONG_MPY, Board, BoardError, MpremoteBoard

REPO_ROOT = bench.REPO_ROOT
BUILD_DIR = REPO_ROOT / "build" / "deploy" / "mpy"
BOARDS = ("SIM", "PICO")
PKG = "/railbot"
BUILD_ID = PKG + "/build_id.py"


class WrongMpy(BoardError):
    code = EXIT_WRONG_MPY


class BuildFailed(BoardError):
    code = EXIT_BUILD


@dataclass
class Report:
    files: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_written: int = 0
    tree: str = ""
    seconds: float = 0.0


def mpy_header_version(data: bytes) -> int:
    """The .mpy version of a compiled file (header byte 1). A bytecode-only file carries no
    sub-version (byte 2 is 0): a board loads it when its own major version is the same."""
    if len(data) < 4 or data[0] != ord("M"):
        raise BuildFailed("not an .mpy file (no 'M' header)")
    return data[1] | (data[2] & 3) << 8


def board_mpy_ok(board_mpy: int, emitted: int) -> bool:
    """sys.implementation._mpy is version | sub-version << 8 | arch << 10; bytecode needs the same
    version (and the same sub-version only if the file has native code, i.e. sets one)."""
    if board_mpy < 0 or (board_mpy & 0xFF) != (emitted & 0xFF):
        return False
    return not emitted >> 8 or (board_mpy >> 8 & 3) == (emitted >> 8 & 3)


def fmt_mpy(v: int) -> str:
    if v < 0:
        return "none"
    return f"v{v & 0xFF}.{v >> 8 & 3}" if v >> 8 & 3 else f"v{v & 0xFF}"


def compile_tree(dst: Path = BUILD_DIR) -> list[Path]:
    try:
        return bench.compile_firmware(dst)
    except bench.BenchError as e:
        raise BuildFailed(str(e)) from None


def image(board_name: str, mpy_dir: Path = BUILD_DIR) -> dict[str, bytes]:
    """{remote path: content} of everything a deploy installs (mpy_dir holds the compiled tree),
    with /railbot/build_id.py last: TREE is the sha256 of all the other files."""
    if board_name not in BOARDS:
        raise BoardError(f"unknown board {board_name!r}: expected one of {', '.join(BOARDS)}")
    files: dict[str, bytes] = {}
    pkg = Path(mpy_dir) / "railbot"
    for f in sorted(pkg.rglob("*.mpy")):
        files[PKG + "/" + f.relative_to(pkg).as_posix()] = f.read_bytes()
    files["/main.py"] = (REPO_ROOT / "firmware" / "main.py").read_bytes()
    for name in ("robot.json", "pins.csv"):
        files["/" + name] = (REPO_ROOT / "boards" / board_name / name).read_bytes()
    files[BUILD_ID] = build_id(files, board_name).encode()
    return files


def tree_hash(files: dict[str, bytes]) -> str:
    """What is deployed (build_id.py itself left out), as firmware_build.hash_tree identifies a tree."""
    from railbot_host.firmware_build import hash_tree

    h = hashlib.sha256()
    hash_tree(h, {path: files[path] for path in files if path != BUILD_ID})
    return h.hexdigest()


def build_id(files: dict[str, bytes], board_name: str) -> str:
    """TREE: what is on the board; SRC: the firmware source tree (as a frozen image's TREE), which
    `railbot status` compares with the host's; COMMIT: the host's git commit at deploy."""
    from railbot_host.firmware_build import git_commit, host_source_tree

    return (f"# What `railbot deploy` put on this board.\nTREE = {tree_hash(files)!r}\n"
            f"BOARD = {board_name!r}\nSRC = {host_source_tree(board_name)!r}\n"
            f"COMMIT = {git_commit()!r}\nIMAGE = 'deployed'\n")


def digest(algo: str, data: bytes) -> str:
    """The host's digest of `data` as the board's survey names it ('?': the board has no hashlib)."""
    if algo == "?":
        return "?"
    if algo not in ("md5", "sha256"):
        raise BoardError(f"the board hashes with {algo!r}: expected md5 or sha256")
    return hashlib.new(algo, data).hexdigest()


# Run on the board (MicroPython subset). Prints the _mpy and the digest algorithm, then a line
# `path digest` for each listed file that exists and each file under the trees; then what the
# appended code prints. What a no-change deploy costs the chip is mostly this snippet, so it is lean
# (measured on the rp2 port, emulated: docs/silicon.md): the code goes in through the raw paste's
# 128-byte windows, each a wait for the host, so the board is told only the trees and the files
# outside them, and answers with the paths; `import os` of an extensible built-in first searches
# the file system for an os.py (about 4 ms a module on littlefs), the u-names are the built-ins at
# once; one 4 KB buffer.
_SURVEY = """\
import sys
try:
    import uos as os, ubinascii as binascii, uhashlib as hashlib
except ImportError:
    import os, binascii
    try:
        import hashlib
    except ImportError:
        hashlib = None
_A = hashlib and ('md5' if hasattr(hashlib, 'md5') else 'sha256')
print(getattr(sys.implementation, '_mpy', -1), _A or '?')
_b = bytearray(4096)
_m = memoryview(_b)
def _d(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return
    h = _A and getattr(hashlib, _A)()
    n = h and f.readinto(_b)
    while n:
        h.update(_m[:n])
        n = f.readinto(_b)
    f.close()
    print(p, h and binascii.hexlify(h.digest()).decode() or '?')
def _w(d):
    for e in list(os.ilistdir(d)):
        (_w if e[1] & 0x4000 else _d)(d + '/' + e[0])
for _p in %(files)r:
    _d(_p)
for _p in %(trees)r:
    try:
        _w(_p)
    except OSError:
        pass
print('.')
del _b, _m
"""


@dataclass
class Survey:
    mpy: int
    algo: str
    found: dict[str, str]  # {remote path: digest} of the asked-for files that exist
    stale: list[str]  # files under the trees that were not asked for
    extra: str  # the last line the appended code printed


def _under(path: str, trees) -> bool:
    return any(path.startswith(t.rstrip("/") + "/") for t in trees)


def survey(board: Board, files: list[str], trees: list[str] = (), extra: str = "") -> Survey:
    """The board's _mpy, the digests of `files` (remote paths), the files under `trees` that are not
    in `files`, and the last line `extra` (code run after) prints: one exec."""
    files, trees = list(files), list(trees)
    for p in files:
        if "\n" in p or "\r" in p:
            raise BoardError(f"a path with a line break: {p!r}")
    out = board.exec(_SURVEY % {"files": [p for p in files if not _under(p, trees)], "trees": trees}
                     + extra)
    lines = out.strip().splitlines()
    try:
        end = lines.index(".")
        mpy, algo = lines[0].split()
        mpy = int(mpy)
        listed = dict(line.rsplit(" ", 1) for line in lines[1:end])
    except ValueError as e:
        raise BoardError(f"the board's survey reads {out[:200]!r}: {e}") from None
    wanted = set(files)
    return Survey(mpy, algo, {p: d for p, d in listed.items() if p in wanted},
                  sorted(p for p in listed if p not in wanted),
                  lines[-1] if extra and len(lines) > end + 1 else "")


_CHECK = """\
import sys
sys.modules.pop('railbot.build_id', None)
try:
    from railbot import build_id
    print(build_id.TREE)
except Exception as e:  # none yet, or a broken tree (an .mpy of another version)
    print('none: %r' % e)
"""


def sync(board: Board, files: dict[str, bytes], *, prune: tuple[str, ...] = (), progress=None,
         rep: Report | None = None, seen: Survey | None = None) -> Report:
    """Write the `files` ({remote path: bytes}) whose digest on the board differs; remove the files
    under the `prune` folders that are not in `files`. `progress(path, n_done, n_total)`.
    `seen`: the board's survey of exactly these files and folders, if already made."""
    rep = rep or Report()
    rep.files += len(files)
    if seen is None:
        seen = survey(board, [board.path(p) for p in files], [board.path(d) for d in prune])
    board.remove(seen.stale)
    rep.removed += seen.stale
    # a board without hashlib ('?') cannot tell: everything is written
    todo = [p for p in files
            if seen.algo == "?" or seen.found.get(board.path(p)) != digest(seen.algo, files[p])]
    dirs = set()
    for p in todo:
        parts = p.split("/")[1:-1]
        for i in range(1, len(parts) + 1):
            dirs.add(board.path("/" + "/".join(parts[:i])))
    board.mkdirs(dirs)
    for i, p in enumerate(todo):
        board.write_file(board.path(p), files[p])
        rep.written.append(p)
        rep.bytes_written += len(files[p])
        if progress:
            progress(p, i + 1, len(todo))
    if todo:  # what was written reads back with its digest
        back = survey(board, [board.path(p) for p in todo])
        bad = [p for p in todo if back.found.get(board.path(p)) != digest(back.algo, files[p])
               and back.algo != "?"]
        if bad:
            raise BoardError("written but reads back different: " + ", ".join(bad))
    return rep


def check_mpy(board: Board, emitted_mpy: int, have: int | None = None) -> None:
    have = board.mpy_version() if have is None else have
    if not board_mpy_ok(have, emitted_mpy):
        raise WrongMpy(f"the board runs .mpy {fmt_mpy(have)} (sys.implementation._mpy = {have}); "
                       f"mpy-cross emits .mpy {fmt_mpy(emitted_mpy)}: update MicroPython on the board "
                       f"or use a matching mpy-cross")


def deploy(board: Board, files: dict[str, bytes], emitted_mpy: int, *, progress=None) -> Report:
    """Install the firmware image `files` on `board` (see the module's docstring)."""
    t0 = time.perf_counter()
    rep = Report()
    real = board.root == ""  # a real board: check the tree it imports (after a soft reset)
    seen = survey(board, [board.path(p) for p in files], [board.path(PKG)], _CHECK if real else "")
    check_mpy(board, emitted_mpy, seen.mpy)
    sync(board, files, prune=(PKG,), progress=progress, rep=rep, seen=seen)
    rep.tree = tree_hash(files)
    if real:
        running = seen.extra
        if rep.written or rep.removed:
            board.soft_reset()
            running = board.exec(_CHECK).strip().splitlines()[-1]
        if running != rep.tree:
            raise BoardError(f"the board imports tree {running[:40]}, deployed {rep.tree[:12]}")
    rep.seconds = time.perf_counter() - t0
    return rep


def emitted_version(mpy_files: list[Path]) -> int:
    if not mpy_files:
        raise BuildFailed("mpy-cross produced no .mpy files")
    return mpy_header_version(mpy_files[0].read_bytes())


def main(ns) -> int:
    """The CLI: ns.port, ns.board, ns.quiet."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    con = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        with con.status("compiling firmware/railbot with mpy-cross"):
            emitted, files = prepare(ns.board)
        con.print(f"compiled {sum(p.endswith('.mpy') for p in files)} modules (.mpy {fmt_mpy(emitted)}); board {ns.board}, "
                  f"{len(files)} files to check")
        with MpremoteBoard(ns.port) as board:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          console=con, disable=ns.quiet, transient=True) as bar:
                task = bar.add_task("writing", total=None)

                def progress(path, done, total):
                    bar.update(task, total=total, completed=done, description=f"writing {path}")

                rep = deploy(board, files, emitted, progress=progress)
            if not ns.no_start:
                board.start()
    except BoardError as e:
        err.print(f"[bold red]railbot deploy:[/] {escape(str(e))}")
        return e.code
    for p in rep.written:
        con.print(f"  wrote {p}")
    for p in rep.removed:
        con.print(f"  removed stale {p}")
    con.print(f"[green]deployed[/] tree {rep.tree[:12]} to {ns.port}: {len(rep.written)} of "
              f"{rep.files} files written ({rep.bytes_written} bytes), {len(rep.removed)} removed, "
              f"{rep.seconds:.2f} s; the board imports this tree")
    if not ns.no_start:
        con.print(f"main.py started: the robot runs; `railbot status --port {ns.port}` talks to it")
    return 0


def prepare(board_name: str) -> tuple[int, dict[str, bytes]]:
    """Compile the tree, and the board's native modules (railbot_host.native: plan.py as viper code
    for a PICO's RP2040) beside it; (the _mpy the bytecode needs, the image for `board_name`)."""
    made = compile_tree()
    try:
        native.compile_modules(bench.mpy_cross_command(), board_name, REPO_ROOT / "firmware", BUILD_DIR)
    except (native.NativeBuildError, bench.BenchError) as e:
        raise BuildFailed(str(e)) from None
    return emitted_version(made), image(board_name)


class LinkMeter:
    """What crosses an MpremoteBoard's link from now on, counted where mpremote's transport meets
    the port: raw-REPL execs, soft resets, bytes each way (all of the protocol's bytes included).
    Figures that do not depend on the machine, unlike the wall time."""

    def __init__(self, board: MpremoteBoard):
        self.execs = self.soft_resets = self.sent = self.received = 0
        t = board.transport
        meter, serial = self, t.serial
        no_follow, enter = t.exec_raw_no_follow, t.enter_raw_repl

        class Counted:
            def write(self, data):
                meter.sent += len(data)
                return serial.write(data)

            def read(self, n=1):
                data = serial.read(n)
                meter.received += len(data)
                return data

            def __getattr__(self, name):
                return getattr(serial, name)

        def exec_raw_no_follow(command):
            meter.execs += 1
            return no_follow(command)

        def enter_raw_repl(soft_reset=True, **kw):
            meter.soft_resets += bool(soft_reset)
            return enter(soft_reset=soft_reset, **kw)

        t.serial, t.exec_raw_no_follow, t.enter_raw_repl = Counted(), exec_raw_no_follow, enter_raw_repl

    def counts(self) -> dict[str, int]:
        return {"round_trips": self.execs, "soft_resets": self.soft_resets,
                "bytes_sent": self.sent, "bytes_received": self.received}


def measure_nochange(url: str, board_name: str = "SIM", *, chip=None, repeats: int = 3) -> dict:
    """Bench figures: a full deploy to an emptied board at `url`, then `repeats` redeploys with
    nothing changed, in one run; deploy_nochange_ratio = the median redeploy's wall time / the full
    deploy's (the deploy itself: the connection and mpy-cross are the same for both). The median,
    because a redeploy is short enough for one burst of load on the machine to double it; the full
    deploy spans that. Beside them what each moved over the link (LinkMeter) and, given `chip` (a
    callable returning the board's counters, EmulatedBoard.stats), what each cost the chip, in its
    own clock: figures that do not depend on the machine."""
    emitted, files = prepare(board_name)
    with MpremoteBoard(url) as board:
        seen = survey(board, list(files), [PKG])
        board.remove([*seen.found, *seen.stale])  # the full deploy writes everything
        meter = LinkMeter(board)
        runs = []
        for _ in range(1 + repeats):
            link0, chip0 = meter.counts(), chip() if chip else None
            rep = deploy(board, files, emitted)
            link1, chip1 = meter.counts(), chip() if chip else None
            run = {"s": rep.seconds, "written": len(rep.written),
                   **{k: link1[k] - link0[k] for k in link1}}
            if chip:
                run["chip_ms"] = (chip1["nanos"] - chip0["nanos"]) / 1e6
                run["chip_cycles"] = chip1["cycles"] - chip0["cycles"]
            runs.append(run)
    full = runs[0]
    again = sorted(runs[1:], key=lambda r: r["s"])[(repeats - 1) // 2]
    fig = {
        "deploy_full_s": round(full["s"], 3),
        "deploy_full_files_written": full["written"],
        "deploy_nochange_s": round(again["s"], 3),
        "deploy_nochange_files_written": max(r["written"] for r in runs[1:]),
        "deploy_nochange_ratio": round(again["s"] / full["s"], 4) if full["s"] else None,
    }
    for name, run in (("full", full), ("nochange", again)):
        fig[f"deploy_{name}_round_trips"] = run["round_trips"]
        fig[f"deploy_{name}_soft_resets"] = run["soft_resets"]
        fig[f"deploy_{name}_link_bytes"] = run["bytes_sent"] + run["bytes_received"]
        if chip:
            fig[f"deploy_{name}_chip_ms"] = round(run["chip_ms"], 1)
            fig[f"deploy_{name}_chip_cycles"] = run["chip_cycles"]
    if chip and full["chip_ms"]:
        fig["deploy_nochange_chip_ratio"] = round(again["chip_ms"] / full["chip_ms"], 4)
    return fig
