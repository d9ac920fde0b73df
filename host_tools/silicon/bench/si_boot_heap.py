"""On the emulated RP2040 (railbot_host.silicon_bench): the heap free with the robot built as main.py builds it and idle (its tasks running), after gc.collect."""
# The host prepends SETTLE_MS. Kept this small on purpose: the script's own code is on the heap too.
import asyncio
import gc
import main

robot = main.build()
robot.hw.watchdog_off()


async def idle():
    robot.start()
    await asyncio.sleep_ms(SETTLE_MS)


asyncio.run(idle())
gc.collect()
print("SI heap_free_after_boot_bytes", gc.mem_free())
robot.shutdown()
