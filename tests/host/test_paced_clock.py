"""The virtual clock paced to wall-clock time (for the virtual board and the console): never runs ahead."""
import time

from simboard import vasyncio
from simboard.vclock import Clock


def test_paced_clock_never_runs_ahead_of_wall_time():
    clock = Clock(speed=10)  # ten times real time
    loop = vasyncio.new_event_loop(clock)
    seen = []

    async def ticker():
        while True:
            await vasyncio.sleep_ms(100)
            seen.append((clock.now_ms, time.monotonic()))

    loop.create_task(ticker())
    t0 = time.monotonic()
    loop.run_until(2000)
    assert len(seen) == 20
    for virt_ms, wall in seen:
        # a lower bound only: virtual time must not get ahead of wall time x speed
        assert (wall - t0) * 1000 >= virt_ms / 10 - 5, (virt_ms, wall - t0)


def test_unpaced_clock_runs_as_fast_as_it_can():
    clock = Clock()
    loop = vasyncio.new_event_loop(clock)
    loop.run_until(24 * 3600 * 1000)
    assert clock.now_ms == 24 * 3600 * 1000
