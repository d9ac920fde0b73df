"""Every bound of `railbot bench` in one table: figure name -> (op, limit, why, part), and the check
of a figure against it. A figure not in the table is reported, never checked.

op is "<=", ">=", "==", "in" (limit = (low, high)) or "is" (a boolean that must be the limit).
"""

from __future__ import annotations

from typing import NamedTuple


class Bound(NamedTuple):
    op: str
    limit: object
    why: str
    part: str  # the measured subsystem (PARTS), which also names the runner that measures it


#: The parts of the bench, in the table's order: key -> what measures it.
PARTS = {
    "firmware": "The firmware under MicroPython on the SIM board (host_tools/upy/bench_upy.py: bench_heap, "
                "bench_tick, bench_planner, bench_day; bench_board.py) and the CPython tier beside it",
    "motion": "Motion (host_tools/upy/bench_motion.py, CPython, simulated time) and step generation "
              "(railbot_host.steptiming: the planner's words under the emulator-proven law)",
    "handling": "Handling: the gripper's loop (host_tools/upy/bench_grip.py under MicroPython, bench_motion.py's jams), "
                "power cuts and the fault days (host_tools/upy/bench_handling.py, CPython, simulated time), "
                "storage faults on the real littlefs (host_tools/upy/bench_storage.py, CPython)",
    "blackbox": "The black box (host_tools/upy/bench_blackbox.py: `sim` under CPython, simulated time; `heap` "
                "under MicroPython, firmware from .mpy files; docs/storage.md \"The black box\")",
    "link": "The link (host_tools/upy/bench_link.py under MicroPython, firmware from .mpy; docs/protocol.md)",
    "safety": "Safety: the e-stop at full speed on the simulated board, shipped and worst-case board data "
              "(host_tools/upy/bench_safety.py, CPython, simulated time)",
    "deploy": "Deploy (railbot_host.deploy with the real mpremote against the virtual board)",
    "gateway": "Gateway (railbot_host.gateway.day: a 24 h day + 12 h tail, 4 kills at seeded instants, the CSMS "
               "down for an hour in the evening peak)",
    "chip": "The real rp2 port on an emulated RP2040 (railbot_host.silicon_bench, pinplant, cpu_costs; "
            "docs/silicon.md \"Figures\")",
}


def _part(part: str, rows: dict[str, tuple[str, object, str]]) -> dict[str, Bound]:
    return {name: Bound(op, limit, why, part) for name, (op, limit, why) in rows.items()}


_NO_ALARM = "alarms in a day without injected faults"

#: The day of injected gripper and port faults, run once with each gripper (_both_grippers).
_FAULT_DAY = {
    "pick_place_faults_injected": (">=", 20, "faults injected in the day (a day without faults proves nothing)"),
    "pick_place_day_unserved": ("==", 0, "requests not served by the end of the fault day"),
    "pick_place_unexpected_alarms": ("==", 0, "alarms that are not handling alarms (simboard.faults.HANDLING)"),
    "pick_place_unsafe_endings": ("==", 0, "a failure left unsafe, or a plant violation"),
    "guns_left_out_unreported": ("==", 0, "cars gone with the gun out that the robot did not report"),
    "pick_place_success_rate": ("in", (0.0, 1.0), "reported"),
}


def _both_grippers(rows: dict[str, tuple[str, object, str]]) -> dict[str, tuple[str, object, str]]:
    """rows for the servo gripper as named, and for the DC one with `_dc` after the name."""
    return {name + sfx: (op, limit, f"{why} ({gripper})")
            for sfx, gripper in (("", "servo gripper"), ("_dc", "DC gripper"))
            for name, (op, limit, why) in rows.items()}

