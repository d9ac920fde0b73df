"""The simulated board (boards/SIM): plant, virtual clock and event loop, simulated machine and rp2."""
from simboard.board import SimBoard, install  # noqa: F401
