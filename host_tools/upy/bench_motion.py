"""Motion figures measured on the simulated board (simulated time: machine-independent).

Prints `BENCH name value` lines, then BENCH_DONE. Runs under CPython (as `make bench` does) and
MicroPython; sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard.rig import (Rig, DC_GRIPPER, bay_stops, cp_readings, grip_jam_cutoff_ms, grip_rate_hz,  # noqa: E402
                          hold_from_full_speed, homing_errors_um)

HOMINGS = 100

rig = Rig(units=[(1, "D27L")])
print("BENCH hold_to_standstill_ms %d" % hold_from_full_speed(rig))
print("BENCH hold_bound_ms %d" % (rig.robot.x.v_max * 1000 // rig.robot.x.a + 80 + 2 * rig.robot.tick_ms))

rig = Rig(home=False)
errors = homing_errors_um(rig, HOMINGS)
spread = max(errors) - min(errors)
print("BENCH homing_repeatability_mm %d.%03d" % (spread // 1000, spread % 1000))
print("BENCH homing_runs %d" % len(errors))
print("BENCH homing_alarms %d" % (1 if rig.robot.alarm else 0))
BAY_STOPS = 100
rig = Rig()
errors, approach = bay_stops(rig, BAY_STOPS)
worst = max(abs(e) for e in errors) if errors else 999999
print("BENCH bay_stop_error_mm_max %d.%03d" % (worst // 1000, worst % 1000))
print("BENCH bay_stop_runs %d" % len(errors))
print("BENCH bay_stop_alarms %d" % (1 if rig.robot.alarm else 0))
print("BENCH bay_stop_approach_ms_mean %d" % (sum(approach) // len(approach) if approach else 0))
rig = Rig()
bay_stops(rig, 5, lost_steps_ppm=50000)
print("BENCH lost_steps_5pct_alarm %d" % (1 if rig.robot.alarm == 4 else 0))  # FOLLOWING_ERROR
CP_READINGS = 12000  # debounced control-pilot readings: random state, duty, phase; noise and spikes
rig = Rig(home=False)
correct, dangerous = cp_readings(rig, CP_READINGS)
accuracy = correct * 100000 // CP_READINGS
print("BENCH cp_classify_accuracy %d.%05d" % (accuracy // 100000, accuracy % 100000))
print("BENCH cp_dangerous_misreads %d" % dangerous)
print("BENCH cp_readings %d" % CP_READINGS)
rig = Rig(home=False, gripper=DC_GRIPPER)  # the DC gear-motor gripper: its loop closes, opens, jams
rate = min(grip_rate_hz(rig, True), grip_rate_hz(rig, False))
print("BENCH grip_loop_rate_hz %d" % rate)
worst, cuts, alarm = grip_jam_cutoff_ms(rig)
print("BENCH grip_stall_cutoff_ms %d" % (worst if cuts == 2 and alarm == 18 else 999))  # GRIP_JAM after one retry
print("BENCH grip_jam_stops %d" % cuts)
print("BENCH_DONE")
