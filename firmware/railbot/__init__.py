"""railbot firmware: the rail-guided EV-charging robot, MicroPython."""
VERSION = "0.1.0"