#: The one table.
BOUNDS: dict[str, Bound] = {
    **_part("firmware", {
        "upy_heap_firmware_bytes": ("<=", 118784, "heap held by the firmware, built and homed, its bytecode loaded "
                                    "from .mpy files into RAM (SimBoard alone is the baseline; `config` counts as "
                                    "firmware): half of the 239 000 bytes free after boot on the rp2 port "
                                    "(TESTING.md section 5)"),
        "upy_heap_growth_day_bytes": ("<=", 2048, "heap growth over a simulated day (log off, sim growth out)"),
        "upy_alloc_per_tick_bytes": ("==", 0, "one control tick mid-traverse, replayed hardware"),
        "upy_tick_heap_lock_ok": ("is", True, "the replayed ticks run under micropython.heap_lock()"),
        "tick_replay_faithful": ("is", True, "the replay reproduced the real ticks' firmware state"),
        "tick_cost_ref_ratio": ("<=", 2.0, "replayed tick time / 1000 empty `for` iterations"),
        "tier_event_log_diff_lines": ("==", 0, "CPython vs MicroPython event log of tests/mission_log.py"),
        "upy_firmware_from_mpy": ("is", True, "the firmware really came from .mpy files"),
        "upy_alloc_per_segment_bytes": ("==", 0, "planning one step word (MicroPython)"),
        "upy_segment_heap_lock_ok": ("is", True, "4000 words of the ramp planned under heap_lock"),
        "upy_day_requests": (">=", 1, "requests in the MicroPython day (a day without requests proves nothing)"),
        "upy_day_unserved": ("==", 0, "requests not served by the day's end, with no fault injected"),
        "upy_day_alarms": ("==", 0, _NO_ALARM),
        "upy_day_violations": ("==", 0, "the plant's violations of PRODUCT.md's rules over the day"),
        "cpython_day_requests": (">=", 1, "the same day under CPython"),
        "cpython_day_unserved": ("==", 0, "the same day under CPython"),
        "cpython_day_alarms": ("==", 0, _NO_ALARM + ", under CPython"),
        "cpython_day_violations": ("==", 0, "the same day under CPython"),
        "task_crash_cases": (">=", 4, "a fault injected into each task in the phase that matters (issue 11)"),
        "task_crash_uncontrolled": ("==", 0, "... that did not end in TASK_CRASH, a controlled stop (at most 2 x a_max, "
                                    "from the plant), the drivers off, the tasks running and the job served after "
                                    "reset and home"),
        "sim_tick_late_max_ms": ("<=", 5, "the longest a control tick of a move came late over the bench's days, "
                                 "MicroPython's and CPython's, with the port's waits and boards/SIM/cpu_costs.json "
                                 "charged (a link frame, 2.9 ms, between two ticks makes the next 3 ms late; the "
                                 "step ring's lead is 80 ms)"),
        "upy_alloc_per_tick_left_of_start_bytes": ("==", 0, "a replayed tick mid-traverse on a board that powered up "
                                                   "right of the whole traverse (the wheel's count below its start)"),
        "upy_tick_left_of_start_heap_lock_ok": ("is", True, "the same ticks under heap_lock"),
        "tick_left_of_start_replay_faithful": ("is", True, "the same replay reproduced the real ticks"),
    }),
    **_part("motion", {
        "hold_margin_ms": (">=", 0, "hold_bound_ms (v/a + the 80 ms queued lead + 2 ticks) minus "
                           "hold_to_standstill_ms: from `hold` at full speed to the carriage's last step, timed by "
                           "the plant, not by the firmware's report"),
        "homing_repeatability_mm": ("<=", 0.5, "spread of 100 homings"),
        "homing_alarms": ("==", 0, "alarms over the homings"),
        "bay_stop_error_mm_max": ("<=", 2.0, "worst of 100 bay stops against the port's place"),
        "bay_stop_alarms": ("==", 0, "alarms over the bay stops"),
        "lost_steps_5pct_alarm": ("==", 1, "5 % of the steps lost: the following error must raise its alarm"),
        "plant_marker_offset_mm_max": (">=", 2.0, "the plant's truth really differs from the board data: the "
                                       "largest |marker offset| drawn (+-3 mm) over the plants measured (issue 15)"),
        "bay_stop_true_error_mm_max": ("<=", 2.0, "worst |stop - the port's true place| over 104 seeded station "
                                       "moves (4 seeds' truths, every station) and a day's grasps and latches"),
        "bay_stop_true_moves": (">=", 100, "seeded station moves measured against the truth"),
        "bay_stop_true_alarms": ("==", 0, "alarms over those moves and the day"),
        "bay_stop_true_violations": ("==", 0, "plant violations over them (the drive's limit included: every "
                                     "ramp and stop of the firmware is within what it can give the mass)"),
        "bay_stop_true_day_unserved": ("==", 0, "the day's requests not served"),
        "cp_classify_accuracy": (">=", 0.999, "control-pilot readings classified right (random state, duty, phase; "
                                 "noise and spikes)"),
        "cp_dangerous_misreads": ("==", 0, "a vehicle (B, C or D) read as A"),
        "cp_readings": (">=", 10000, "control-pilot readings checked"),
        "pio_step_timing_max_err_us": ("<=", 1.0, "worst edge vs the closed-form trapezoid, 60 m and 2.6 m moves"),
        "step_words_per_s_max": ("<=", 2000, "most words in any 10 ms, full-rail move"),
        "feed_min_lead_ms": (">=", 20, "queued motion before each 10 ms feed, one feed 15 ms late"),
        "feed_underrun": ("is", False, "the step ring never ran dry"),
        "pio_max_step_rate_hz": (">=", 200000, "measured in the PIO emulator (pioemu): the shipped step program on a "
                                 "burst of two words at the planner's fastest low count; pio_hz / the longest "
                                 "rise-to-rise interval"),
        "move_time_ratio_vs_optimal": ("in", (0.9995, 1.02), "1.000 .. 1.02 at the issue's precision"),
        "peak_speed_ratio": ("<=", 1.005, "peak speed over v_max"),
        "peak_accel_ratio": ("<=", 1.02, "peak acceleration over a_max"),
    }),
    **_part("handling", {
        "grip_loop_rate_hz": (">=", 1000, "loop steps a second during a close and an open, the step's cost measured "
                              "under MicroPython and scaled to the rp2 port charged to the simulated clock "
                              "(docs/gripper.md)"),
        "grip_stall_cutoff_ms": ("<=", 20, "jam onset (jaws stop) to motor current off, worst of the 2 stops"),
        "grip_loop_alloc_bytes": ("==", 0, "the loop's steps (MicroPython): free running, stall cut, confirm"),
        "upy_grip_heap_lock_ok": ("is", True, "the same steps under micropython.heap_lock()"),
        "powercut_cases": (">=", 20, "the power cut at each flash write step of a mission"),
        "powercut_cases_failed": ("==", 0, "... after which the ledger was wrong, or the mission unfinished"),
        "powercut_cases_littlefs": (">=", 100, "the power cut at every block program and erase of a two-job mission "
                                    "on the real littlefs (simboard.lfs), once not applied and once torn"),
        "powercut_cases_littlefs_failed": ("==", 0, "... after which the ledger after reboot was not every unit's "
                                           "physical place, an alarm stood, or the mission could not be finished"),
        "storage_fault_cases": (">=", 20, "a write failing (ENOSPC, EIO at each write step; a rename refused) at "
                                "every save of a job, on littlefs and on flash.Flash (simboard.storage)"),
        "storage_fault_state_changes": ("==", 0, "... a failed write that changed the record on flash, left the refused "
                                        "change in RAM, or moved a unit afterwards"),
        "storage_fault_cases_failed": ("==", 0, "... not ending in STORAGE_FAULT with the ledger true, the command "
                                       "refused, the mission task alive and the job finished after reset"),
        **_both_grippers(_FAULT_DAY),
    }),
    **_part("blackbox", {
        "blackbox_events_after_reboot": (">=", 300, "of 350 events emitted, those `log` pages back in order after a "
                                         "reboot (issue 15: at least the last 300 kept)"),
        "blackbox_events_kept_min": (">=", 300, "the fewest events kept over a long day once its ring of files came "
                                     "round (7 full files of 45 and more)"),
        "blackbox_flash_bytes_max": ("<=", 73728, "the most flash its files took over 2000 events of the longest text: "
                                     "8 files x (44 lines of at most 192 bytes + one 768-byte buffer appended whole)"),
        "blackbox_writes_while_moving": ("==", 0, "flash write steps with an axis moving, over two jobs with long "
                                         "traverses and a burst of events mid-traverse (a flash erase stops the CPU "
                                         "for up to 400 ms, longer than the step ring's lead)"),
        "blackbox_powercut_cases": (">=", 7, "a power cut at every flash step of a flush: littlefs and FAT, an append "
                                    "and a flush that begins the next file"),
        "blackbox_powercut_failed": ("==", 0, "... after which an event on flash before it was lost, the cut flush's "
                                     "events were not a prefix (littlefs: all or none), or the next events unreadable"),
        "upy_blackbox_heap_bytes": ("<=", 2048, "heap a black box holds once built over full files (its 1 KB buffer, "
                                    "its numbers): the RP2040's frozen image leaves about 203 000 bytes of the "
                                    "200 000 it must keep"),
    }),
    **_part("link", {
        "link_fuzz_frames": (">=", 100000, "random, truncated, bit-flipped, byte-dropped/doubled frames, counted "
                             "when checked"),
        "link_fuzz_crashes": ("==", 0, "exceptions out of the parser"),
        "link_fuzz_corrupt_accepted": ("==", 0, "a frame taken that was never sent"),
        "link_fuzz_resync_failures": ("==", 0, "a clean frame after every 8 corrupted ones not taken"),
        "link_fuzz_payload_frames": (">=", 100000, "valid CRC; type, length, id, command or value mutated, half at a "
                                     "robot never homed, half at a homed one"),
        "link_fuzz_bad_payload_state_changes": ("==", 0, "an invalid one (error reply or dropped) that changed the "
                                                "robot's ledger, requests, alarm, state or pending work"),
        "link_fuzz_payload_no_reply": ("==", 0, "a request with a bad command or value left unanswered"),
        "link_fuzz_payload_accepted": (">=", 100, "accepted commands checked against their reply"),
        "link_fuzz_payload_wrong_effects": ("==", 0, "an accepted command that did not do exactly what its reply "
                                            "says (tests/firmware/linkfuzz.py accepted_effect)"),
        "upy_link_alloc_per_byte_bytes": ("==", 0, "bytes inside a frame (490) fed to the parser"),
        "upy_link_heap_lock_ok": ("is", True, "the same bytes under micropython.heap_lock()"),
    }),
    **_part("deploy", {
        "deploy_nochange_ratio": ("<=", 0.1, "a redeploy with nothing changed over a full deploy (same run)"),
        "deploy_nochange_files_written": ("==", 0, "files the redeploy wrote"),
    }),
    **_part("gateway", {
        "ocpp_day_sessions": (">=", 40, "transactions the CSMS saw from StartTransaction to StopTransaction"),
        "ocpp_schema_errors": ("==", 0, "frames the CSMS received that fail the OCPP 1.6J JSON schemas"),
        "ocpp_order_errors": ("==", 0, "a call before BootNotification, a transaction's messages out of order"),
        "ocpp_messages_lost": ("==", 0, "Start/Stop missing for a car that plugged in and out, or any message of the "
                               "gateway's outbox the CSMS never answered"),
        "ocpp_messages_duplicated": ("==", 0, "the same message under a new message id (a retry keeps its id)"),
        "gateway_restart_requests_lost": ("==", 0, "an accepted RemoteStart the robot never got"),
        "gateway_restart_requests_repeated": ("==", 0, "one the robot got twice"),
        "session_energy_error_wh_max": ("in", (0, 1), "|meterStop - meterStart - the plant's energy| per session"),
        "eta_error_p90_s_unit_free": ("in", (0, 30), "p90 |delivery - ETA| of requests that found a free unit"),
        "gateway_kills_after_send": (">=", 1, "the kill between sending a call and storing its answer happened"),
        "ocpp_calls_in_flight_max": ("==", 1, "the gateway's calls not yet answered, at most (one at a time)"),
    }),
    **_part("safety", {
        "estop_standstill_before_relay": ("==", 1, "the carriage stood before the safety relay cut driver power, "
                                          "at the shipped board data's top speed and at the fastest x the relay's "
                                          "delay lets the loader accept (v_max = (delay - 100 ms) * a_max)"),
        "estop_plant_violations": ("==", 0, "the same two e-stops: Plant.violations (the relay cutting power while an "
                                   "axis moved is one)"),
        "sim_estop_to_decel_us": ("<=", 1000, "the shipped data: from the chain opening to the first step of the "
                                  "ramp down slower than cruise (the simulated board runs a scheduled handler at "
                                  "the next ms; the chip's is si_estop_to_decel_us)"),
    }),
    **_part("chip", {
        "si_heap_free_after_boot_bytes": (">=", 200000, "frozen image, robot built and idle, after gc.collect"),
        "si_tick_cost_us_max": ("<=", 2000, "Robot.tick() over a whole 60 m move, open-loop (GC included)"),
        "si_cp_sample_gap_us_max": ("<=", 25, "the pilot capture's sample spacing, from the DMA's progress"),
        "si_deploy_nochange_ratio": ("<=", 0.1, "railbot deploy of the .mpy firmware onto the stock image, twice"),
        "si_usb_stalled_host_tick_late_ms_max": ("<=", 2, "a 10 ms task's lateness while the host reads nothing"),
        "si_usb_reading_host_tick_late_ms_max": ("<=", 2, "... and while it reads (the link's own work)"),
        "si_step_edge_err_us_max": ("<=", 1.0, "every STEP edge of a charge with the plant on the chip's pins against "
                                    "the law of the word pulled (pinplant.step_law)"),
        "si_charge_bay_error_mm": ("<=", 2.0, "the same run: where the carriage stood when the plant latched the unit"),
        "si_plant_violations": ("==", 0, "the same run: Plant.violations (PRODUCT.md's rules, judged by the plant)"),
        "si_save_step_underruns": ("==", 0, "the same run: stalls of a step program while the flash was written"),
        "si_estop_to_decel_us": ("<=", 1000, "then a jog at full speed, the e-stop chain opened mid-cruise: from the "
                                 "chain opening at the pin to the edge that ends the first step interval longer than "
                                 "the cruise interval (issue 15: the hard interrupt, the scheduled half, the swap)"),
        "si_estop_ramp_underruns": ("==", 0, "the same jog and its ramp down: stalls of the step program (the swap "
                                    "leaves no gap; the tick's feeds go on)"),
        "si_estop_standstill_over_v_a_ms": ("<=", 100, "the same: standstill after the chain opened, less v/a, "
                                            "within the margin the loader keeps for it (config.ESTOP_MARGIN_MS)"),
        "cpu_cost_drift_max_pct": ("<=", 20, "boards/SIM/cpu_costs.json against the chip's figures measured here: max "
                                   "over the entries of |charged - measured| / measured * 100 (railbot_host.cpu_costs; "
                                   "--write-costs rewrites the table; docs/timing.md)"),
    }),
}

#: The gateway's bounds (its day's own test checks them).
GATEWAY_BOUNDS = {name: b for name, b in BOUNDS.items() if b.part == "gateway"}


def check(name: str, value) -> bool | None:
    """True/False against the figure's bound; None if it has none."""
    if name not in BOUNDS:
        return None
    op, limit = BOUNDS[name][:2]
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


def passed(res) -> bool:
    """The bench passes only when every bound is met AND no part reported an error (res: a Result)."""
    return not failures(res.figures) and not res.errors
