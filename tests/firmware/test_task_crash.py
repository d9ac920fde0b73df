"""A task that raises (a firmware bug): the event loop goes on as MicroPython's does, and the robot
turns the crash into a controlled stop, the drivers off and an alarm, whichever task it was."""
from simboard import vasyncio, vclock
from simboard.rig import task_crash_case


def _loop():
    clock = vclock.Clock()
    vclock.set_current(clock)
    return vasyncio.new_event_loop(clock)


def test_a_detached_tasks_exception_goes_to_the_handler_and_the_loop_goes_on():
    loop = _loop()
    seen, ticks = [], [0]

    async def crash():
        await vasyncio.sleep_ms(10)
        raise ValueError("bug")

    async def other():
        while True:
            ticks[0] += 1
            await vasyncio.sleep_ms(10)

    loop.set_exception_handler(lambda lp, ctx: seen.append((ctx["message"], ctx["exception"].args[0])))
    t = loop.create_task(crash())
    loop.create_task(other())
    loop.run_until(1000)  # does not raise
    assert t.done and seen == [("Task exception wasn't retrieved", "bug")]
    assert ticks[0] >= 99


def test_the_default_handler_prints_and_the_loop_goes_on():
    loop = _loop()

    async def crash():
        raise KeyError("k")

    loop.create_task(crash())
    loop.run_until(10)
    assert len(loop.unretrieved) == 1


def test_an_awaited_exception_is_retrieved_and_the_main_tasks_leaves_the_loop():
    loop = _loop()
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))

    async def crash():
        raise ValueError("inner")

    async def main():
        try:
            await loop.create_task(crash())
        except ValueError:
            pass
        raise RuntimeError("main")

    try:
        loop.run_until_complete(loop.create_task(main()))
        raise AssertionError("the main task's exception did not leave the loop")
    except RuntimeError as e:
        assert e.args[0] == "main"
    assert seen == []


def _handled(name):
    bad = task_crash_case(name)
    assert bad == [], bad


def test_a_crash_of_the_supervisor_at_rest():
    _handled("supervise_idle")


def test_a_crash_of_the_motion_task_at_cruise():
    _handled("motion_cruise")


def test_a_crash_of_the_mission_at_cruise():
    _handled("mission_cruise")


def test_a_crash_of_the_mission_with_the_lift_rising():
    _handled("mission_lift")


def test_a_crash_of_the_link_task_at_cruise():
    _handled("link_cruise")
