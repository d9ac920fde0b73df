"""The two tiers agree: the event log of the seeded mission (tests/mission_log.py) under CPython
and under MicroPython (firmware from .mpy), line by line."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

from railbot_host import upy
from railbot_host.bench.common import BOARDS, MPY_DIR, REPO_ROOT, Result

MISSION_LOG = REPO_ROOT / "tests" / "mission_log.py"


def diff_lines(a: list[str], b: list[str]) -> int:
    """Lines that differ between two logs: for every changed block, the longer side."""
    n = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            n += max(i2 - i1, j2 - j1)
    return n


def mission_logs(mission_args=(), *, mpy_dir: Path = MPY_DIR, script: Path = MISSION_LOG,
                 timeout: float | None = None) -> tuple[list[str], list[str], list[str]]:
    """(CPython lines, MicroPython lines, errors) of tests/mission_log.py with mission_args.

    The MicroPython run sees the repo as /repo with the .mpy tree as /repo/firmware."""
    if not Path(script).is_file():
        return [], [], [f"{script} not found: no seeded mission to compare"]
    args = [str(a) for a in mission_args]
    errors = []
    cp = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                        encoding="utf-8", errors="replace", timeout=timeout, cwd=REPO_ROOT)
    if cp.returncode != 0:
        errors.append(f"CPython mission_log: exit {cp.returncode}: {cp.stderr.strip()[-800:]}")
    rel = Path(script).resolve().relative_to(REPO_ROOT).as_posix()
    mp = upy.run(Path(script), mounts=[(Path(mpy_dir), f"{upy.FS_ROOT}/firmware"),
                                       (BOARDS, f"{upy.FS_ROOT}/boards"),
                                       (Path(script), f"{upy.FS_ROOT}/{rel}")],
                 args=args, capture=True, timeout=timeout)
    if mp.returncode != 0:
        errors.append(f"MicroPython mission_log: exit {mp.returncode}: {mp.stderr.strip()[-800:]}")
    return cp.stdout.splitlines(), mp.stdout.splitlines(), errors


def event_log_diff(mission_args=(), *, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    """tier_event_log_diff_lines (a run that failed never counts as agreeing) and tier_event_log_lines."""
    res = Result()
    a, b, errors = mission_logs(mission_args, mpy_dir=mpy_dir, timeout=timeout)
    res.errors += errors
    n = diff_lines(a, b)
    if errors and n == 0:
        n = max(len(a), len(b), 1)  # a run that failed cannot count as agreeing
    res.figures["tier_event_log_diff_lines"] = n
    res.figures["tier_event_log_lines"] = len(a)
    if n and not errors:
        shown = list(difflib.unified_diff(a, b, "cpython", "micropython", n=0, lineterm=""))[:12]
        res.notes.append("event log differs:\n    " + "\n    ".join(shown))
    return res
