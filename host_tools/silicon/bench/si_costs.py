"""On the emulated RP2040 (railbot_host.silicon_bench.measure_costs): the hot paths of the CPU cost table (boards/SIM/cpu_costs.json) not timed elsewhere: a marker line, a pilot reading, a save."""
# The host prepends N (repeats of each, the median is printed). Prints `SI name value` lines;
# times are emulated (ticks_us). The save's flash time is the host's (the NOR model's busy time).
import machine
import time
import main
from railbot.unitsense import cp_high, cp_state

robot = main.build()
robot.hw.watchdog_off()

# the static switches as si_tick.py forces them (IO_BANK0 GPIOx_CTRL.INOVER: 2 low, 3 high)
_CTRL = 0x40014004
mem = machine.mem32
for pin, level in ((27, 3), (14, 3), (9, 2), (10, 2), (5, 2), (1, 3)):
    a = _CTRL + 8 * pin
    mem[a] = (mem[a] & ~(3 << 16)) | (level << 16)


def median(xs):
    xs.sort()
    return xs[len(xs) // 2]


class LineUart:
    """The marker reader's UART with one tag line waiting (a Python stand-in: the real UART's line
    is the plant's, which this chip has no pins for; any()/readinto() are C calls on a board, a
    few us cheaper than these)."""

    def __init__(self, line):
        self.line = line
        self.left = 0

    def any(self):
        return self.left

    def readinto(self, buf, k):
        n = len(self.line)
        for i in range(n):
            buf[i] = self.line[i]
        self.left = 0
        return n


# --- a marker line: MarkerReader.poll() of one `T<id>` line and Carriage._on_marker (homed, so the
# re-reference runs), less poll() of an empty line, which the tick at rest already pays -----------
reader = robot.hw.marker
uart0 = reader.uart
fake = LineUart(b"T12\n")
reader.uart = fake
robot.carriage.homed = True
tag_id = robot.marker_id[len(robot.marker_id) // 2]
fake.line = b"T%d\n" % tag_id
line_us, empty_us = [], []
for _ in range(N):
    fake.left = len(fake.line)
    t0 = time.ticks_us()
    tag = reader.poll()
    if tag >= 0:
        reader.forget()
        robot.carriage._on_marker(tag, 20, 10000)
    line_us.append(time.ticks_diff(time.ticks_us(), t0))
    t0 = time.ticks_us()
    reader.poll()
    empty_us.append(time.ticks_diff(time.ticks_us(), t0))
reader.uart = uart0
robot.carriage.homed = False
print("SI cost_marker_line_us", median(line_us) - median(empty_us))
print("SI cost_marker_tag", tag)

# --- a pilot reading: one capture and its classification (cp_read does this up to 6 times) ------
pc = robot.hw.pilot
read_us = []
for _ in range(N):
    t0 = time.ticks_us()
    done = pc.capture()
    cp_state(cp_high(pc.buf))
    read_us.append(time.ticks_diff(time.ticks_us(), t0))
print("SI cost_pilot_reading_total_us", median(read_us))
print("SI cost_pilot_capture_done", 1 if done else 0)

# --- saves: the host subtracts the flash's busy time between the two marks -----------------------
print("SI cost_save_begin")
t0 = time.ticks_us()
for _ in range(N):
    robot.save()
print("SI cost_save_total_us", time.ticks_diff(time.ticks_us(), t0))
print("SI cost_save_n", N)
print("SI alarm", robot.alarm)
