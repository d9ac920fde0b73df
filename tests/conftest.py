"""pytest setup: firmware, the SIM board and the firmware test helpers import as on the board; host tools import uninstalled."""
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _p in ("firmware", "boards/SIM", "tests/firmware", "host_tools"):
    if str(_ROOT / _p) not in sys.path:
        sys.path.insert(0, str(_ROOT / _p))

import simboard  # noqa: E402

simboard.install()  # simulated machine/rp2 and virtual ticks, as the MicroPython runner does
