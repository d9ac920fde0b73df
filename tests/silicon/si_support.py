"""What the silicon tier's tests share besides fixtures."""

import subprocess
import sys


def run_cli(*args, timeout=180, input=None):
    """The `railbot` command of this Python (what a technician types), as a subprocess."""
    return subprocess.run([sys.executable, "-m", "railbot_host.cli", *args], capture_output=True, text=True,
                          timeout=timeout, input=input)
