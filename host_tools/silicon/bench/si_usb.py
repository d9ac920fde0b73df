"""On the emulated RP2040 (railbot_host.silicon_bench): the robot and its USB link as main.py runs them, and how late a 10 ms task wakes while the host reads, then while it reads nothing."""
# The host prepends N_READING, LIMIT_MS. The host (silicon_bench.usb_stall) says hello, sends
# N_READING `alarms` requests while it reads, more while it reads nothing, then `status` once it
# reads again, then `charge 1` and `cancel 1` (each saves the record on the flash). Each `alarms`
# reply is about 330 bytes.
import asyncio
import time
import main

robot = main.build()
robot.hw.watchdog_off()  # the robot's tasks feed it; watchdog_off keeps a stall from resetting the chip
link, port = robot.links[0]  # the USB (port.Usb)
# the longest wake-up past its 10 ms (us): the host reading; not reading (its requests sent), until
# its `status` once it reads again; after that; before its hello; from its `charge` (saves) on
late = [0, 0, 0, 0, 0]
wakes = [0, 0, 0, 0, 0]


final = [False]
saves = [False]
done = [False]
command = robot.command


def last(line):
    if line == "status":
        final[0] = True
    elif line.startswith("charge"):
        saves[0] = True
    reply = command(line)
    if line.startswith("cancel"):
        done[0] = True
    return reply


robot.command = last  # what Link calls: tells the host's last requests


def phase():
    if not link.session:
        return 3
    if saves[0]:
        return 4
    return 0 if link.executed < N_READING else (2 if final[0] else 1)


async def probe():
    # sleeps 10 ms as motion_task does between control ticks; what else holds the CPU makes it late
    last = time.ticks_us()
    while True:
        await asyncio.sleep_ms(10)
        now = time.ticks_us()
        p = phase()
        d = time.ticks_diff(now, last) - 10000
        if d > late[p]:
            late[p] = d
        wakes[p] += 1
        last = now


async def run():
    robot.start()
    robot.spawn("link0", link.serve, port)
    robot.spawn("probe", probe)
    print("SI ready 1")
    t0 = time.ticks_ms()
    while not done[0] and time.ticks_diff(time.ticks_ms(), t0) < LIMIT_MS:
        await asyncio.sleep_ms(50)
    await asyncio.sleep_ms(200)  # the last reply goes out
    for i in range(5):
        print("SI late_us_%d %d" % (i, late[i]))
        print("SI wakes_%d %d" % (i, wakes[i]))
    print("SI executed %d" % link.executed)
    print("SI txq_dropped %d" % link.txq.dropped)
    print("SI tick_late_max_ms %d" % robot.tick_late_max_ms)


try:
    asyncio.run(run())
finally:
    robot.shutdown()
    robot.hw.watchdog_off()
print("SI done 1")
