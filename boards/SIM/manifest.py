# Frozen build for the simulated board: the railbot package and main.py.
metadata(version="0.1.0", description="railbot firmware, simulated board (SIM)")

package("railbot", base_path="../../firmware")
module("main.py", base_path="../../firmware")
