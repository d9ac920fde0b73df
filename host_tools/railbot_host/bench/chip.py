"""The real rp2 port on an emulated RP2040: the si_ figures (railbot_host.silicon_bench, with the
plant on the chip's pins, railbot_host.pinplant) and the CPU cost table's drift from them
(railbot_host.cpu_costs)."""

from __future__ import annotations

from railbot_host.bench.common import Result


def run_silicon(say=None) -> Result:
    """The si_ figures: the firmware's own code on the emulated RP2040 (railbot_host.silicon_bench);
    an image that cannot be built or booted is an error, never a skip."""
    from railbot_host import silicon_bench

    res = Result()
    res.figures, res.errors = silicon_bench.measure(say=say)
    return res


def derive(fig: dict) -> list[str]:
    """cpu_cost_drift_pct_<name> and cpu_cost_drift_max_pct from the si_ figures; the errors found."""
    from railbot_host import cpu_costs

    return cpu_costs.derive(fig)
