"""The silicon tier: MicroPython's rp2 port (the image a technician flashes) on an emulated RP2040, reached by mpremote and `railbot --port socket://...` over loopback TCP.

`host_tools/silicon/silicon.mjs` runs rp2040js (pinned in its package.json) with the fixes in
`fixes.mjs` (docs/silicon.md): the UF2 and a littlefs image with the board data on a 2 MB flash, the
RP2040 B1 bootrom, the board's USB CDC on 127.0.0.1. A reboot (watchdog, machine.reset()) is a new
chip with the same flash, and drops the connection as a board's USB would::

    from railbot_host.silicon import EmulatedBoard, stock_uf2
    with EmulatedBoard(frozen_uf2(), files=board_files("PICO")) as eb:
        eb.mpremote("exec", "print(1)")            # socket://127.0.0.1:PORT
        eb.stats()                                  # emulated ns and cycles, boots, flash, USB

Where the pieces come from: the frozen image is `make firmware`'s (build/firmware/PICO/firmware.uf2,
needs the arm toolchain); the stock image and the bootrom are in ../shared/upstream where it exists,
else the stock image is downloaded from micropython.org once and pinned by the hash recorded then
(~/.cache/railbot/silicon/), and the bootrom must be put there by hand (SiliconUnavailable says so).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from railbot_host import firmware_build, upy
from railbot_host.vboard import LoopbackBoard

SILICON_DIR = upy.REPO_ROOT / "host_tools" / "silicon"
RUNNER = SILICON_DIR / "silicon.mjs"
_ENTRY = SILICON_DIR / "node_modules" / "rp2040js" / "dist" / "esm" / "index.js"
BOARDS = upy.REPO_ROOT / "boards"

BOOTROM = "rp2040-bootrom-B1.bin"
BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
STOCK_UF2 = "RPI_PICO-v1.28.0.uf2"
STOCK_SHA256 = "b2ab8414626b62e7e302ec9cf9a4bc8f07f9c2680b73ad5327a5d7ef87cd00e0"
DOWNLOADS = os.environ.get("RAILBOT_MICROPYTHON_DOWNLOADS", "https://micropython.org")
_STOCK_LINK = re.compile(r'href="([^"]*/RPI_PICO-\d{8}-v1\.28\.0\.uf2)"')

# RPI_PICO's file system: the last 1408 KB of its 2 MB flash (MicroPython's rp2 port), littlefs v2
# with 4 KB blocks, as rp2.Flash presents it.
FS_BLOCK = 4096
FS_BLOCKS = 352
FS_PROG = 256


class SiliconUnavailable(RuntimeError):
    """A piece the tier needs is missing (node, the npm package, an image, the bootrom)."""


def ensure_npm() -> None:
    try:
        upy.ensure_npm(SILICON_DIR, _ENTRY)
    except upy.UpyUnavailable as e:
        raise SiliconUnavailable(str(e)) from e


def bootrom(upstream: Path = firmware_build.UPSTREAM) -> Path:
    p = upstream / BOOTROM
    if not p.is_file():
        raise SiliconUnavailable(
            f"the RP2040 bootrom is missing: put {BOOTROM} (the B1 mask ROM, 16384 bytes, sha256 "
            f"{BOOTROM_SHA256[:16]}..., built from raspberrypi/pico-bootrom) in {upstream}/ "
            "(or set RAILBOT_UPSTREAM to its folder)")
    if firmware_build.sha256_file(p) != BOOTROM_SHA256:
        raise SiliconUnavailable(f"{p}: sha256 differs from the pinned B1 bootrom's {BOOTROM_SHA256}")
    return p


def stock_uf2(upstream: Path = firmware_build.UPSTREAM, cache: Path | None = None,
              downloads: str | None = None) -> Path:
    """MicroPython v1.28.0's stock RPI_PICO image: ../shared/upstream's (pinned sha256), else the
    one downloaded from micropython.org's download page, pinned by the hash recorded on its first
    download."""
    p = upstream / STOCK_UF2
    if p.is_file():
        if firmware_build.sha256_file(p) != STOCK_SHA256:
            raise SiliconUnavailable(f"{p}: sha256 differs from the pinned {STOCK_SHA256}")
        return p
    cache = (cache or firmware_build.cache_root()) / "silicon"
    cache.mkdir(parents=True, exist_ok=True)
    got, pin = cache / STOCK_UF2, cache / (STOCK_UF2 + ".sha256")
    if got.is_file() and pin.is_file():
        if firmware_build.sha256_file(got) != pin.read_text().strip():
            raise SiliconUnavailable(f"{got}: sha256 differs from the one recorded at its first download ({pin})")
        return got
    base = (downloads or DOWNLOADS).rstrip("/")
    page_url = f"{base}/download/RPI_PICO/"
    try:
        page = urllib.request.urlopen(page_url, timeout=30).read().decode(errors="replace")
        m = _STOCK_LINK.search(page)
        if not m:
            raise SiliconUnavailable(f"{page_url} lists no RPI_PICO v1.28.0 .uf2")
        link = m.group(1) if m.group(1).startswith("http") else base + m.group(1)
        data = urllib.request.urlopen(link, timeout=60).read()
    except OSError as e:
        raise SiliconUnavailable(f"no stock image: {upstream / STOCK_UF2} is missing and {page_url} "
                                 f"cannot be read ({e})") from e
    if len(data) % 512 or data[:4] != b"UF2\n":
        raise SiliconUnavailable(f"{link}: not a UF2 file ({len(data)} bytes)")
    digest = hashlib.sha256(data).hexdigest()
    if pin.is_file() and pin.read_text().strip() != digest:
        raise SiliconUnavailable(f"{link}: sha256 {digest} differs from the one recorded at its first download ({pin})")
    tmp = got.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(got)
    pin.write_text(digest + "\n")
    return got


def frozen_uf2() -> Path:
    """`make firmware`'s image with railbot frozen in (built from the cache when it is current)."""
    p = firmware_build.OUT_ROOT / "PICO" / "firmware.uf2"
    if not p.is_file():
        raise SiliconUnavailable(f"{p} is missing: `make firmware BOARD=PICO` builds it "
                                 f"(needs the arm toolchain: {firmware_build.APT})")
    return p


