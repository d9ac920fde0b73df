"""The link's fuzzing under MicroPython (host_tools/upy/bench_link.py, the fuzz from
tests/firmware/linkfuzz.py): corrupted frames at the parser, mutated commands at a simulated
robot, and the parser's allocation per byte."""

from __future__ import annotations

from pathlib import Path

from railbot_host import upy
from railbot_host.bench.common import MPY_DIR, REPO_ROOT, Result, run_upy

LINK_SCRIPT = upy.UPY_DIR / "bench_link.py"


def run_link_fuzz(args=(), *, mpy_dir: Path = MPY_DIR, timeout: float | None = None,
                  label: str = "MicroPython link fuzz") -> Result:
    """bench_link.py under MicroPython (firmware from mpy_dir, the fuzz from tests/firmware/linkfuzz.py)."""
    return run_upy(LINK_SCRIPT, args, mpy_dir=mpy_dir, mounts=[(REPO_ROOT / "tests" / "firmware", "/bench/tests")],
                   paths=["/bench/tests"], label=label, timeout=timeout)
