"""`railbot sim`: a day of the car park on the simulated board, run by the real firmware under CPython."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host.upy import REPO_ROOT

SIM_BOARD = REPO_ROOT / "boards" / "SIM"
HOUR_MS = 3_600_000
#: Hours simulated after the last arrival hour, so that evening sessions can finish.
TAIL_HOURS = 12
#: Carriage position sample period for the timeline.
TRACK_MS = 1000

_installed = False


def _install() -> None:
    """Make firmware and the SIM board importable and install the simulated machine (once)."""
    global _installed
    for p in (REPO_ROOT / "firmware", SIM_BOARD):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    if not _installed:
        import simboard

        simboard.install()
        _installed = True


class BoardDataError(Exception):
    """Board data the firmware's loader refuses: the message names the file, the key and the reason."""


def load_board_data(path: str | Path | None = None) -> dict:
    """robot.json at `path` (default boards/SIM/robot.json), checked by the firmware's own loader;
    BoardDataError (file: key: reason) if it refuses it or the file cannot be read as text."""
    _install()
    from railbot import config

    path = str(path or SIM_BOARD / "robot.json")
    try:
        return config.load_robot(path)
    except config.ConfigError as e:
        raise BoardDataError(str(e)) from None
    except UnicodeDecodeError as e:  # the loader's read takes only OSError for a file it cannot read
        raise BoardDataError(f"{path}: cannot read: not UTF-8 text (byte {e.start})") from None
    except RecursionError:  # json.loads on thousands of nested brackets
        raise BoardDataError(f"{path}: bad JSON: nested too deep") from None


def robot_config(units: int, path: str | Path | None = None) -> dict:
    """The board data at `path` (default boards/SIM/robot.json) with `units` charging units: the
    first ones, or more at free dock ports, then at bays spread along the rail. Validated by
    railbot.config; BoardDataError names the file, the key and the reason."""
    cfg = load_board_data(path)
    from railbot import config

    site = cfg["site"]
    have = site["units"][:units]
    used = {u["port"] for u in have}
    spare = [f"D{d['id']}{side}" for d in site["docks"] for side in "LR"]
    spare = [p for p in spare if p not in used]
    more = units - len(have) - len(spare)
    if more > 0:
        bays = 2 * site["stations"]["count"]
        spare += [f"B{int((j + 0.5) * bays / more) + 1}" for j in range(more)]
    next_id = max((u["id"] for u in have), default=0) + 1
    while len(have) < units:
        have.append({"id": next_id, "port": spare.pop(0)})
        next_id += 1
    site["units"] = have
    with tempfile.TemporaryDirectory() as tmp:  # config checks files: check this one
        tmp_path = Path(tmp) / f"robot-{units}-units.json"
        tmp_path.write_text(json.dumps(cfg))
        try:
            return config.load_robot(str(tmp_path))
        except config.ConfigError as e:  # the units added here do not fit the site of that file
            raise BoardDataError(str(e).replace(str(tmp_path), f"{path or SIM_BOARD / 'robot.json'} "
                                                 f"with --units {units}", 1)) from None


@dataclass
class DayRun:
    """A finished day: figures, the event log and what the timeline needs."""

    summary: dict
    events: list[str]
    track: list[tuple[int, int]]
    cfg: dict
    violations: list[str]
    end_ms: int
    hours: int
    failures: list[str] = field(default_factory=list)


