"""Safety: the e-stop at full speed on the simulated board, on the shipped board data and on the
worst case the loader accepts (host_tools/upy/bench_safety.py, CPython, simulated time). The chip's
own e-stop figures (si_estop_*) come with the plant on its pins (railbot_host.pinplant)."""

from __future__ import annotations

from railbot_host import upy
from railbot_host.bench.common import Result, run_cpython

SAFETY_SCRIPT = upy.UPY_DIR / "bench_safety.py"


def run_safety(timeout: float | None = None) -> Result:
    """The e-stop's ramp, standstill and the safety relay's margin under CPython."""
    return run_cpython([SAFETY_SCRIPT], "safety figures", timeout=timeout)
