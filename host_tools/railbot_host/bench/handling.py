"""Handling: the DC gripper's loop under MicroPython (host_tools/upy/bench_grip.py: its allocation
and heap_lock proof, its rate with its cost charged), the power-cut campaign and the pick-and-place
fault days on the simulated board (host_tools/upy/bench_handling.py under CPython, simulated time),
and the storage faults on the real littlefs (host_tools/upy/bench_storage.py, CPython)."""

from __future__ import annotations

from pathlib import Path

from railbot_host import upy
from railbot_host.bench.common import MPY_DIR, Result, run_cpython, run_upy

GRIP_SCRIPT = upy.UPY_DIR / "bench_grip.py"
HANDLING_SCRIPT = upy.UPY_DIR / "bench_handling.py"
STORAGE_SCRIPT = upy.UPY_DIR / "bench_storage.py"


def run_grip_loop(*, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    """bench_grip.py `alloc` under MicroPython: the loop's steps allocate nothing, under heap_lock too."""
    return run_upy(GRIP_SCRIPT, ["alloc"], mpy_dir=mpy_dir, label="MicroPython grip loop", timeout=timeout)


def run_grip_rate(*, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    """bench_grip.py `rate` under MicroPython (firmware from mpy_dir): grip_loop_rate_hz with the
    loop's cost charged, and the step's cost figures."""
    return run_upy(GRIP_SCRIPT, ["rate"], mpy_dir=mpy_dir, label="MicroPython grip rate", timeout=timeout)


def run_storage(timeout: float | None = None) -> Result:
    """Power cuts at every block program and erase of a mission on the real littlefs, and writes
    failing at every step of every save kind (littlefs and flash.Flash), under CPython."""
    return run_cpython([STORAGE_SCRIPT], "storage figures", timeout=timeout)


def run_handling(timeout: float | None = None) -> Result:
    """Power-cut campaign and the pick-and-place fault days on the simulated board under CPython,
    then the storage faults (run_storage)."""
    res = run_cpython([HANDLING_SCRIPT], "handling figures", timeout=timeout)
    more = run_storage(timeout=timeout)
    res.figures.update(more.figures)
    res.notes += more.notes
    res.errors += more.errors
    return res