def run_day(seed: int = 1, hours: int = 24, units: int = 6, rate: float = 1.0,
            tail_hours: int = TAIL_HOURS, progress=None, track_ms: int = TRACK_MS,
            cfg: dict | None = None) -> DayRun:
    """Run the firmware through `hours` of cars plus `tail_hours`; progress(t_ms, day) every 10 min.
    `cfg`: the board data (default: robot_config(units))."""
    _install()
    from simboard.board import SimBoard
    from simboard.day import Day, plan_day

    cfg = cfg if cfg is not None else robot_config(units)
    board = SimBoard(str(SIM_BOARD), seed=seed, robot_cfg=cfg)
    robot = board.robot()
    events: list[str] = []
    cars = plan_day(seed, hours=hours, rate_pct=round(rate * 100))
    day = Day(board, robot, cars, log=events.append, track_every_ms=track_ms)
    end_ms = (hours + tail_hours) * HOUR_MS
    t0 = time.perf_counter()
    day.start()
    day.run(end_ms, progress=progress, step_ms=10 * 60_000)
    wall_s = time.perf_counter() - t0

    f = day.summary()
    served = f["served"]
    summary = {
        "seed": seed, "hours": hours, "tail_hours": tail_hours, "units": units, "rate": rate,
        "requests": f["requests"], "served": served, "abandoned": f["abandoned"],
        "pending": f["pending"],
        "mean_wait_s": round(f["wait_sum_ms"] / served / 1000, 1) if served else 0.0,
        "p95_wait_s": round(f["p95_wait_ms"] / 1000, 1),
        "max_wait_s": round(f["max_wait_ms"] / 1000, 1),
        "jobs": sum('"ev": "job"' in e for e in events),
        "travel_m": round(f["travel_mm"] / 1000, 1),
        "alarms": f["alarms"],
        "violations": f["violations"],
        "tick_late_max_ms": f["tick_late_max_ms"],
        "sim_tick_late_max_ms": f["tick_late_max_ms"],  # the bench's name for it
        "step_underruns": f["step_underruns"],
        "cpu_costs": _cpu_summary(board),
        "wall_s": round(wall_s, 2),
        "sim_speedup": round(end_ms / 1000 / wall_s) if wall_s > 0 else 0,
    }
    run = DayRun(summary, events, day.track, cfg, list(board.plant.violations), end_ms, hours)
    run.failures = failures(summary, run.violations)
    return run


def _cpu_summary(board) -> dict:
    """What the day charged for the firmware's CPU time (docs/timing.md): the table and the counts."""
    c = board.cpu
    return {"charged": c.on, "table": str(SIM_BOARD / "cpu_costs.json") if c.on else None,
            "ticks": c.ticks, "step_words": c.words, "marker_lines": c.markers,
            "pilot_readings": c.readings, "link_frames": c.frames, "saves": c.saves}


def failures(s: dict, violations: list[str]) -> list[str]:
    """Why a day failed (empty: it passed)."""
    why = []
    if s.get("step_underruns"):
        why.append(f"{s['step_underruns']} step ring underrun(s): a feed came too late while the carriage moved fast")
    if s["abandoned"]:
        why.append(f"{s['abandoned']} request(s) abandoned: the car left before a unit came")
    if s["pending"]:
        why.append(f"{s['pending']} request(s) still unserved when the simulation ended")
    if s["alarms"]:
        why.append(f"{s['alarms']} alarm(s) raised by the firmware (see events.jsonl, ev=alarm)")
    for v in violations:
        why.append(f"plant violation: {v}")
    return why


# --- timeline ---------------------------------------------------------------------------------

def _hour_label(h: float, _pos=None) -> str:
    return f"{int(h) % 24:02d}:00" + (f"\n+{int(h) // 24}d" if h >= 24 and int(h) % 24 == 0 else "")


