"""`railbot flash`: put a board into its UF2 bootloader and copy a firmware image to the BOOTSEL drive.

The RP2040's boot ROM shows a USB drive (label RPI-RP2) holding INFO_UF2.TXT; a .uf2 file copied
to it is flashed and the board reboots into it. Exit status: 0 copied, 1 no drive appeared in time,
2 usage (no such file), 3 no board on --port.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from railbot_host.board import EXIT_USAGE, BoardError, MpremoteBoard

INFO = "INFO_UF2.TXT"
LABEL = "RPI-RP2"


class FlashError(BoardError):
    pass


def candidate_drives() -> list[Path]:
    """Where a BOOTSEL drive is mounted on Linux, macOS and Windows."""
    user = os.environ.get("USER", "")
    c = [Path("/media") / user / LABEL, Path("/run/media") / user / LABEL, Path("/media") / LABEL,
         Path("/Volumes") / LABEL]
    if os.name == "nt":
        c += [Path(f"{d}:/") for d in "DEFGHIJKLMNOPQRSTUVWXYZ"]
    return c


def is_bootsel_drive(d: Path) -> bool:
    return (Path(d) / INFO).is_file()


def wait_for_drive(drives: Iterable[Path], timeout_s: float = 20.0, poll_s: float = 0.1,
                   clock: Callable[[], float] = time.monotonic) -> Path:
    drives = [Path(d) for d in drives]
    end = clock() + timeout_s
    while True:
        for d in drives:
            if is_bootsel_drive(d):
                return d
        if clock() >= end:
            raise FlashError(f"no BOOTSEL drive ({LABEL} with {INFO}) appeared within {timeout_s:g} s at: "
                             + ", ".join(map(str, drives)))
        time.sleep(poll_s)


def copy_image(uf2: Path, drive: Path) -> Path:
    dst = Path(drive) / Path(uf2).name
    with open(uf2, "rb") as src, open(dst, "wb") as out:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    return dst


def check_uf2(uf2: Path) -> None:
    p = Path(uf2)
    if not p.is_file():
        raise FlashError(f"no such image: {p}")
    head = p.read_bytes()[:8]
    if head[:4] != b"UF2\n" or head[4:8] != b"\x57\x51\x5d\x9e":
        raise FlashError(f"{p} is not a UF2 image (bad magic)")


def flash(uf2: Path, *, port: str | None, drive: Path | None, timeout_s: float = 20.0,
          bootloader: Callable[[str], None] | None = None, say=print) -> Path:
    """Bootloader (if port), wait for the drive, copy. `bootloader(port)` is replaceable for tests."""
    try:
        check_uf2(uf2)
    except FlashError as e:
        e.code = EXIT_USAGE
        raise
    if port:
        say(f"asking the board on {port} to enter its bootloader")
        (bootloader or _mpremote_bootloader)(port)
    drives = [drive] if drive else candidate_drives()
    say("waiting for the BOOTSEL drive")
    d = wait_for_drive(drives, timeout_s)
    dst = copy_image(uf2, d)
    say(f"copied {Path(uf2).name} ({Path(uf2).stat().st_size} bytes) to {dst}; the board reboots into it")
    return dst


def _mpremote_bootloader(port: str) -> None:
    board = MpremoteBoard(port, soft_reset=False)
    try:
        board.bootloader()
    finally:
        try:
            board.transport.close()
        except Exception:
            pass


def main(ns) -> int:
    from rich.console import Console
    from rich.markup import escape

    con = Console(soft_wrap=True)
    try:
        flash(Path(ns.uf2), port=ns.port, drive=Path(ns.drive) if ns.drive else None,
              timeout_s=ns.timeout, say=con.print)
    except BoardError as e:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]railbot flash:[/] {escape(str(e))}")
        return e.code
    return 0
