"""The CPU cost table of the simulated board (boards/SIM/cpu_costs.json) against the emulated chip: drift figures, and re-measuring it.

Each entry of the table is re-measured on the emulated RP2040 by `make bench` (railbot_host.silicon_bench:
si_tick.py, si_parts.py, si_costs.py); derive() turns the si_ figures into the measured costs and
`cpu_cost_drift_pct_<name>` = |charged - measured| / measured * 100 per entry, with
`cpu_cost_drift_max_pct` their maximum (bench bound <= 20). A figure is measured, never read back
from the table. Re-measure and rewrite the table:

    python -m railbot_host.cpu_costs --measure --write       # the silicon bench only (5-8 min)
    python -m railbot_host.cpu_costs --from build/bench.json --write   # from a finished make bench
    railbot bench --write-costs                                 # a whole make bench, then the table

docs/timing.md says what is charged where.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from railbot_host.upy import REPO_ROOT

TABLE = REPO_ROOT / "boards" / "SIM" / "cpu_costs.json"

#: table entry -> the si_ figure that measures it (pilot_reading_us: less the simulated capture's waits)
SOURCES = {
    "tick_rest_us": "si_tick_cost_us_idle",
    "tick_move_us": "si_cost_tick_move_us",
    "step_word_us": "si_cost_step_word_us",
    "pilot_reading_us": "si_cost_pilot_reading_total_us",
    "marker_line_us": "si_cost_marker_line_us",
    "link_frame_us": "si_link_frame_us",
    "save_cpu_us": "si_cost_save_cpu_us",
}

_CAPTURE_SCRIPT = """
import sys
sys.path[:0] = [{fw!r}, {board!r}]
import simboard
simboard.install()
from simboard.rig import Rig
from railbot.unitsense import cp_high, cp_state
rig = Rig(home=False, cpu_costs=False)
pc, clock = rig.robot.hw.pilot, rig.board.clock
t0 = clock.now_ms * 1000 + clock.now_us
pc.capture()
cp_state(cp_high(pc.buf))
print(clock.now_ms * 1000 + clock.now_us - t0)
"""


def sim_capture_us() -> int:
    """One capture and its classification on the simulated board with no CPU time charged: the
    waits of the simulated ADC and DMA (about 1.1 ms), which the chip's figure holds too. A
    process of its own: the simulated `machine` must not enter the bench's."""
    code = _CAPTURE_SCRIPT.format(fw=str(REPO_ROOT / "firmware"), board=str(REPO_ROOT / "boards" / "SIM"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.split()[-1])


def load_table(path: Path = TABLE) -> dict:
    """The table's costs {name: us}, checked by the simulated board's own loader."""
    sys.path.insert(0, str(REPO_ROOT / "boards" / "SIM"))
    try:
        from simboard import cpu
    finally:
        sys.path.pop(0)
    return cpu.load(str(path))


def measured(fig: dict, capture_us: int | None = None) -> dict:
    """{name: measured us} for every entry whose figures are in fig (si_ figures of the bench)."""
    out = {}
    for name, src in SOURCES.items():
        v = fig.get(src)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if name == "pilot_reading_us":
            v = v - (capture_us if capture_us is not None else sim_capture_us())
        out[name] = v
    return out


def drift(charged: dict, meas: dict) -> dict:
    """cpu_cost_drift_pct_<name> per entry measured, cpu_cost_drift_max_pct over ALL entries (an
    entry not measured leaves the max out: the bound then fails as a missing figure)."""
    fig = {}
    for name in charged:
        m = meas.get(name)
        if m is None:
            continue
        fig["cpu_cost_drift_pct_" + name] = round(abs(charged[name] - m) / m * 100, 1) if m > 0 else 1000.0
    if fig and len(fig) == len(charged):
        fig["cpu_cost_drift_max_pct"] = max(fig.values())
    return fig


def derive(fig: dict, table: Path = TABLE) -> list[str]:
    """Add the drift figures to the bench's figures; the errors (a table that does not load)."""
    if not any(src in fig for src in SOURCES.values()):
        return []
    try:
        charged = load_table(table)
        meas = measured(fig)
    except (ValueError, OSError, subprocess.SubprocessError) as e:
        return [f"cpu costs: {e}"]
    fig.update({"cpu_cost_measured_" + k: v for k, v in meas.items()})
    fig.update(drift(charged, meas))
    return []


def write_table(meas: dict, path: Path = TABLE) -> list[str]:
    """Put the measured costs (rounded to whole us) into the table file; the entries changed."""
    table = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in SOURCES if k not in meas]
    if missing:
        raise ValueError(f"{path}: not rewritten, not measured: {', '.join(missing)}")
    changed = []
    for name, v in meas.items():
        us = int(round(v))
        if table[name]["us"] != us:
            changed.append(f"{name}: {table[name]['us']} -> {us}")
            table[name]["us"] = us
    path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    load_table(path)  # what was written loads
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m railbot_host.cpu_costs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--measure", action="store_true", help="run the silicon bench (si_ figures) now")
    src.add_argument("--from", dest="source", help="a bench.json with the si_ figures")
    p.add_argument("--write", action="store_true", help="rewrite boards/SIM/cpu_costs.json with the measured costs")
    a = p.parse_args(argv)
    if a.measure:
        from railbot_host import silicon_bench

        fig, errors = silicon_bench.measure(say=print)
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
    else:
        fig = json.loads(Path(a.source).read_text(encoding="utf-8"))
    meas = measured(fig)
    charged = load_table()
    d = drift(charged, meas)
    for name in SOURCES:
        print(f"{name:18} charged {charged[name]:>7}  measured {meas.get(name, 'missing')!s:>9}  "
              f"drift {d.get('cpu_cost_drift_pct_' + name, '-')} %")
    print(f"cpu_cost_drift_max_pct {d.get('cpu_cost_drift_max_pct', 'missing')}")
    if a.write:
        for line in write_table(meas):
            print("rewritten:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