def plot_timeline(run: DayRun, path: Path) -> None:
    """Carriage position with every pick and place (top), each unit's port and the requests (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    from railbot.site import Site

    site = Site(run.cfg["site"])
    port_m = {name: x / 1000 for name, x in zip(site.port_names, site.port_x_mm)}
    bay_m = {b: site.port_x_mm[site.bay_port(b)] / 1000 for b in range(1, site.bays + 1)}
    uids = [u["id"] for u in run.cfg["site"]["units"]]
    cmap = matplotlib.colormaps["tab10" if len(uids) <= 10 else "tab20"]
    colour = {uid: cmap(i) for i, uid in enumerate(uids)}
    evs = [json.loads(line) for line in run.events]
    H = 1 / HOUR_MS

    fig, (top, bot) = plt.subplots(2, 1, figsize=(16, 10), sharex=True,
                                   gridspec_kw={"height_ratios": [1, 1.15]})
    # top: the carriage, and where it picked and placed units
    if run.track:
        t, x = zip(*run.track)
        top.plot([v * H for v in t], [v / 1000 for v in x], color="0.55", lw=0.6, zorder=1)
    for kind, marker in (("pick", "^"), ("place", "v")):
        pts = [e for e in evs if e["ev"] == kind]
        top.scatter([e["t_ms"] * H for e in pts], [port_m[e["port"]] for e in pts], marker=marker,
                    s=38, c=[colour[e["unit"]] for e in pts], edgecolors="k", linewidths=0.4, zorder=3)
    top.set_ylabel("carriage position (m)")
    top.set_title(f"railbot simulated day: seed {run.summary['seed']}, {run.hours} h of cars "
                  f"+ {run.summary['tail_hours']} h tail, {len(uids)} units, rate {run.summary['rate']}"
                  f"   ({run.summary['served']}/{run.summary['requests']} served, "
                  f"{run.summary['jobs']} jobs, {run.summary['travel_m']:.0f} m travelled)")
    top.legend(handles=[
        Line2D([], [], color="0.55", lw=1, label="carriage"),
        Line2D([], [], ls="", marker="^", color="0.4", mec="k", label="pick (colour = unit)"),
        Line2D([], [], ls="", marker="v", color="0.4", mec="k", label="place"),
    ], loc="upper left", fontsize=8, ncol=3)

    # bottom: each unit's port over time (thick while serving a car), requests and their waits
    where = {u["id"]: port_m[u["port"]] for u in run.cfg["site"]["units"]}
    offset = {uid: (i - (len(uids) - 1) / 2) * 0.25 for i, uid in enumerate(uids)}
    steps = {uid: [(0.0, where[uid])] for uid in uids}
    serving = {uid: [] for uid in uids}  # (start h, end h or None, y)
    for e in evs:
        th = e["t_ms"] * H
        if e["ev"] == "place":
            steps[e["unit"]].append((th, port_m[e["port"]]))
        elif e["ev"] == "delivered":
            serving[e["unit"]].append([th, None, bay_m[e["bay"]]])
        elif e["ev"] == "released" and serving[e["unit"]]:
            serving[e["unit"]][-1][1] = th
    end_h = run.end_ms * H
    for uid in uids:
        ts, ys = zip(*(steps[uid] + [(end_h, steps[uid][-1][1])]))
        bot.step(ts, [y + offset[uid] for y in ys], where="post", color=colour[uid], lw=1.0,
                 label=f"unit {uid}")
        for a, b, y in serving[uid]:
            bot.hlines(y + offset[uid], a, end_h if b is None else b, color=colour[uid], lw=4,
                       alpha=0.85)
    # each car's request (the sim's `charge` command) and its fate: served, abandoned, still waiting
    car_at, asked, fate = {}, {}, {"served": [], "abandoned": []}  # asked: car -> (t, bay)
    for e in evs:
        if e["ev"] == "arrive":
            car_at[e["bay"]] = e["car"]
        elif e["ev"] == "command" and e["line"].startswith("charge "):
            bay = int(e["line"].split()[1])
            asked[car_at[bay]] = (e["t_ms"] * H, bay)
        elif e["ev"] in fate and e["car"] in asked:
            fate[e["ev"]].append((asked.pop(e["car"])[0], e["t_ms"] * H, bay_m[e["bay"]]))
    fate["pending"] = [(t, end_h, bay_m[bay]) for t, bay in asked.values()]
    for kind, colour_, label in (("served", "k", "served (dotted: wait)"),
                                 ("abandoned", "red", "abandoned: car left"),
                                 ("pending", "red", "still waiting at the end")):
        w = fate[kind]
        if not w:
            continue
        t0s, t1s, ys = zip(*w)
        bot.hlines(ys, t0s, t1s, colors=colour_, linestyles=":", lw=1.0)
        bot.scatter(t0s, ys, marker="o", s=22, facecolors="none", edgecolors=colour_, zorder=4,
                    label="request" if kind == "served" else None)
        if kind != "pending":
            bot.scatter(t1s, ys, marker="o" if kind == "served" else "x", s=12 if kind == "served"
                        else 40, color=colour_, zorder=5, label=label)
    bot.set_ylabel("unit position (m): port; thick = serving a car")
    bot.legend(loc="upper left", fontsize=8, ncol=min(len(uids) + 3, 9))

    for ax in (top, bot):
        ax.set_ylim(-1, max(site.port_x_mm) / 1000 + 5)
        ax.axvspan(run.hours, end_h, color="0.93", zorder=0)
        ax.grid(True, color="0.88", lw=0.5)
    top.text(run.hours + 0.1, top.get_ylim()[1] * 0.97, "tail (no new cars)", fontsize=8,
             va="top", color="0.35")
    bot.set_xlim(0, end_h)
    major = 2 if end_h <= 48 else 6 if end_h <= 96 else 12
    bot.xaxis.set_major_locator(MultipleLocator(major))
    bot.xaxis.set_minor_locator(MultipleLocator(major / 2))
    bot.xaxis.set_major_formatter(FuncFormatter(_hour_label))
    bot.set_xlabel("simulated time of day")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the command --------------------------------------------------------------------------------

def _progress_bar(console, end_ms: int):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]simulating"), BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("served {task.fields[served]}/{task.fields[requests]}"),
        TextColumn("alarms {task.fields[alarms]}"), TimeElapsedColumn(),
        console=console, transient=False,
    )


def _clock(t_ms: int) -> str:
    d, rest = divmod(t_ms // 60_000, 24 * 60)
    return f"day {d + 1} {rest // 60:02d}:{rest % 60:02d}"


def _table(s: dict):
    from rich.table import Table

    t = Table(title="simulated day", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    rows = [
        ("requests", s["requests"]), ("served", s["served"]), ("abandoned", s["abandoned"]),
        ("still unserved", s["pending"]), ("jobs (unit moves)", s["jobs"]),
        ("mean wait", f"{s['mean_wait_s'] / 60:.1f} min"),
        ("p95 wait", f"{s['p95_wait_s'] / 60:.1f} min"),
        ("max wait", f"{s['max_wait_s'] / 60:.1f} min"),
        ("carriage travel", f"{s['travel_m'] / 1000:.2f} km"),
        ("alarms", s["alarms"]), ("plant violations", s["violations"]),
        ("moving tick late, max (sim_tick_late_max_ms)", f"{s['sim_tick_late_max_ms']} ms"),
        ("step ring underruns", s["step_underruns"]),
        ("CPU costs charged", "yes (boards/SIM/cpu_costs.json)" if s["cpu_costs"]["charged"] else "no"),
        ("wall time", f"{s['wall_s']:.1f} s ({s['sim_speedup']}x real time)"),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    return t


def main(args) -> int:
    """Run `railbot sim` with parsed arguments (seed, hours, units, rate, tail, board_data, out, quiet)."""
    from rich.console import Console

    console = Console(quiet=args.quiet, soft_wrap=True)  # long lines (paths) stay whole
    err = Console(stderr=True, soft_wrap=True)
    tail = args.tail
    end_ms = (args.hours + tail) * HOUR_MS
    try:  # before anything runs: a file the loader refuses is one line, exit 2
        cfg = robot_config(args.units, getattr(args, "board_data", None))
    except BoardDataError as e:
        from railbot_host.cli import one_line

        err.print(f"railbot sim: error: board data {one_line(str(e), 1000)}", markup=False, highlight=False)
        return 2
    out = Path(args.out)
    try:  # a folder that cannot be made says so now, not after the day has run
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from railbot_host.cli import one_line

        err.print(f"railbot sim: error: argument --out: {one_line(str(e))}", markup=False, highlight=False)
        return 2
    console.print(f"railbot sim: seed {args.seed}, {args.hours} h of cars at rate {args.rate}, "
                  f"{args.units} units; then {tail} h more with no new cars so evening "
                  f"sessions can finish ({args.hours + tail} h simulated)")
    if args.quiet:
        run = run_day(args.seed, args.hours, args.units, args.rate, tail, cfg=cfg)
    else:
        with _progress_bar(console, end_ms) as bar:
            task = bar.add_task("day", total=end_ms, clock=_clock(0), served=0, requests=0, alarms=0)

            def progress(t_ms, day):
                asked = [c for c in day.cars if c.requested_ms >= 0]
                bar.update(task, completed=t_ms, clock=_clock(t_ms), requests=len(asked),
                           served=sum(c.served_ms >= 0 for c in asked), alarms=day.alarms)

            run = run_day(args.seed, args.hours, args.units, args.rate, tail, progress=progress, cfg=cfg)

    summary = dict(run.summary, violation_list=run.violations, failures=run.failures)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "events.jsonl").write_text("".join(line + "\n" for line in run.events))
    plot_timeline(run, out / "timeline.png")

    console.print(_table(run.summary))
    console.print(f"wrote {out / 'summary.json'}, {out / 'events.jsonl'} "
                  f"({len(run.events)} events), {out / 'timeline.png'}", markup=False)
    if run.failures:
        err.print("[bold red]railbot sim: FAILED[/]")
        for why in run.failures:
            err.print(f"  - {why}", markup=False)
        return 1
    console.print("[bold green]ok[/]: every request served, no alarm, no plant violation")
    return 0
