"""The simulated board itself: virtual-time event loop, the project's RNG, the step-word law, determinism."""
from simboard import vasyncio as aio
from simboard.vclock import Clock, ticks_diff, ticks_add, TICKS_PERIOD
from simboard.rng import Rng
from simboard.plant import StepAxis, decode_word
from simboard.day import plan_window, Day, event_line
from railbot.motion import encode_word
from simboard.rig import Rig


def test_event_loop_orders_by_virtual_time_then_fifo():
    clock = Clock()
    loop = aio.new_event_loop(clock)
    out = []

    async def sleeper(name, ms):
        await aio.sleep_ms(ms)
        out.append((name, clock.now_ms))

    for name, ms in (("c", 30), ("a", 10), ("b", 10), ("z", 0)):
        loop.create_task(sleeper(name, ms))
    loop.run_until(100)
    assert out == [("z", 0), ("a", 10), ("b", 10), ("c", 30)]
    assert clock.now_ms == 100


def test_event_flag_gather_and_cancel():
    clock = Clock()
    loop = aio.new_event_loop(clock)
    ev = aio.Event()
    flag = aio.ThreadSafeFlag()
    seen = []

    async def waiter():
        await ev.wait()
        seen.append(("event", clock.now_ms))
        await flag.wait()
        seen.append(("flag", clock.now_ms))
        return 7

    async def forever():
        try:
            while True:
                await aio.sleep_ms(5)
        except aio.CancelledError:
            seen.append(("cancelled", clock.now_ms))
            raise

    w = loop.create_task(waiter())
    f = loop.create_task(forever())
    loop.run_until(50)
    ev.set()
    loop.run_until(60)
    flag.set()
    f.cancel()
    assert loop.run_until_complete(w) == 7
    loop.run_until(70)
    assert seen == [("event", 50), ("flag", 60), ("cancelled", 60)]
    assert f.done


def test_ticks_wrap_like_micropython():
    a = TICKS_PERIOD - 5
    b = ticks_add(a, 10)
    assert b == 5 and ticks_diff(b, a) == 10 and ticks_diff(a, b) == -10


def test_virtual_ticks_us_past_2_30_us():
    import gc
    from simboard import vclock, vtime

    saved = vclock.current()
    clock = Clock()
    vclock.set_current(clock)
    try:
        for ms in (0, 1, 1073741, 1073742, 1234567, 86399999, 3 * 86400000 + 7):
            clock.now_ms = ms
            assert vtime.ticks_us() == (ms * 1000) & (TICKS_PERIOD - 1), ms
        if hasattr(gc, "mem_alloc"):  # MicroPython: (ms * 1000) past 2**30 would be a big int per call
            a = gc.mem_alloc()
            vtime.ticks_us()
            assert gc.mem_alloc() == a
    finally:
        vclock.set_current(saved)


def test_rng_known_values():
    # fixed expectations, checked under both interpreters: a change here changes every simulated day
    r = Rng(1)
    assert [r.next32() for _ in range(4)] == KNOWN_RNG_1
    assert Rng(5).between(3, 3) == 3
    e = [Rng(s).exp_ms(1000) for s in range(200)]
    assert 700 < sum(e) // 200 < 1300  # mean of an exponential with mean 1 s


KNOWN_RNG_1 = [2726006539, 2697616902, 2320997347, 1548954038]


def test_step_word_round_trip_and_law():
    for d, n, low in ((1, 1, 0), (-1, 128, 0x3FFFFF), (1, 100, 6120), (-1, 7, 1000)):
        w = encode_word(d, n, low)
        assert 0 <= w < (1 << 30)  # never a boxed integer on MicroPython
        assert decode_word(w) == (d, n, low)
    ax = StepAxis("t", 20, -1000000, 1000000)
    ax.active = True
    ax.enable_pin = 0
    ax.cyc = 1  # 1 cycle per us, to read the law in round numbers
    ax.h = 1  # period P = L + h + 5
    ax.put(encode_word(1, 10, 94))  # P = 100: edges at 5 + 94 + i*100 = 99 .. 999, next pull at 1003
    ax.put(encode_word(-1, 4, 44))  # P = 50: edges at 1003 + 49 + i*50 = 1052 .. 1202, ends at 1206
    assert ax.advance(99) == 0  # the edge at cycle 99 is made once cycle 99 has run
    assert ax.advance(1) == 1
    assert ax.advance(900) == 9 and ax.steps == 10
    assert ax.advance(52) == 0  # 1052: word 2 pulled at 1003, its first edge is at 1052
    assert ax.advance(1) == -1  # the interval between the words is P + 3 = 53
    assert ax.advance(10000) == -3 and ax.steps == 6
    assert ax.idle() and ax.words_executed == 2
    assert ax.advance(10000) == 0  # an empty FIFO: the program waits, no stray step


def test_same_seed_same_day():
    logs = []
    for _ in range(2):
        rig = Rig(seed=3, home=False)
        lines = []
        day = Day(rig.board, rig.robot, plan_window(3, 17, 1)[:3], log=lines.append)
        day.start()
        day.run(rig.now_ms() + 2 * 3600000)
        logs.append(lines)
    assert logs[0] == logs[1] and len(logs[0]) > 20


def test_event_lines_are_json_with_fixed_field_order():
    line = event_line(12, "fw", "alarm", (("code", 4), ("name", 'A"B'), ("ok", True)))
    assert line == '{"t_ms": 12, "src": "fw", "ev": "alarm", "code": 4, "name": "A\\"B", "ok": true}'


def test_simulated_pin_irq_timer_and_uart_follow_the_plant():
    import machine
    rig = Rig(home=False)
    pins = rig.board.pins
    estop = machine.Pin(pins["estop_in"], machine.Pin.IN)
    edges = []
    estop.irq(lambda p: edges.append((rig.now_ms(), p.value())), machine.Pin.IRQ_FALLING)
    ticks = []
    tim = machine.Timer(-1, mode=machine.Timer.PERIODIC, period=100, callback=lambda t: ticks.append(rig.now_ms()))
    rig.run(1)
    rig.plant.press_estop()
    rig.run(1)
    rig.plant.press_estop(False)
    rig.run(1)
    tim.deinit()
    assert len(edges) == 1 and edges[0][1] == 0  # one falling edge, seen when the chain opened
    assert 29 <= len(ticks) <= 31 and ticks[1] - ticks[0] == 100
    uart = machine.UART(0, 9600, rx=machine.Pin(pins["marker_rx"]))
    rig.plant.marker_rx.extend(b"T12\n")
    assert uart.any() == 4 and uart.read() == b"T12\n" and uart.read() is None
    try:
        machine.Pin("GP99")
        raise AssertionError("an unwired pin was accepted")
    except ValueError as e:
        assert "GP99" in str(e)
