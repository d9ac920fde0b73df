"""What the bench's runners share: where things are, a part's Result, and running a measuring script (CPython, or MicroPython through bench.mjs) for its
`BENCH name value`, `NOTE ...` and `ERROR ...` lines."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host import upy

REPO_ROOT = upy.REPO_ROOT
BOARDS = REPO_ROOT / "boards"
MPY_DIR = REPO_ROOT / "build" / "bench" / "mpy"
BENCH_DRIVER = upy.UPY_DIR / "bench.mjs"

FS_FW = "/bench/fw"
FS_BOARDS = "/bench/boards"
FS_LIB = "/bench/lib"  # the bench's own modules (host_tools/upy/bench*.py), importable by every script


class BenchError(RuntimeError):
    """A part of the bench could not run (tools missing, compile error)."""


@dataclass
class Result:
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    errors: list = field(default_factory=list)


# --- running a measuring script ------------------------------------------------------------------

def parse_output(text: str, result: Result) -> bool:
    """Collect `BENCH name value`, `NOTE ...` and `ERROR ...` lines (an error fails the bench);
    True if the script reached its end."""
    done = False
    for line in text.splitlines():
        if line.startswith("BENCH "):
            parts = line.split()
            if len(parts) == 2 and parts[1] == "BENCH_DONE":
                done = True
            elif len(parts) == 3:
                result.figures[parts[1]] = _value(parts[2])
        elif line.strip() == "BENCH_DONE":
            done = True
        elif line.startswith("NOTE "):
            result.notes.append(line[5:])
        elif line.startswith("ERROR "):
            result.errors.append(line[6:])
    return done


def _value(text: str):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return float(text)


def run_script(cmd, label: str, timeout: float | None = None, env=None) -> Result:
    """Run cmd from the repo's root; its figures, notes and errors (a timeout, an exit status other
    than 0 or output that stops before BENCH_DONE is an error, with the output's tail)."""
    res = Result()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                           timeout=timeout, env=env, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        res.errors.append(f"{label}: timed out after {timeout} s")
        return res
    done = parse_output(p.stdout, res)
    if p.returncode != 0 or not done:
        tail = (p.stderr or p.stdout).strip().splitlines()[-15:]
        res.errors.append(f"{label}: exit {p.returncode}" + ("" if done else " before the end")
                          + (":\n  " + "\n  ".join(tail) if tail else ""))
    return res


def sim_env(*extra: Path) -> dict:
    """The environment of a CPython script on the simulated board: the firmware, boards/SIM and extra on its path."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (REPO_ROOT / "firmware", BOARDS / "SIM", *extra)))


def run_cpython(args, label: str, *, timeout: float | None = None, extra_path=()) -> Result:
    """python ARGS... on the simulated board (sim_env)."""
    return run_script([sys.executable, *[str(a) for a in args]], label, timeout, env=sim_env(*extra_path))


def run_upy(script: Path, args=(), *, mpy_dir: Path = MPY_DIR, mounts=(), paths=(), label: str,
            timeout: float | None = None) -> Result:
    """A bench script under MicroPython, driven by bench.mjs: the firmware from mpy_dir, the SIM
    board, the bench's own modules (host_tools/upy/bench*.py) at FS_LIB, `mounts` as (host path,
    board path) and `paths` added to sys.path."""
    upy.ensure_npm()
    node = upy.node_path()
    if node is None:
        raise upy.UpyUnavailable("`node` is not on PATH: the bench runs MicroPython's WebAssembly port")
    cmd = [node, str(BENCH_DRIVER), "--heap", str(upy.DEFAULT_HEAP),
           "--mount", f"{Path(mpy_dir).resolve()}:{FS_FW}", "--mount", f"{BOARDS}:{FS_BOARDS}"]
    for lib in sorted(upy.UPY_DIR.glob("bench*.py")):
        cmd += ["--mount", f"{lib}:{FS_LIB}/{lib.name}"]
    for host, board in mounts:
        cmd += ["--mount", f"{host}:{board}"]
    cmd += ["--path", FS_FW, "--path", f"{FS_BOARDS}/SIM"]
    for p in (*paths, FS_LIB):
        cmd += ["--path", p]
    return run_script(cmd + ["--", str(script), *[str(a) for a in args]], label, timeout)
