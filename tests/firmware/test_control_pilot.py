"""The control-pilot reader: IEC 61851 states from the HIGH level of a noisy 1 kHz PWM, whatever its phase and duty."""
from simboard.rig import Rig, cp_readings
from railbot.robot import cp_read, cp_state


def _raw(mv):
    return (mv + 12000) * 65535 // 24000


def test_thresholds_err_towards_a_vehicle():
    assert cp_state(_raw(12000)) == "A" and cp_state(_raw(11050)) == "A"
    assert cp_state(_raw(10900)) == "B"  # below the norm's 11 V for A: a vehicle, not A
    assert [cp_state(_raw(v * 1000)) for v in (9, 6, 3, 0, -12)] == ["B", "C", "D", "E", "F"]


def test_every_state_at_every_phase_of_the_shortest_and_longest_duty():
    rig = Rig(home=False)
    plant = rig.plant
    plant.cp_spike_per_mille = 0
    u = plant.units[min(plant.units)]
    plant.held, plant.jaw, plant.jaw_target = u.id, 1000, 1000
    for state in "ABCD":
        u.cp, u.cp_pwm_in_a = state, True
        for duty in (5, 96):
            u.cp_duty_pct = duty
            for phase in range(0, 1000, 97):
                u.cp_phase_us = phase
                assert cp_read(rig.robot.hw.cp_adc) == state, (state, duty, phase)
            rig.run(0)
    for state in "EF":
        u.cp = state
        assert cp_read(rig.robot.hw.cp_adc) == state


def test_spikes_never_make_a_vehicle_read_as_a():
    rig = Rig(home=False)
    rig.plant.cp_spike_per_mille = 50  # far more spikes than the bench's scenario
    correct, dangerous = cp_readings(rig, 300)
    assert dangerous == 0 and correct >= 290


def test_classify_accuracy_on_noisy_readings():
    rig = Rig(home=False, seed=3)
    correct, dangerous = cp_readings(rig, 2000)
    assert dangerous == 0
    assert correct * 1000 >= 999 * 2000


class _SteadyAdc:
    def __init__(self, raw):
        self.raw = raw

    def read_u16(self):
        return self.raw


def test_a_reading_allocates_nothing():
    import gc
    from simboard import vclock
    from simboard.vclock import Clock

    saved = vclock.current()
    vclock.set_current(Clock())  # a bare clock: only the reader runs
    adc = _SteadyAdc(_raw(9000))
    try:
        assert cp_read(adc) == "B"
        if hasattr(gc, "mem_alloc"):  # MicroPython
            a = gc.mem_alloc()
            state = cp_read(adc)
            assert gc.mem_alloc() == a and state == "B"
    finally:
        vclock.set_current(saved)


def test_sleep_us_walks_through_a_millisecond_on_the_virtual_clock():
    from simboard import vclock, vtime
    from simboard.vclock import Clock

    saved = vclock.current()
    clock = Clock()
    vclock.set_current(clock)
    try:
        clock.now_ms = 5
        vtime.sleep_us(400)
        assert clock.now_ms == 5 and vtime.ticks_us() == 5400
        vtime.sleep_us(700)  # crosses into the next ms
        assert clock.now_ms == 6 and vtime.ticks_us() == 6100
        clock.advance_to(9)  # the clock moves on by other means: the us within the ms start again
        assert vtime.sub_us() == 0 and vtime.ticks_us() == 9000
    finally:
        vclock.set_current(saved)


def test_the_plant_pilot_is_a_pwm_on_virtual_microseconds():
    rig = Rig(home=False)
    plant = rig.plant
    plant.cp_noise_mv = plant.cp_spike_per_mille = 0
    u = plant.units[min(plant.units)]
    plant.held, plant.jaw, plant.jaw_target = u.id, 1000, 1000
    u.cp, u.cp_duty_pct, u.cp_phase_us = "C", 25, 0
    import time
    levels = []
    for _ in range(40):  # 40 samples 25 us apart: one period
        levels.append(plant.cp_mv(u))
        time.sleep_us(25)
    assert levels.count(6000) == 10 and levels.count(-12000) == 30
    u.cp, u.cp_pwm_in_a = "A", False
    assert plant.cp_mv(u) == 12000  # A: steady +12 V unless the EVSE offers current


def test_holster_switch_chatter_errs_towards_gun_out():
    from railbot.robot import holster_in

    rig = Rig(home=False)
    plant = rig.plant
    u = plant.units[min(plant.units)]
    plant.held, plant.jaw, plant.jaw_target = u.id, 1000, 1000
    plant.holster_chatter_ppm = 50000  # 5 % of reads flipped
    pin = rig.robot.hw.holster_sw
    u.gun_out = True
    assert not any(holster_in(pin) for _ in range(2000))  # a gun out never reads as holstered
    u.gun_out = False
    ok = sum(1 for _ in range(1000) if holster_in(pin))
    assert ok >= 970, ok  # a holstered gun almost always reads so (77 % a window, 3 windows)
    plant.holster_chatter_ppm = 0
    assert all(holster_in(pin) for _ in range(20))