def board_files(board: str = "PICO") -> dict[str, bytes]:
    """What the flash's root holds for `board`: its robot.json and pins.csv."""
    d = BOARDS / board
    return {n: (d / n).read_bytes() for n in ("robot.json", "pins.csv")}


def fs_image(files: dict[str, bytes]) -> bytes:
    """A littlefs image of RPI_PICO's file system holding `files` (path -> bytes) at its root."""
    from littlefs import LittleFS

    fs = LittleFS(block_size=FS_BLOCK, block_count=FS_BLOCKS, prog_size=FS_PROG)
    for name, data in files.items():
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if parent:
            fs.makedirs(parent, exist_ok=True)
        with fs.open(name, "wb") as f:
            f.write(data)
    return bytes(fs.context.buffer)


class EmulatedBoard(LoopbackBoard):
    """An emulated Pico in a Node.js process; a context manager (start() / stop())."""

    not_running = SiliconUnavailable
    mpremote_timeout = 120.0  # the emulated core runs at a tenth of a board's speed or so

    def __init__(self, uf2: Path, *, files: dict[str, bytes] | None = None, flash_in: Path | None = None,
                 speed: float = 1.0, no_fix: tuple[str, ...] = (), workdir: Path | None = None,
                 start_timeout: float = 30.0, flash_times: str = "typical", plant=None):
        """flash_times: "typical" or "max" (the NOR's datasheet times, nor.mjs); plant: a
        railbot_host.pinplant.PinPlant to put on the chip's pins (lockstep, plant.mjs)."""
        self.uf2 = Path(uf2)
        self.files = files
        self.flash_in = flash_in
        self.speed = speed
        self.no_fix = no_fix
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.flash_times = flash_times
        self.plant = plant
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.events: list[dict] = []
        self._replies: queue.Queue = queue.Queue()
        self._cv = threading.Condition()
        self.stderr_lines: list[str] = []
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> "EmulatedBoard":
        ensure_npm()
        node = upy.node_path()
        if node is None:
            raise SiliconUnavailable("`node` is not on PATH")
        cmd = [node, str(RUNNER), "--bootrom", str(bootrom()), "--speed", str(self.speed)]
        if self.flash_in:
            cmd += ["--flash-in", str(self.flash_in)]
        else:
            cmd += ["--uf2", str(self.uf2)]
        if self.files is not None:
            if self.workdir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="railbot-si-")
            img = Path(self.workdir or self._tmp.name) / "fs.lfs"
            img.write_bytes(fs_image(self.files))
            cmd += ["--fs", str(img)]
        for n in self.no_fix:
            cmd += ["--no-fix", n]
        cmd += ["--flash-times", self.flash_times]
        fds: tuple[int, ...] = ()
        if self.plant is not None:
            to_node, from_py = os.pipe()
            to_py, from_node = os.pipe()
            cmd += ["--plant-in", str(to_node), "--plant-out", str(from_node)]
            fds = (to_node, from_node)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=SILICON_DIR, pass_fds=fds)
        if self.plant is not None:
            os.close(to_node)
            os.close(from_node)
            self.plant.serve(os.fdopen(to_py, "rb"), os.fdopen(from_py, "wb"))
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ev = self.wait_event(lambda e: e.get("event") == "listening", self.start_timeout)
        self.port = ev["port"]
        return self

    def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "reply" in msg or "error" in msg:
                self._replies.put(msg)
            with self._cv:
                self.events.append(msg)
                self._cv.notify_all()
        with self._cv:
            self.events.append({"event": "exit"})
            self._cv.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def wait_event(self, pred, timeout: float = 30.0, start: int = 0) -> dict:
        """The first event from index `start` on that satisfies pred (TimeoutError if none)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for e in self.events[start:]:
                    if pred(e):
                        return e
                    if e.get("event") == "exit":
                        raise SiliconUnavailable("the emulator exited: " + "".join(self.stderr_lines[-20:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no such event within {timeout} s; events: {self.events[-5:]}")
                self._cv.wait(left)

    def boots(self) -> list[dict]:
        return [e for e in self.events if e.get("event") == "boot"]

    def wait_boot(self, n: int, timeout: float = 60.0) -> dict:
        """The n-th boot's event, once its USB has enumerated."""
        ev = self.wait_event(lambda e: e.get("event") == "boot" and e["n"] == n, timeout)
        self.wait_event(lambda e: e.get("event") == "usb" and e["n"] == n, timeout)
        return ev

    def _op(self, **msg) -> dict:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        reply = self._replies.get(timeout=30)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def stats(self) -> dict:
        return self._op(op="stats")

    def host_reads(self, on: bool) -> None:
        """The host application stops (False) or resumes reading the port: its tty buffer fills,
        then the board's IN transfers are NAKed."""
        self._op(op="host_reads", on=on)

    def power_cycle(self) -> None:
        self._op(op="power_cycle")

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if p is None:
            return
        if p.poll() is None:
            try:
                p.stdin.write(json.dumps({"op": "quit"}) + "\n")
                p.stdin.flush()
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()

