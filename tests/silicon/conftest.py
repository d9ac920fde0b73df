"""Fixtures of the silicon tier: MicroPython's rp2 port on an emulated RP2040 (host_tools/silicon, docs/silicon.md)."""

import subprocess
import sys

import pytest

from railbot_host import firmware_build, silicon, upy


def _need(fn):
    try:
        return fn()
    except silicon.SiliconUnavailable as e:
        pytest.skip(f"silicon tier: {e}")


@pytest.fixture(scope="session")
def si_ready():
    """node, the pinned rp2040js and the bootrom, or a skip that says which is missing."""
    if upy.node_path() is None:
        pytest.skip("silicon tier: `node` is not on PATH")
    _need(silicon.ensure_npm)
    return _need(silicon.bootrom)


@pytest.fixture(scope="session")
def stock(si_ready):
    return _need(silicon.stock_uf2)


@pytest.fixture(scope="session")
def frozen(si_ready):
    """The image with railbot frozen in, from `make firmware` (built here when the arm toolchain is
    installed; else the frozen part of the tier skips with the line that installs it)."""
    missing = firmware_build.missing_tools()
    if missing:
        pytest.skip(f"silicon tier, frozen image: {', '.join(missing)} missing: "
                    f"{firmware_build.APT} (CI installs it)")
    p = subprocess.run([sys.executable, "-m", "railbot_host.cli", "firmware", "--board", "PICO",
                        "--image", "frozen"], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        pytest.fail(f"make firmware BOARD=PICO failed (exit {p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return silicon.frozen_uf2()
