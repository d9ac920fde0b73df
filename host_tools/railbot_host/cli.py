"""The `railbot` command: sim, test, bench. Exit status 0 ok, 1 failure, 2 usage error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _ranged(kind: type, lo, hi=None) -> Callable[[str], int | float]:
    """An argparse type: a `kind` number in lo..hi (no upper bound if hi is None)."""
    what = "an integer" if kind is int else "a number"
    span = f">= {lo}" if hi is None else f"in {lo}..{hi}"

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} {span}, got {text!r}") from None
        if v != v or v < lo or (hi is not None and v > hi):  # v != v: NaN
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {what} {span}")
        return v

    return parse


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="railbot",
        description="Host tools of the railbot EV-charging robot.",
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sim = sub.add_parser(
        "sim", help="run a simulated day of the car park (firmware on the simulated board)",
        description="Run the firmware through a simulated day of cars under CPython; write "
                    "OUT/summary.json, OUT/events.jsonl and OUT/timeline.png. Exit 1 if a request "
                    "was abandoned or left unserved, or on any alarm or plant violation.",
    )
    sim.add_argument("--seed", type=_ranged(int, 0), default=1, help="day seed (default 1)")
    sim.add_argument("--hours", type=_ranged(int, 1, 168), default=24,
                     help="hours of arriving cars, 1..168 (default 24)")
    sim.add_argument("--units", type=_ranged(int, 1, 12), default=6,
                     help="charging units, 1..12 (default 6, as in boards/SIM/robot.json)")
    sim.add_argument("--rate", type=_ranged(float, 0.1, 5.0), default=1.0,
                     help="request rate x the reference profile, 0.1..5.0 (default 1.0)")
    sim.add_argument("--tail", type=_ranged(int, 0, 48), default=12,
                     help="hours simulated after the last arrivals, 0..48 (default 12)")
    sim.add_argument("--out", default="build/sim", help="output folder (default build/sim)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar or table")
    sim.set_defaults(sub=sim)

    test = sub.add_parser(
        "test", help="run every test tier that runs here (make test)",
        description="CPython tier (pytest), MicroPython tier (tests/firmware under the "
                    "WebAssembly port), and the seeded mission under both interpreters.",
    )
    test.add_argument("-k", metavar="EXPR",
                      help="select tests: a pytest -k expression for the CPython tier, a substring "
                           "of test ids for the MicroPython tier; skips the mission tier")
    test.add_argument("--tier", action="append", choices=("cpython", "micropython", "mission"),
                      help="run only this tier (repeatable)")
    test.set_defaults(sub=test)

    # The bench's own options are parsed by its module (imported only for `railbot bench`).
    sub.add_parser("bench", help="measure the firmware: timing, memory, both interpreters "
                                         "(railbot bench --help)", add_help=False)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns, rest = parser.parse_known_args(argv)  # usage errors: message and exit 2
    if rest and ns.command != "bench":
        ns.sub.error("unrecognized arguments: " + " ".join(rest))
    try:
        if ns.command == "sim":
            from railbot_host import sim

            return sim.main(ns)
        if ns.command == "test":
            from railbot_host import testrun

            return testrun.main(ns)
        from railbot_host import bench

        bench_parser = argparse.ArgumentParser(
            prog="railbot bench", description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        return bench.main(bench.add_arguments(bench_parser).parse_args(rest))
    except KeyboardInterrupt:
        print("railbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
