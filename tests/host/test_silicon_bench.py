"""The si_ figures' host side (railbot_host.silicon_bench): parsing the chip's lines, deriving the pilot's sample spacing, the USB figures and the day's checks, and a frozen image that cannot be built failing the bench; no emulator runs here."""

import pytest

from railbot_host import bench, firmware_build, silicon_bench as sb


def test_parse_reads_si_lines_after_binary_link_frames():
    out = (b"\x02G\x01\x0b\x00Rok 1=ESTOP\xb8\xe2SI late_us_0 10102\r\nSI cp_read_state 'F'\r\n"
           b"noise SI save_ms 8.231\r\nSI cp_stamps 10,34,58\r\nSI bad\r\n")
    fig = sb.parse(out)
    assert fig == {"late_us_0": 10102, "cp_read_state": "F", "save_ms": 8.231, "cp_stamps": "10,34,58"}
    assert isinstance(fig["late_us_0"], int)


def test_script_sets_its_parameters_in_front():
    text = sb.script("si_boot_heap.py", SETTLE_MS=500)
    assert text.startswith("SETTLE_MS = 500\n")
    assert "gc.mem_free()" in text


def test_sample_gaps_follow_the_stamps():
    stamps = [1000 + 24 * 125 * i for i in range(10)]  # core cycles at 125 MHz
    counts = [45 - i for i in range(10)]
    assert sb.sample_gaps(stamps, counts)["cp_sample_gap_us_max"] == 24
    assert sb.sample_gaps(stamps, counts, cycles_per_us=48)["cp_sample_gap_us_max"] == 62.5
    late = list(stamps)
    late[5] += 7 * 125  # one conversion 7 us late: its gap is 31, the next 17
    got = sb.sample_gaps(late, counts)
    assert got["cp_sample_gap_us_max"] == 31 and got["cp_sample_gap_us_min"] == 17
    assert got["cp_sample_gap_us_mean"] == 24
    # a change the watch missed: two samples between two stamps share the time
    missed = stamps[:4] + stamps[5:]
    assert sb.sample_gaps(missed, counts[:4] + counts[5:])["cp_sample_gap_us_max"] == 24
    # SysTick (24 bits) wrapping between two stamps
    assert sb.sample_gaps([0xFFFFFF - 2999, 0], [3, 2])["cp_sample_gap_us_max"] == 24


@pytest.mark.parametrize("stamps, counts", [([5], [1]), ([1, 2], [3]), ([1, 25], [3, 3])])
def test_sample_gaps_refuse_a_record_that_cannot_be_spaced(stamps, counts):
    with pytest.raises(sb.SiliconBenchError):
        sb.sample_gaps(stamps, counts)


def _runs(parts, day):
    def run_script(eb, name, timeout=300.0, **params):
        assert params["SETTLE_MS"] > 0
        return dict(parts if name == "si_parts.py" else {"heap_free_after_boot_bytes": 205000})
    return run_script


def test_heap_and_parts_derive_the_day_and_the_spacing(monkeypatch):
    parts = {"heap_free_after_boot_bytes": 199000, "heap_free_after_day_bytes": 198000, "day_requests": 300,
             "day_link_errors": 0, "cp_stamps": "100,3100,6100", "cp_counts": "40,39,38", "cp_cycles_per_us": 125,
             "cp_capture_done": 1}
    monkeypatch.setattr(sb, "run_script", _runs(parts, 300))
    fig = sb.heap_and_parts(None, parts="cs", day_requests=300)
    assert fig["heap_free_after_boot_bytes"] == 205000  # the small script's, not the parts script's
    assert fig["heap_day_growth_bytes"] == 1000 and fig["heap_script_bytes"] == 6000
    assert fig["cp_sample_gap_us_max"] == 24 and "cp_stamps" not in fig


@pytest.mark.parametrize("bad", [{"day_requests": 299}, {"day_link_errors": 1},
                                 {"cp_stamps": "100,3100", "cp_counts": "40,39", "cp_cycles_per_us": 125,
                                  "cp_capture_done": 0}])
def test_heap_and_parts_fail_a_day_that_did_not_run_whole(monkeypatch, bad):
    parts = {"heap_free_after_boot_bytes": 199000, "heap_free_after_day_bytes": 198000, "day_requests": 300,
             "day_link_errors": 0, **bad}
    monkeypatch.setattr(sb, "run_script", _runs(parts, 300))
    with pytest.raises(sb.SiliconBenchError):
        sb.heap_and_parts(None, parts="", day_requests=300)


def test_usb_figures_take_the_worst_of_the_stall_and_its_drain():
    chip = {"late_us_0": 2900, "late_us_1": 2500, "late_us_2": 4100, "late_us_4": 9000, "txq_dropped": 3,
            "executed": 28}
    fig = sb.usb_figures(chip, naks=12, sent=15, n_reading=10)
    assert fig["usb_stalled_host_tick_late_ms_max"] == 4.1
    assert fig["usb_reading_host_tick_late_ms_max"] == 2.9
    assert fig["usb_save_request_tick_late_ms_max"] == 9.0
    assert bench.check("si_usb_stalled_host_tick_late_ms_max", fig["usb_stalled_host_tick_late_ms_max"]) is False
    assert bench.check("si_usb_reading_host_tick_late_ms_max", fig["usb_reading_host_tick_late_ms_max"]) is False
    chip["executed"] = 27  # a request the chip never executed
    with pytest.raises(sb.SiliconBenchError):
        sb.usb_figures(chip, naks=12, sent=15, n_reading=10)


def test_a_frozen_image_that_cannot_be_built_fails_the_bench_in_one_line(monkeypatch):
    def no_toolchain(board, image, **kw):
        raise firmware_build.ToolMissing("arm-none-eabi-gcc not found: install the toolchain with `apt-get ...`")

    monkeypatch.setattr(firmware_build, "build", no_toolchain)
    monkeypatch.setattr(sb, "measure_mpy", lambda say=None: {"deploy_nochange_ratio": 0.05})
    fig, errors = sb.measure()
    assert len(errors) == 4  # the tick's board, the plant's, the other frozen one, the cost parts' one
    assert all("frozen image" in e and "arm-none-eabi-gcc" in e and "\n" not in e for e in errors)
    assert fig["si_deploy_nochange_ratio"] == 0.05
    res = bench.Result(figures=fig, errors=errors)
    assert not bench.passed(res)
    assert "si_heap_free_after_boot_bytes" in bench.failures(fig)
