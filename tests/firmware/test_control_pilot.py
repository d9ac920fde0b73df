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
