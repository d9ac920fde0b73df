"""The firmware on the SIM board: its heap, the control tick, the planner's words and a day, under
MicroPython (host_tools/upy/bench_upy.py) and the day under CPython beside it; the simulated
board's faithfulness to the rp2 port (host_tools/upy/bench_board.py: the tick left of the count's
start, the task-crash campaign); and the figures derived from theirs."""

from __future__ import annotations

from pathlib import Path

from railbot_host import upy
from railbot_host.bench.common import BOARDS, FS_BOARDS, MPY_DIR, Result, run_cpython, run_upy

BENCH_SCRIPT = upy.UPY_DIR / "bench_upy.py"
BOARD_SCRIPT = upy.UPY_DIR / "bench_board.py"


def _day_args(seed: int, hours: int, short: int) -> list[str]:
    return ["--seed", str(seed), "--hours", str(hours)] + (["--short", str(short)] if short else [])


def run_upy_bench(phases, *, mpy_dir: Path = MPY_DIR, seed: int = 1, hours: int = 24, short: int = 0,
                  timeout: float | None = None, label: str = "MicroPython") -> Result:
    """bench_upy.py's phases (heap, tick, segment, day) under MicroPython, firmware from mpy_dir."""
    return run_upy(BENCH_SCRIPT, ["--board", f"{FS_BOARDS}/SIM", *_day_args(seed, hours, short), *phases],
                   mpy_dir=mpy_dir, label=label, timeout=timeout)


def run_cpython_day(*, seed: int = 1, hours: int = 24, short: int = 0, timeout: float | None = None) -> Result:
    """The same day under CPython with the firmware's .py sources: its wall time."""
    return run_cpython([BENCH_SCRIPT, "--board", BOARDS / "SIM", *_day_args(seed, hours, short), "day"],
                       "CPython day", timeout=timeout)


def run_board_upy(*, mpy_dir: Path = MPY_DIR, seed: int = 1, timeout: float | None = None) -> Result:
    """bench_board.py `left` under MicroPython: a control tick's allocation on a board whose
    measuring wheel started counting right of the whole traverse (bench_tick.py's replayed tick)."""
    return run_upy(BOARD_SCRIPT, ["--board", f"{FS_BOARDS}/SIM", "--seed", str(seed), "left"],
                   mpy_dir=mpy_dir, label="MicroPython tick left of the count's start", timeout=timeout)


def run_board_cpython(*, seed: int = 1, timeout: float | None = None) -> Result:
    """bench_board.py `crash` under CPython (simulated time): the task-crash campaign."""
    return run_cpython([BOARD_SCRIPT, "--board", BOARDS / "SIM", "--seed", str(seed), "crash"], "task crashes",
                       timeout=timeout)


def derive(fig: dict) -> None:
    """The tick's cost ratio, and the days' figures computed from others."""
    if fig.get("tick_replay_us") is not None and fig.get("empty_loop_1000_us"):
        fig["tick_cost_ref_ratio"] = round(fig["tick_replay_us"] / fig["empty_loop_1000_us"], 4)
    for impl in ("upy", "cpython"):  # with no fault injected, no request may go unserved
        if fig.get(impl + "_day_requests") is not None and fig.get(impl + "_day_served") is not None:
            fig[impl + "_day_unserved"] = fig[impl + "_day_requests"] - fig[impl + "_day_served"]
    late = [fig[k] for k in ("upy_day_tick_late_max_ms", "cpython_day_tick_late_max_ms") if fig.get(k) is not None]
    if late:
        fig["sim_tick_late_max_ms"] = max(late)
    if fig.get("upy_day_wall_s") and fig.get("cpython_day_wall_s"):
        fig["upy_vs_cpython_day_ratio"] = round(fig["upy_day_wall_s"] / fig["cpython_day_wall_s"], 2)
    if fig.get("upy_day_wall_s") and fig.get("upy_day_sim_s"):
        fig["sim_speedup_upy"] = round(fig["upy_day_sim_s"] / fig["upy_day_wall_s"], 1)
