"""Firmware modules compiled a second time for a board's native emitter (mpy-cross -X emit=viper), for the frozen image and for `railbot deploy`.

The trapezoid planner's word loop (firmware/railbot/plan.py) costs about 0.6 ms a word as bytecode
on an RP2040 and 31 to 35 us as viper code: a ramp needs up to 16 words a 10 ms tick. The source is
written so that it compiles either way (its docstring has the rules); a board whose architecture is
listed here also gets it as `railbot/plan_native.mpy` (frozen into flash, or deployed), which
railbot.native imports when present. CPython, the WebAssembly port and a board not listed run
plan.py as it is. MicroPython v1.28 freezes armv6m native code misaligned
(firmware_build.fix_mpy_tool; plan.py's docstring says how the file stays safe without the fix).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# source (under firmware/) -> the native module's path in the image / on the board
MODULES = {"railbot/plan.py": "railbot/plan_native.mpy"}
MODULES_BY_TARGET = {target: src for src, target in MODULES.items()}
EMITTER = "viper"
# a board's CPU as mpy-cross -march names it (MicroPython's ports/rp2/CMakeLists.txt: RP2040 armv6m)
MARCH = {"PICO": "armv6m"}


class NativeBuildError(RuntimeError):
    """mpy-cross refused a native module (a viper typing error names the line)."""


def args(board: str) -> list[str]:
    """mpy-cross options for the board's native modules ([] when it has no native emitter listed)."""
    arch = MARCH.get(board)
    return [f"-march={arch}", "-X", f"emit={EMITTER}"] if arch else []


def commands(mpy_cross: list[str], board: str, src_root: Path, out_root: Path) -> dict[str, list[str]]:
    """{image path: the mpy-cross command line that writes it under out_root} for `board`'s native
    modules; {} for a board without a native emitter listed."""
    flags = args(board)
    if not flags:
        return {}
    # -s: the name tracebacks show, and what the frozen image's C identifiers are made from (which
    # must differ from the bytecode plan.py's)
    return {target: [*mpy_cross, *flags, "-s", target[:-4] + ".py", "-o", str(Path(out_root) / target),
                     str(Path(src_root) / src)] for src, target in MODULES.items()}


def compile_modules(mpy_cross: list[str], board: str, src_root: Path, out_root: Path) -> dict[str, Path]:
    """Run commands(): {image path: .mpy file written}."""
    done = {}
    for target, cmd in commands(mpy_cross, board, src_root, out_root).items():
        out = Path(out_root) / target
        out.parent.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise NativeBuildError(f"mpy-cross {' '.join(args(board))} {MODULES_BY_TARGET[target]}: "
                                   f"{(run.stderr or run.stdout).strip()}")
        done[target] = out
    return done
