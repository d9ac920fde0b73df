"""On the emulated RP2040 (railbot_host.silicon_bench): Robot.tick() at rest, then over a whole move of MOVE_MM run open-loop."""
# The host prepends MOVE_MM, IDLE_TICKS. Prints `SI name value` lines; emulated time (ticks_us).
import asyncio
import gc
import machine
import time
import main

robot = main.build()
robot.hw.watchdog_off()  # no task feeds it between the measurements below

# The plant's static switches, which no plant drives here: the input of each pin forced by its
# IO_BANK0 GPIOx_CTRL.INOVER (2: low, 3: high), what the robot reads through the real pad path.
# E-stop chain closed and lift stowed (high); limits and driver fault inactive (low); the marker
# reader's line idle (high, as a UART line idles: left open the UART reads break bytes, and every
# tick spent about 250 us parsing them).
_CTRL = 0x40014004
mem = machine.mem32
for pin, level in ((27, 3), (14, 3), (9, 2), (10, 2), (5, 2), (1, 3)):
    a = _CTRL + 8 * pin
    mem[a] = (mem[a] & ~(3 << 16)) | (level << 16)

# At rest: the tick as supervise_task calls it.
cost = []
for _ in range(IDLE_TICKS):
    t0 = time.ticks_us()
    robot.tick()
    cost.append(time.ticks_diff(time.ticks_us(), t0))
    time.sleep_ms(10)
cost.sort()
print("SI tick_cost_us_idle", cost[len(cost) // 2])
print("SI tick_cost_us_idle_max", cost[-1])
print("SI idle_alarm", robot.alarm)

# Open-loop: nothing turns the measuring wheel, so the following-error and encoder-fault limits
# (board data x.following_error_max_mm, x.encoder_fault_mm) are set beyond any error; _supervise
# still runs every check, it only cannot trip on these two.
robot.carriage.fe_max_steps = robot.carriage.enc_fault_steps = 1 << 29

# Every tick of the move, timed where motion_task calls it (an instance attribute shadows the method).
st = [0, 0, 0, 0, -1]  # ticks, sum us, max us, ticks over 2000 us, the first (priming) tick's us
by_phase = [0] * 8  # max us by the X planner's phase at the tick's start
# by the number of step words the tick planned (capped at 31): ticks, and their us summed (the
# host fits the moving tick's cost and a word's cost to it: the CPU cost table's tick_move_us,
# step_word_us)
words_n = [0] * 32
words_us = [0] * 32
plain = robot.tick
axis = robot.x


def timed():
    ph = axis.phase
    w0 = axis.words_total
    t0 = time.ticks_us()
    plain()
    c = time.ticks_diff(time.ticks_us(), t0)
    k = axis.words_total - w0
    k = k if k < 31 else 31
    words_n[k] += 1
    words_us[k] += c
    if st[4] < 0:
        st[4] = c
    st[0] += 1
    st[1] += c
    if c > st[2]:
        st[2] = c
    if c > 2000:
        st[3] += 1
    if c > by_phase[ph]:
        by_phase[ph] = c


out = []


async def move():
    robot.start()
    await asyncio.sleep_ms(300)
    gc.collect()
    free0 = gc.mem_free()
    t0 = time.ticks_us()
    gc.collect()
    out.append(("gc_collect_us", time.ticks_diff(time.ticks_us(), t0)))
    robot.tick = timed
    words0 = axis.words_total
    start = time.ticks_ms()
    # as the mission moves the carriage: Carriage.run_axis (interlock, plan, prime, wake motion_task,
    # wait while the axis is busy, then let motion_task run out)
    await robot.carriage.run_axis(axis, axis.pos + MOVE_MM * robot.x_spm)
    while axis.busy() or robot.moving:
        await asyncio.sleep_ms(10)
    robot.tick = plain
    out.append(("move_s", time.ticks_diff(time.ticks_ms(), start) / 1000))
    out.append(("move_mm", (axis.pos * 100 // robot.x_spm) / 100))
    out.append(("move_words", axis.words_total - words0))
    out.append(("move_alarm", robot.alarm))
    out.append(("move_heap_used_bytes", free0 - gc.mem_free()))


try:
    asyncio.run(move())
finally:
    robot.shutdown()
    robot.hw.watchdog_off()
for k, v in out:
    print("SI", k, v)
print("SI tick_cost_us_max", st[2])
print("SI tick_cost_us_mean", st[1] // st[0] if st[0] else -1)
print("SI tick_cost_us_start", st[4])
print("SI move_ticks", st[0])
print("SI move_ticks_over_2000us", st[3])
for ph, name in ((1, "accel"), (3, "cruise"), (4, "decel")):
    print("SI tick_cost_us_max_%s" % name, by_phase[ph])
print("SI move_tick_late_max_ms", robot.tick_late_max_ms)
print("SI tick_words_n", ",".join(str(v) for v in words_n))
print("SI tick_words_us", ",".join(str(v) for v in words_us))
