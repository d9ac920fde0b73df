"""The plant's closed-loop fault injection: wheel slip, lost drive steps, encoder noise and death,
marker-edge jitter and the marker reader's line latency. All off by default."""
from simboard.rig import Rig


def _drive(rig, steps):
    """Let the plant execute `steps` drive steps as one advance (what StepAxis.advance returned)."""
    plant = rig.plant
    x0 = plant.x.um()
    plant.x.steps += steps
    dx = plant._lose_steps(steps) if plant.lost_steps_ppm else steps
    if dx and plant.wheel_slip_max_ppm:
        plant._slip(dx)
    return plant.x.um() - x0


def test_faults_are_off_by_default():
    p = Rig(home=False).plant
    assert (p.wheel_slip_max_ppm, p.lost_steps_ppm, p.encoder_noise_counts, p.marker_jitter_um,
            p.marker_byte_us, p.encoder_dead) == (0, 0, 0, 0, 0, False)
    assert p.encoder_counts() == p.wheel_counts(p.x.um())


def test_lost_steps_and_wheel_slip():
    rig = Rig(home=False, truth=False)  # the wheel's nominal diameter: the slip alone under-reads
    plant = rig.plant
    plant.inject_position_faults(slip_max_pct_x100=300, lost_steps_ppm=50000)
    c0 = plant.encoder_counts()
    moved_um = 0
    for _ in range(100):
        moved_um += _drive(rig, 200)  # 100 x 10 mm commanded
    assert moved_um == 950000  # 5 % of the steps did not move the carriage
    wheel_um = (plant.encoder_counts() - c0) * 1000 // plant.x_counts_per_mm
    assert moved_um * 97 // 100 - 100 <= wheel_um < moved_um  # the wheel under-reads by 0..3 %


def test_encoder_noise_and_a_dead_encoder():
    rig = Rig(home=False)
    plant = rig.plant
    plant.inject_position_faults(noise_counts=2)
    true = plant.wheel_counts(plant.x.um())
    reads = [plant.encoder_counts() - true for _ in range(200)]
    assert min(reads) == -2 and max(reads) == 2
    plant.kill_encoder()
    frozen = plant.encoder_counts()
    _drive(rig, 2000)
    assert [plant.encoder_counts() for _ in range(5)] == [frozen] * 5  # no count, no noise


def test_marker_line_arrives_byte_by_byte_after_the_edge_at_9600_baud():
    plant = Rig(home=False).plant
    plant.inject_position_faults(baud=9600)
    x0 = plant.x.um()
    plant.tag_in_range = None
    plant.stations.insert(0, (99, x0 + plant.marker_window_um + 500))  # a window edge 0.5 mm on
    plant.x.steps += 20  # the carriage moved 1 mm in the 1 ms from t = 1000 ms: the edge at 1000.5 ms
    plant._markers(x0, 1000000, 1000)
    assert plant.marker_rx == b"" and len(plant.marker_pending) == 4
    plant._deliver_marker_bytes(1002700)  # a byte every 1.04 ms from the edge
    assert plant.marker_rx == b"T9"
    plant._deliver_marker_bytes(1004700)
    assert plant.marker_rx == b"T99\n" and not plant.marker_pending


def test_marker_edge_jitter_moves_where_the_tag_is_first_read():
    plant = Rig(home=False).plant
    plant.inject_position_faults(jitter_um=1000)
    sx = plant.stations[0][1]
    edges = []
    for _ in range(20):
        plant.x.steps = (sx - 20000) * plant.x.steps_per_mm // 1000
        plant.tag_in_range = None
        x = plant.x.um()
        while plant.tag_in_range is None:
            x0 = x
            plant.x.steps += 2  # 0.1 mm
            x = plant.x.um()
            plant._markers(x0, 0, 1000)
        edges.append(x - sx)
    assert -16100 <= min(edges) < max(edges) <= -13900
