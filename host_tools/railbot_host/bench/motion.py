"""Motion on the simulated board (host_tools/upy/bench_motion.py under CPython, simulated time: the
hold timed by the plant, homing, bay stops, lost steps, the control-pilot reader) and step
generation (railbot_host.steptiming: the planner's words under the step program's law)."""

from __future__ import annotations

from railbot_host import upy
from railbot_host.bench.common import REPO_ROOT, Result, run_cpython

MOTION_SCRIPT = upy.UPY_DIR / "bench_motion.py"
PLANT_SCRIPT = upy.UPY_DIR / "bench_plant.py"


def run_motion(timeout: float | None = None) -> Result:
    """Hold and homing figures on the simulated board under CPython (simulated time); a hold the
    plant timed over its bound is an error of its own."""
    res = run_cpython([MOTION_SCRIPT], "motion figures", timeout=timeout)
    hold, bound = res.figures.get("hold_to_standstill_ms"), res.figures.get("hold_bound_ms")
    if hold is not None and bound is not None and not 0 <= hold <= bound:
        res.errors.append(f"hold_to_standstill_ms {hold} is over v/a + the queued lead ({bound} ms)")
    return res


def run_plant(timeout: float | None = None) -> Result:
    """The plant's own truth (host_tools/upy/bench_plant.py under CPython, simulated time): the drawn
    mechanics and the station stops against the true port places, over seeded rigs and a day."""
    return run_cpython([PLANT_SCRIPT], "plant truth figures", timeout=timeout)


def run_step_timing(timeout: float | None = None) -> Result:
    """Step-timing figures of the planner's words under the step program's law (railbot_host.steptiming)."""
    return run_cpython(["-m", "railbot_host.steptiming"], "step timing figures", timeout=timeout,
                       extra_path=[REPO_ROOT / "host_tools"])


def derive(fig: dict) -> None:
    """hold_margin_ms: the hold's bound less the plant's time to standstill (-1: no hold was timed)."""
    hold, bound = fig.get("hold_to_standstill_ms"), fig.get("hold_bound_ms")
    if hold is not None and bound is not None:
        fig["hold_margin_ms"] = bound - hold if hold >= 0 else -1
