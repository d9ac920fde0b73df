"""The bench's one report: the table of every figure with its bound (rich), the notes and errors
of the parts, the verdict, and build/bench.json (one flat JSON object)."""

from __future__ import annotations

import json
from pathlib import Path

from railbot_host import upy
from railbot_host.bench.bounds import BOUNDS, check, failures
from railbot_host.bench.common import Result

#: The order of the table (figures not listed follow in name order).
ORDER = (
    "upy_heap_firmware_bytes", "upy_heap_growth_day_bytes", "upy_alloc_per_tick_bytes",
    "upy_tick_heap_lock_ok", "tick_replay_faithful", "tick_cost_ref_ratio",
    "tier_event_log_diff_lines", "upy_firmware_from_mpy",
    "upy_alloc_per_tick_sim_bytes", "tick_replay_us", "empty_loop_1000_us", "tick_sim_us",
    "upy_day_requests", "upy_day_served", "upy_day_unserved", "upy_day_alarms", "upy_day_violations",
    "cpython_day_requests", "cpython_day_served", "cpython_day_unserved", "cpython_day_alarms",
    "cpython_day_violations",
    "upy_day_wall_s", "cpython_day_wall_s", "upy_vs_cpython_day_ratio", "sim_speedup_upy",
    "hold_to_standstill_ms", "hold_reported_standstill_ms", "hold_bound_ms", "hold_margin_ms",
    "homing_repeatability_mm", "homing_runs", "homing_alarms",
    "bay_stop_error_mm_max", "bay_stop_runs", "bay_stop_alarms", "bay_stop_approach_ms_mean",
    "lost_steps_5pct_alarm",
    "plant_truth_plants", "plant_marker_offset_mm_max", "plant_wheel_scale_ppm_max", "bay_stop_true_error_mm_max",
    "bay_stop_true_moves", "bay_stop_true_day_port_acts", "bay_stop_true_day_unserved", "bay_stop_true_alarms",
    "bay_stop_true_violations",
    "pio_step_timing_max_err_us", "step_words_per_s_max", "feed_min_lead_ms", "feed_underrun",
    "pio_max_step_rate_hz", "pio_step_period_min_cycles", "pio_step_high_min_ns", "pio_step_low_min_ns",
    "move_time_ratio_vs_optimal", "peak_speed_ratio", "peak_accel_ratio",
    "upy_alloc_per_segment_bytes", "upy_segment_heap_lock_ok", "segment_cost_ref_ratio", "segment_us",
    "cp_classify_accuracy", "cp_dangerous_misreads", "cp_readings",
    "grip_loop_rate_hz", "grip_step_rp2_us", "grip_step_cost_ref_ratio", "grip_step_us",
    "grip_step_empty_loop_1000_us", "grip_step_period_max_us",
    "grip_stall_cutoff_ms", "grip_jam_stops", "grip_loop_alloc_bytes", "upy_grip_heap_lock_ok",
    "powercut_cases", "powercut_cases_failed",
    "pick_place_faults_injected", "pick_place_day_requests", "pick_place_day_unserved",
    "pick_place_unexpected_alarms", "pick_place_unsafe_endings", "guns_left_out_unreported",
    "pick_place_success_rate", "pick_place_done", "pick_place_failed",
    "pick_place_faults_injected_dc", "pick_place_day_requests_dc", "pick_place_day_unserved_dc",
    "pick_place_unexpected_alarms_dc", "pick_place_unsafe_endings_dc", "guns_left_out_unreported_dc",
    "pick_place_success_rate_dc", "pick_place_done_dc", "pick_place_failed_dc",
    "link_fuzz_frames", "link_fuzz_crashes", "link_fuzz_corrupt_accepted", "link_fuzz_resync_failures",
    "link_fuzz_frames_wall_s", "link_fuzz_payload_frames", "link_fuzz_bad_payload_state_changes",
    "link_fuzz_payload_no_reply", "link_fuzz_payload_accepted", "link_fuzz_payload_wrong_effects",
    "link_fuzz_payload_frames_unhomed", "link_fuzz_payload_frames_homed", "link_fuzz_payload_accepted_unhomed",
    "link_fuzz_payload_accepted_homed", "link_fuzz_payload_wall_s", "upy_link_alloc_per_byte_bytes",
    "upy_link_heap_lock_ok", "upy_link_request_alloc_bytes", "upy_link_heap_bytes",
    "deploy_nochange_ratio", "deploy_nochange_files_written", "deploy_full_files_written",
    "deploy_full_s", "deploy_nochange_s",
    "task_crash_cases", "task_crash_uncontrolled", "sim_tick_late_max_ms", "upy_day_tick_late_max_ms",
    "cpython_day_tick_late_max_ms", "upy_day_flash_erases", "upy_alloc_per_tick_left_of_start_bytes",
    "upy_tick_left_of_start_heap_lock_ok",
    "tick_left_of_start_replay_faithful",
    "si_heap_free_after_boot_bytes", "si_heap_free_after_day_bytes", "si_mpy_heap_free_after_boot_bytes",
    "si_mpy_heap_free_after_day_bytes", "si_tick_cost_us_max", "si_tick_cost_us_idle", "si_cp_sample_gap_us_max",
    "si_link_frame_us", "si_save_ms", "si_deploy_nochange_ratio", "si_usb_stalled_host_tick_late_ms_max",
    "si_usb_reading_host_tick_late_ms_max", "si_usb_save_request_tick_late_ms_max",
    "si_step_edge_err_us_max", "si_step_edges_checked", "si_charge_bay_error_mm", "si_plant_violations",
    "si_save_step_underruns", "si_plant_flash_busy_ms_after_request", "si_plant_charge_emulated_s",
    "cpu_cost_drift_max_pct",
)


def fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


def bound_text(name: str) -> str:
    """The figure's bound as the table shows it ("" for none)."""
    if name not in BOUNDS:
        return ""
    op, limit = BOUNDS[name][:2]
    if op == "in":
        return f"{limit[0]:g} .. {limit[1]:g}"
    return fmt(limit) if op == "is" else f"{op} {fmt(limit)}"


def describe() -> str:
    """Every bounded figure with its bound and why, part by part (`railbot bench --help`)."""
    import textwrap

    from railbot_host.bench.bounds import PARTS

    lines = []
    for part, title in PARTS.items():
        lines += textwrap.wrap(title + ":", 100)
        for name, b in BOUNDS.items():
            if b.part == part:
                lines.append(f"  {name:38} {bound_text(name):>14}")
                lines += textwrap.wrap(b.why, 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def ordered(fig: dict) -> list[str]:
    names = [n for n in ORDER if n in fig or n in BOUNDS]
    return names + sorted(n for n in fig if n not in names)


def print_table(res: Result, out_path: Path | None, wall_s: float, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title="railbot bench (MicroPython %s, firmware from .mpy)" % _upy_version())
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("bound", justify="right")
    t.add_column("", justify="center")
    for name in ordered(res.figures):
        v = res.figures.get(name)
        ok = check(name, v)
        mark = "" if ok is None else ("[green]ok[/]" if ok else "[bold red]FAIL[/]")
        t.add_row(name, "[red]missing[/]" if v is None else fmt(v), bound_text(name), mark)
    console.print(t)
    for n in res.notes:
        console.print(f"[dim]{n}[/]", highlight=False)
    for e in res.errors:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
    bad = failures(res.figures)
    where = f" -> {out_path}" if out_path else ""
    if bad:
        console.print(f"[bold red]bench: {len(bad)} figure(s) miss their bound:[/] {', '.join(bad)}"
                      f"  ({wall_s:.0f} s){where}")
    if res.errors:
        console.print(f"[bold red]bench: {len(res.errors)} error(s) reported by its parts (above): FAILED[/]"
                      f"  ({wall_s:.0f} s){where}")
    if not bad and not res.errors:
        console.print(f"[green]bench: every bound met, no part reported an error[/] ({wall_s:.0f} s){where}")


def _upy_version() -> str:
    try:
        pkg = json.loads((upy.UPY_DIR / "package.json").read_text())
        return pkg["dependencies"]["@micropython/micropython-webassembly-pyscript"]
    except (OSError, KeyError, ValueError):
        return "WebAssembly port"


def write_json(fig: dict, path: Path) -> None:
    flat = {k: fig[k] for k in ordered(fig) if k in fig and isinstance(fig[k], (int, float, bool))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flat, indent=2) + "\n", encoding="utf-8")
