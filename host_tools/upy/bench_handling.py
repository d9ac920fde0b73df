"""Handling figures on the simulated board (simulated time: machine-independent): the power-cut
campaign (rule 5) and pick and place through a day of injected gripper and port faults, once with
the servo gripper and once with the DC one (`_dc`), each checked alike: every request served, no
alarm but the handling alarms the injected faults explain, every gun left out reported.

Prints `BENCH name value` lines, then BENCH_DONE. Runs under CPython (as `make bench` does) and
MicroPython; sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard.rig import DC_GRIPPER, powercut_campaign  # noqa: E402
from simboard.faults import pick_place_day  # noqa: E402

cases, failed, bad = powercut_campaign()
print("BENCH powercut_cases %d" % cases)
print("BENCH powercut_cases_failed %d" % failed)
for line in bad[:5]:
    print("NOTE powercut: " + line)

for name, gripper in (("", None), ("_dc", dict(DC_GRIPPER))):
    day = pick_place_day(seed=1, hours=24, gripper=gripper)
    s = day.summary()
    rate = day.success_rate_ppm()
    print("BENCH pick_place_success_rate%s %d.%04d" % (name, rate // 1000000, rate % 1000000 // 100))
    print("BENCH pick_place_done%s %d" % (name, day.picks + day.places))
    print("BENCH pick_place_failed%s %d" % (name, day.failed))
    print("BENCH pick_place_faults_injected%s %d" % (name, sum(day.injected.values())))
    print("BENCH pick_place_unsafe_endings%s %d" % (name, len(day.unsafe) + s["violations"]))
    print("BENCH pick_place_day_unserved%s %d" % (name, s["requests"] - s["served"]))
    print("BENCH pick_place_day_requests%s %d" % (name, s["requests"]))
    # every alarm of a fault day must be a handling alarm an injected fault explains (faults.HANDLING)
    print("BENCH pick_place_unexpected_alarms%s %d" % (name, day.alarms - day.failed))
    print("BENCH guns_left_out%s %d" % (name, day.guns_gone))
    print("BENCH guns_left_out_reported%s %d" % (name, day.guns_reported))
    print("BENCH guns_left_out_unreported%s %d" % (name, day.guns_gone - day.guns_reported))
print("BENCH_DONE")
