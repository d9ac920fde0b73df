"""The `railbot` command: sim, test, bench, deploy, flash, firmware. Exit status 0 ok, 1 failure,
2 usage error; board commands also 3 no board, 4 wrong .mpy version, 5 build failed."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence

#: Plain ASCII numbers only: int() and float() would also take '١٢', '+1', ' 1', '1_0', 'nan', '1e3'.
_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
#: Longer than any number in range: refused before int() (which refuses 4300 digits with a traceback
#: of its own) and before a long value fills the message.
_NUMBER_CHARS = 24
SEED_MAX = 2**31 - 1
#: A message longer than this is cut: an error line names the problem, it does not echo 10 000 characters.
_MESSAGE_CHARS = 300


def printable(text: str) -> str:
    """`text` with every character a terminal would act on or cannot show (control characters, ESC,
    NUL, lone surrogates from undecodable bytes, line and paragraph separators) written as an escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """`text` as one printable line of at most about `limit` characters: a long one loses its middle,
    so that what it names (first) and the reason (last) both stay."""
    text = printable(text)
    if len(text) > limit:
        tail = limit // 4
        text = f"{text[:limit - tail - 40]} ...({len(text)} characters)... {text[-tail:]}"
    return text


def show(value: str) -> str:
    """A value quoted for an error line: escaped and, if long, cut (saying how long it was)."""
    return one_line(repr(value), 80) if len(value) <= 60 else f"{printable(repr(value[:40]))}... ({len(value)} characters)"


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (control characters escaped, long values cut); exit 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def ranged(kind: type, lo, hi, *, signed: bool = False) -> Callable[[str], int | float]:
    """An argparse type: a `kind` number in lo..hi written in plain ASCII (a sign only if `signed`)."""
    what = "an integer" if kind is int else "a number"
    span = f"in {lo}..{hi}"
    form = _DECIMAL if kind is float else _SIGNED if signed else _UNSIGNED

    def parse(text: str):
        if len(text) > _NUMBER_CHARS or not form.fullmatch(text):
            raise argparse.ArgumentTypeError(f"expected {what} {span} in plain digits, got {show(text)}")
        v = kind(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {what} {span}")
        return v

    return parse



def text(what: str, max_chars: int, *, spaces: bool = False, check: Callable[[str], str] | None = None
         ) -> Callable[[str], str]:
    """An argparse type: `what` (a path, a port, ...) as printable text of 1..max_chars characters,
    one word unless `spaces`; `check(text)` returns a further reason to refuse it, or ''."""

    def parse(value: str):
        why = ""
        if not value:
            why = "is empty"
        elif len(value) > max_chars:
            why = f"is {len(value)} characters long, at most {max_chars}"
        elif any("\ud800" <= c <= "\udfff" for c in value):
            why = "is not UTF-8 text"
        elif not value.isprintable() and not (spaces and value.replace("\t", " ").isprintable()):
            bad = next(c for c in value if not c.isprintable())
            why = f"has a control character ({printable(bad)})"
        elif not spaces and value != "".join(value.split()):
            why = "has a space in it"
        elif check:
            why = check(value)
        if why:
            raise argparse.ArgumentTypeError(f"{what} {show(value)} {why}")
        return value

    return parse


#: A file's path (Linux's PATH_MAX), a serial port or socket:// URL, a word sent to the robot.
path_arg = text("the path", 4096, spaces=True)
port_arg = text("the port", 200)
word_arg = text("the word", 200)
url_arg = text("the URL", 1000, check=lambda v: "" if v.startswith(("http://", "https://"))
               else "is not an http:// or https:// URL")
#: Bays: the board data allows 255 stations of two bays; the robot checks its own site.
BAY_MAX = 510
#: `railbot log --page K`: more pages than a black box keeps (its events numbered up to 999 999 999).
LOG_PAGE_MAX = 100_000_000
#: The longest rail the board data allows (x.travel_mm).
JOG_MM_MAX = 200_000


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(
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
    sim.add_argument("--seed", type=ranged(int, 0, SEED_MAX), default=1, help="day seed (default 1)")
    sim.add_argument("--hours", type=ranged(int, 1, 168), default=24,
                     help="hours of arriving cars, 1..168 (default 24)")
    sim.add_argument("--units", type=ranged(int, 1, 12), default=6,
                     help="charging units, 1..12 (default 6, as in boards/SIM/robot.json)")
    sim.add_argument("--rate", type=ranged(float, 0.1, 5.0), default=1.0,
                     help="request rate x the reference profile, 0.1..5.0 (default 1.0)")
    sim.add_argument("--tail", type=ranged(int, 0, 48), default=12,
                     help="hours simulated after the last arrivals, 0..48 (default 12)")
    sim.add_argument("--board-data", metavar="PATH", type=path_arg,
                     help="the robot's board data (default boards/SIM/robot.json); a file the firmware's "
                          "loader refuses is named with the key and the reason, exit 2")
    sim.add_argument("--out", type=path_arg, default="build/sim", help="output folder (default build/sim)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar or table")
    sim.set_defaults(sub=sim)

    test = sub.add_parser(
        "test", help="run every test tier that runs here (make test), or, with --port, the firmware "
                     "tests on a board (make test-board)",
        description="CPython tier (pytest), MicroPython tier (tests/firmware under the "
                    "WebAssembly port), and the seeded mission under both interpreters.",
    )
    test.add_argument("-k", metavar="EXPR", type=text("the expression", 1000, spaces=True),
                      help="select tests: a pytest -k expression for the CPython tier, a substring "
                           "of test ids for the MicroPython tier; skips the mission tier")
    test.add_argument("--tier", action="append", choices=("cpython", "micropython", "mission"),
                      help="run only this tier (repeatable)")
    test.add_argument("--port", type=port_arg, help="run tests/firmware on the board at PORT (a serial port or "
                                     "socket://HOST:PORT) instead of the tiers here")
    test.add_argument("--board", choices=("SIM", "PICO"), default="PICO",
                      help="with --port: the board data deployed with the firmware (default PICO)")
    test.add_argument("--timeout", type=ranged(float, 1, 7 * 86400), default=3600,
                      help="with --port: seconds the on-board run may take (default 3600)")
    test.add_argument("--modules", metavar="test_a,test_b", type=text("the module list", 1000),
                      help="with --port: import and run only these modules of tests/firmware (a "
                           "board's heap does not hold every module's imports; docs/silicon.md)")
    test.set_defaults(sub=test)

    dep = sub.add_parser(
        "deploy", help="compile the firmware and copy what changed to a board (make deploy)",
        description="Compile firmware/railbot with mpy-cross, refuse a board whose .mpy version "
                    "differs, copy only the files whose sha256 on the board differs, install the "
                    "board data and main.py, check the tree the board imports, then start main.py. "
                    "Exit 3: no board, 4: wrong .mpy version, 5: mpy-cross failed.",
    )
    dep.add_argument("--port", required=True, type=port_arg, help="serial port (/dev/ttyACM0) or socket://HOST:PORT")
    dep.add_argument("--board", choices=("SIM", "PICO"), default="PICO", help="board data to install (default PICO)")
    dep.add_argument("--quiet", action="store_true", help="no progress bar")
    dep.add_argument("--no-start", action="store_true",
                     help="leave the board at the REPL (default: soft reset, so main.py runs the robot)")
    dep.set_defaults(sub=dep)

    fl = sub.add_parser(
        "flash", help="put a board into its bootloader and copy a UF2 image to it",
        description="With --port, reboot the board into its UF2 bootloader (mpremote bootloader); "
                    "wait for the BOOTSEL drive (RPI-RP2 with INFO_UF2.TXT) and copy the image.",
    )
    fl.add_argument("--uf2", required=True, type=path_arg, help="the firmware image (.uf2)")
    fl.add_argument("--port", type=port_arg, help="the running board (omit if it is already in BOOTSEL mode)")
    fl.add_argument("--drive", type=path_arg, help="where the BOOTSEL drive is mounted (default: look in /media, /Volumes)")
    fl.add_argument("--timeout", type=ranged(float, 0, 3600), default=20.0,
                    help="seconds to wait for the drive (default 20)")
    fl.set_defaults(sub=fl)

    fw = sub.add_parser(
        "firmware", help="check the freeze manifest and build the board's UF2 images (make firmware)",
        description="Check that every firmware import is built into MicroPython, in the tree or "
                    "pulled by require() in boards/BOARD/manifest.py; then build build/firmware/BOARD/"
                    "firmware.uf2 (railbot frozen) and stock.uf2 from the pinned MicroPython source, "
                    "cached outside the clone. Exit 1: manifest problems, 5: a build step failed, "
                    "6: a tool (arm-none-eabi-gcc) is missing, 7: the pinned source cannot be had.",
    )
    fw.add_argument("--board", choices=("SIM", "PICO"), default="PICO")
    fw.add_argument("--image", choices=("both", "frozen", "stock"), default="both",
                    help="which image (default both)")
    fw.add_argument("--check-only", action="store_true", help="only check the manifest")
    fw.set_defaults(sub=fw)

    # The robot's commands: against the simulator (--sim, the default for now) or a board (--port).
    target = Parser(add_help=False)
    where = target.add_mutually_exclusive_group()
    where.add_argument("--sim", action="store_true",
                       help="the firmware on the simulated board in this process (default)")
    where.add_argument("--port", type=port_arg, help="a board on PORT (needs the host link)")
    target.add_argument("--seed", type=ranged(int, 0, SEED_MAX), default=1, help="simulator seed (default 1)")

    def robot_cmd(name, help_text, *args):
        p = sub.add_parser(name, help=help_text, parents=[target], description=help_text)
        for a, kw in args:
            p.add_argument(a, **kw)
        p.set_defaults(sub=p, robot=True)
        return p

    robot_cmd("status", "where the robot is: state, position, alarm, jobs")
    robot_cmd("home", "re-establish the position (lift, then carriage)")
    robot_cmd("charge", "queue a charge request for a bay and let the robot serve it",
              ("bay", dict(type=ranged(int, 1, BAY_MAX), help="bay number")))
    robot_cmd("release", "the session at a bay is over: its unit is free again",
              ("bay", dict(type=ranged(int, 1, BAY_MAX), help="bay number")))
    robot_cmd("jog", "move the carriage by MM millimetres", ("mm", dict(type=ranged(int, -JOG_MM_MAX, JOG_MM_MAX, signed=True), help="millimetres, +/-")))
    robot_cmd("hold", "feed hold: ramp down and wait")
    robot_cmd("resume", "continue after hold or reset")
    robot_cmd("alarm", "alarm actions", ("action", dict(choices=("reset",), help="reset: clear an alarm whose cause is gone")))
    lg = robot_cmd("log", "page through the robot's black box: the events it keeps on flash across resets (at "
                          "least its last 300), numbered; the newest page by default (the simulator homes first)")
    which = lg.add_mutually_exclusive_group()
    which.add_argument("--page", type=ranged(int, 1, LOG_PAGE_MAX), default=1,
                       help="the K-th page back from the newest (1 = the newest, 16 events or fewer)")
    which.add_argument("--all", action="store_true", help="every event kept, oldest first")
    cfg = robot_cmd("config", "read the robot's board data, or change a board's robot.json (dotted keys: "
                              "x.v_max_mm_s, site.units.0.port); a change is validated, saved, used from the "
                              "board's next reset",
                    ("action", dict(choices=("get", "set"))), ("key", dict(type=word_arg, help="dotted key")))
    cfg.add_argument("value", nargs="?", type=word_arg, help="the new value (set)")
    con = robot_cmd("console", "type robot commands (and `wait S`, `quit`); reads stdin")
    con.add_argument("--gateway", metavar="URL", type=url_arg, help="through the gateway that holds the robot's port (its API URL)")

    sub.add_parser("gateway", help="the car park's gateway: robot, units' meters, OCPP, owners' API "
                                   "(railbot gateway --help)", add_help=False)
    # The bench's own options are parsed by its module (imported only for `railbot bench`).
    sub.add_parser("bench", help="measure the firmware: timing, memory, both interpreters "
                                         "(railbot bench --help)", add_help=False)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns, rest = parser.parse_known_args(argv)  # usage errors: message and exit 2
    if rest and ns.command not in ("bench", "gateway"):
        ns.sub.error("unrecognized arguments: " + " ".join(rest))
    try:
        if ns.command == "gateway":
            from railbot_host.gateway import service

            return service.main(rest)
        if getattr(ns, "gateway", None):
            from railbot_host.gateway import console

            return console.main(ns)
        if getattr(ns, "port", None):  # one host per port: the gateway may hold it
            from railbot_host.gateway import portlock

            if held := portlock.describe(ns.port):
                print(f"railbot {ns.command}: {held}", file=sys.stderr)
                return 3
        if ns.command == "sim":
            from railbot_host import sim

            return sim.main(ns)
        if ns.command == "test" and ns.modules and not ns.port:
            ns.sub.error("--modules selects the tests run on a board: it needs --port")
        if ns.command == "test" and ns.port:
            from railbot_host import boardtest

            return boardtest.main(ns)
        if getattr(ns, "robot", False):
            from railbot_host import robotcli

            return robotcli.main(ns)
        if ns.command in ("deploy", "flash", "firmware"):
            import importlib

            mod = {"deploy": "deploy", "flash": "flash", "firmware": "firmware_image"}[ns.command]
            return importlib.import_module(f"railbot_host.{mod}").main(ns)
        if ns.command == "test":
            from railbot_host import testrun

            return testrun.main(ns)
        from railbot_host import bench

        bench_parser = Parser(
            prog="railbot bench", description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        return bench.main(bench.add_arguments(bench_parser).parse_args(rest))
    except KeyboardInterrupt:
        print("railbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
