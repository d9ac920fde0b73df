"""A simulated day without faults on the SIM board: the heap's growth over it under MicroPython
(upy_heap_growth_day_bytes), the requests served, the alarms, the plant's violations, the control
tick's lateness and the wall time, under MicroPython and beside it CPython (`upy_day_*`,
`cpython_day_*`): bench_upy.py's `day` phase. MicroPython subset.

log=None and no position tracking; the sim's growth is kept out as for the firmware's heap
(benchsim.py); the first reading is taken with the robot homed and before the cars' tasks exist,
the last one after every car has left (their tasks finished and freed), so neither counts the
sim's cars.
"""
from benchlib import UPY, now_ms, note, out
from benchsim import check_deployed, find_uarts, run_until, scrub, sim_heap

HOUR_MS = 3600000


def short_cars(seed, n):
    """n cars in about two and a half hours, all gone by the end: a day in miniature."""
    from simboard.day import Car, MIN_MS
    from simboard.rng import Rng

    rng = Rng(seed * 31 + 5)
    cars = []
    bays = list(range(1, 45))
    for i in range(n):
        bay = bays.pop(rng.below(len(bays)))
        arrive = (5 + 12 * i) * MIN_MS
        cars.append(Car(i + 1, bay, arrive, rng.between(60, 80) * MIN_MS, rng.between(10, 30) * MIN_MS,
                        1 * MIN_MS, rng.between(1, 3) * MIN_MS, rng.between(2, 6) * MIN_MS))
    return cars



def phase_day(folder, seed, hours, short):
    """Generator: a simulated day; heap growth (MicroPython) and wall time."""
    from simboard.board import SimBoard
    from simboard import vasyncio as aio
    from simboard.day import Day, plan_day

    board = SimBoard(folder, seed=seed)
    robot = board.robot()  # its record on the simulated flash, as make sim runs
    if short:
        cars = short_cars(seed, short)
        end_ms = max(c.leave_ms for c in cars) + 10 * 60000
    else:
        cars = plan_day(seed, hours=hours)
        end_ms = (hours + 12) * HOUR_MS  # the evening's cars leave in the morning
        if cars and cars[-1].leave_ms + 600000 > end_ms:
            end_ms = max(c.leave_ms for c in cars) + 600000
    find_uarts(robot)
    # The cars' tasks are created after the first reading and are all finished (and freed) by
    # the last one: a suspended coroutine keeps whatever its dead stack slots still point to
    # (MicroPython scans a generator's whole state), so kept tasks would count the sim's garbage.
    day = Day(board, robot, [], log=None)
    day.start()  # the robot's tasks and `home`
    homed = run_until(board, lambda: robot.homed, 120000)
    check_deployed()
    # One job before the first reading (a unit fetched to bay 1, its session released): what the
    # firmware and the simulation make once, on first use (a capture's DMA binding, the record's
    # files, names interned on a first call), is the working set, not growth over the day.
    if robot.command("charge 1").startswith("ok"):
        run_until(board, lambda: not robot.jobs and robot.state == "IDLE", 600000)
        robot.command("release 1")
    scrub(0, 0, 0, 0, 0, 0, 0, 0)
    h0 = 0
    if UPY:
        h0 = yield from sim_heap(board, day)
    day.cars = cars
    for car in cars:  # what Day.start() does for each car
        aio.create_task(day.car_life(car))
    t_start = board.clock.now_ms
    wall = 0.0
    t = t_start
    while t < end_ms:
        t = t + HOUR_MS if t + HOUR_MS < end_ms else end_ms
        t0 = now_ms()
        day.run(t)
        wall += now_ms() - t0
        scrub(0, 0, 0, 0, 0, 0, 0, 0)
        yield None  # back to the top level, where the port collects garbage
    h1 = 0
    if UPY:
        h1 = yield from sim_heap(board, day)
    s = day.summary()
    impl = "upy" if UPY else "cpython"
    out(impl + "_day_wall_s", wall / 1000)
    out(impl + "_day_sim_s", (end_ms - t_start) // 1000)
    if UPY:
        out("upy_heap_growth_day_bytes", h1 - h0)
    for k in ("served", "requests", "violations", "alarms", "tick_late_max_ms", "flash_erases"):
        out(impl + "_day_" + k, s[k])
    note("%s day: %d cars, %d requests, %d served, %d alarms, %d violations, %d tasks left, homed=%s, %s" % (
        impl, len(cars), s["requests"], s["served"], s["alarms"], s["violations"], len(board.loop.queue), homed,
        robot.command("status")))


