"""The black box (firmware/railbot/blackbox.py): its figures on the simulated board (host_tools/upy/
bench_blackbox.py `sim` under CPython, simulated time) and the heap it holds under MicroPython
(`heap`, firmware from .mpy files)."""

from __future__ import annotations

from pathlib import Path

from railbot_host import upy
from railbot_host.bench.common import MPY_DIR, Result, run_cpython, run_upy

BLACKBOX_SCRIPT = upy.UPY_DIR / "bench_blackbox.py"


def run_blackbox_sim(timeout: float | None = None) -> Result:
    """Events kept across a reboot, flash used over a long day, writes while moving, power cuts."""
    return run_cpython([BLACKBOX_SCRIPT, "sim"], "black box figures", timeout=timeout, extra_path=(upy.UPY_DIR,))


def run_blackbox_heap(*, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    """bench_blackbox.py `heap` under MicroPython: upy_blackbox_heap_bytes."""
    return run_upy(BLACKBOX_SCRIPT, ["heap"], mpy_dir=mpy_dir, label="MicroPython black box heap", timeout=timeout)
