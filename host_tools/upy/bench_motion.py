"""Motion figures measured on the simulated board (simulated time: machine-independent).

hold_to_standstill_ms is the plant's: from the `hold` command to the carriage's last drive step
(simboard.plant.StepAxis), not the firmware's own report (printed beside it, and an ERROR if it
claims standstill more than two ticks before the carriage stopped).

Prints `BENCH name value` lines, then BENCH_DONE. Runs under CPython (as `make bench` does) and
MicroPython; sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard.rig import (Rig, DC_GRIPPER, bay_stops, cp_readings, grip_jam_cutoff_ms,  # noqa: E402
                          homing_errors_um)

HOMINGS = 100
BAY_STOPS = 100
CP_READINGS = 12000  # debounced control-pilot readings: random state, duty, phase; noise and spikes

SETTLE_MS = 1000  # no step for this long after the last one: the carriage is at standstill


def plant_speed_steps_s(rig, window_ms=10):
    """The carriage's real speed from the plant (drive steps made over window_ms of simulated time)."""
    x = rig.plant.x
    a = x.steps
    t0 = rig.now_ms()
    rig.board.loop.run_until(t0 + window_ms)
    d = x.steps - a
    # over the ms the plant really moved: CPU time charged at the window's end (simboard.cpu) can
    # carry the clock, and the plant with it, a ms or two past it
    return (d if d >= 0 else -d) * 1000 // (rig.now_ms() - t0)


def hold_from_full_speed_plant(rig):
    """Hold a traverse at full speed, timed by the plant: (ms from the `hold` command to the last
    drive step the carriage made, the firmware's own report). Full speed is the plant's speed too
    (steps over 10 ms at v_max), and standstill is SETTLE_MS with no step after the last one."""
    robot, plant, x = rig.robot, rig.plant, rig.plant.x
    v_full = robot.x.v_max * 99 // 100  # steps/s (the configured top speed), 1 % for the window
    rig.cmd("charge 2")  # the unit is at the far end: a long traverse back west follows
    end = rig.now_ms() + 600000
    while not (plant_speed_steps_s(rig) >= v_full and plant.held is not None):  # (the speed's window runs time on)
        if rig.now_ms() >= end:
            return -1, robot.hold_standstill_ms
    t0 = rig.now_ms()
    assert rig.cmd("hold").startswith("ok")
    last_ms, steps = t0, x.steps
    while rig.now_ms() - last_ms < SETTLE_MS and rig.now_ms() - t0 < 60000:
        rig.board.loop.run_until(rig.now_ms() + 1)
        if x.steps != steps:
            steps, last_ms = x.steps, rig.now_ms()
    return last_ms - t0, robot.hold_standstill_ms


def main():
    rig = Rig(units=[(1, "D27L")])
    hold_ms, reported_ms = hold_from_full_speed_plant(rig)
    print("BENCH hold_to_standstill_ms %d" % hold_ms)
    print("BENCH hold_reported_standstill_ms %d" % reported_ms)
    print("BENCH hold_bound_ms %d" % (rig.robot.x.v_max * 1000 // rig.robot.x.a + 80 + 2 * rig.robot.tick_ms))
    if hold_ms < 0:
        print("ERROR hold: the carriage never reached full speed (plant) on the way to its unit")
    elif reported_ms < 0 or reported_ms + 2 * rig.robot.tick_ms < hold_ms:
        print("ERROR hold: the firmware reported standstill at %d ms, the carriage stopped at %d ms" % (reported_ms, hold_ms))

    rig = Rig(home=False)
    errors = homing_errors_um(rig, HOMINGS)
    spread = max(errors) - min(errors)
    print("BENCH homing_repeatability_mm %d.%03d" % (spread // 1000, spread % 1000))
    print("BENCH homing_runs %d" % len(errors))
    print("BENCH homing_alarms %d" % (1 if rig.robot.alarm else 0))
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
    rig = Rig(home=False)
    correct, dangerous = cp_readings(rig, CP_READINGS)
    accuracy = correct * 100000 // CP_READINGS
    print("BENCH cp_classify_accuracy %d.%05d" % (accuracy // 100000, accuracy % 100000))
    print("BENCH cp_dangerous_misreads %d" % dangerous)
    print("BENCH cp_readings %d" % CP_READINGS)
    # the DC gear-motor gripper: its loop jams (its rate, with its cost charged, is bench_upy.py's `grip`)
    rig = Rig(home=False, gripper=DC_GRIPPER)
    worst, cuts, alarm = grip_jam_cutoff_ms(rig)
    print("BENCH grip_stall_cutoff_ms %d" % (worst if cuts == 2 and alarm == 18 else 999))  # GRIP_JAM after one retry
    print("BENCH grip_jam_stops %d" % cuts)
    print("BENCH_DONE")


if __name__ == "__main__":
    main()
