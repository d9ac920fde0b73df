# Frozen build for a Raspberry Pi Pico: the rp2 port's own modules, the railbot package, main.py.
metadata(version="0.1.0", description="railbot firmware, Raspberry Pi Pico (RP2040)")

include("$(PORT_DIR)/boards/manifest.py")
package("railbot", base_path="../../firmware")
module("main.py", base_path="../../firmware")
