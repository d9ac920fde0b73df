"""The car park's gateway (railbot_host.gateway.day): the gateway, the simulated robot and units'
bus and a test CSMS on one virtual clock, a day with the gateway killed at seeded instants and the
CSMS cut for an hour."""

from __future__ import annotations

from railbot_host.bench.common import REPO_ROOT, Result, run_cpython


def run_gateway_day(*, seed: int = 1, timeout: float | None = None) -> Result:
    """The gateway's day under CPython; its ocpp_, gateway_, session_ and eta_ figures."""
    return run_cpython(["-m", "railbot_host.gateway.day", "--seed", str(seed)], "gateway day", timeout=timeout,
                       extra_path=[REPO_ROOT / "host_tools"])
