"""The plant's own truth (issue 15, deliverable 7), measured on the simulated board in simulated time.

Each seed's plant draws its mechanics (simboard.plant: wheel diameter, marker places with their
ports, stow switch and latch heights); the firmware reads only the board data. Over TRUTH_SEEDS
rigs, each stopping at every station in a random order, and over a simulated day (every grasp and
every latch at a port), the carriage's true place is compared with the port's true place.

plant_marker_offset_mm_max and plant_wheel_scale_ppm_max are the largest drawn |offset| over the
plants measured here (read from the plants, never from the tolerance constants);
bay_stop_true_error_mm_max the largest |stop - true port place|. The injected closed-loop faults
(slip, lost steps, noise, jitter) are bench_motion.py's bay_stop_error_mm_max, against the same truth.

Prints `BENCH name value` lines, then BENCH_DONE. Runs under CPython (as `make bench` does) and
MicroPython; sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard.board import SimBoard  # noqa: E402
from simboard.day import HOUR_MS, Day, plan_day  # noqa: E402
from simboard.rig import BOARD, true_station_stops  # noqa: E402

TRUTH_SEEDS = (1, 2, 3, 4)  # 26 stations each: 104 station moves
DAY_SEED = 5


def _mm(um):
    return "%d.%03d" % (um // 1000, um % 1000)


def main():
    worst = moves = alarms = violations = 0
    offset_max = wheel_max = 0
    plants = []
    for seed in TRUTH_SEEDS:
        errors, plant, alarm = true_station_stops(seed, faults=False)
        plants.append(plant)
        moves += len(errors)
        alarms += 1 if alarm else 0
        violations += len(plant.violations)
        for e in errors:
            worst = max(worst, abs(e))
    board = SimBoard(BOARD, seed=DAY_SEED)
    day = Day(board, board.robot(), plan_day(DAY_SEED, hours=24))
    day.start()
    day.run(36 * HOUR_MS)  # the evening's cars leave in the morning
    summary = day.summary()
    plant = board.plant
    plants.append(plant)
    worst = max(worst, plant.port_x_err_max_um)
    alarms += summary["alarms"]
    violations += len(plant.violations)
    for p in plants:
        wheel_max = max(wheel_max, abs(p.wheel_scale_ppm))
        for off in p.marker_offset_um.values():
            offset_max = max(offset_max, abs(off))
    print("BENCH plant_truth_plants %d" % len(plants))
    print("BENCH plant_marker_offset_mm_max %s" % _mm(offset_max))
    print("BENCH plant_wheel_scale_ppm_max %d" % wheel_max)
    print("BENCH bay_stop_true_error_mm_max %s" % _mm(worst))
    print("BENCH bay_stop_true_moves %d" % moves)
    print("BENCH bay_stop_true_day_port_acts %d" % plant.port_acts)
    print("BENCH bay_stop_true_day_unserved %d" % (summary["requests"] - summary["served"]))
    print("BENCH bay_stop_true_alarms %d" % alarms)
    print("BENCH bay_stop_true_violations %d" % violations)
    print("BENCH_DONE")


if __name__ == "__main__":
    main()
