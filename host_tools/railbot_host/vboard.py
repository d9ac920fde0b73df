"""The virtual board: real MicroPython with the simulated board inside, reached by mpremote over loopback TCP.

`host_tools/upy/vboard.mjs` runs MicroPython's WebAssembly port under Node.js with the SIM board
(paced to wall-clock time) and serves a raw REPL on 127.0.0.1, so the real mpremote drives it like a
board on USB::

    from railbot_host.vboard import VirtualBoard
    with VirtualBoard() as vb:                      # node on a free port, waits until it listens
        subprocess.run(["mpremote", "connect", vb.url, "fs", "ls"])   # vb.url: socket://127.0.0.1:PORT
        vb.mpremote("exec", "print(1)")            # the venv's mpremote, CompletedProcess

What works: exec, eval, run, fs ls/cat/cp (hash skip: "Up to date")/cp -r/mkdir/rm/sha256sum,
soft-reset (files on the flash survive; RAM and the plant start over), Ctrl-C (KeyboardInterrupt
raised at the next simulated-clock step or paced sleep, or by machine._usb.readinto), raw-paste, a
simple friendly REPL, and the board's USB as the running program sees it: while code runs (an
exec or main.py) the bytes the host sends (all but Ctrl-C) are its stdin, read with
`machine._usb.readinto(buf)` (never blocks; 0 when none) and answered with `machine._usb.write`
(binary); what it did not read goes to the REPL when it ends, as does everything after a Ctrl-C.
`machine._usb` is None on the simulated board elsewhere (tests, make sim).
main.py (on the flash) runs as __main__ as on a board: after `machine.reset()`/`soft_reset()`
(`VirtualBoard.reset()`; the flash is kept, RAM and the plant start over), after Ctrl-D at the
friendly `>>> ` and at power-on; not after a soft reset in the raw REPL (mpremote's). Its output
goes to the socket, then its traceback if it raised, the banner and `>>> `; mpremote stops it
with Ctrl-C as on a board (`mpremote exec ...` works while a main.py loops forever with sleeps).
What does not: interrupting code that never sleeps, advances the simulated clock nor reads
machine._usb; `mount` (no remote file system), `mip` (no network), the bootloader. The
connection stays up across machine.reset() (a board's USB would re-enumerate): bytes sent while
the board reboots are kept for main.py, including mpremote's closing Ctrl-B after an
`mpremote exec "machine.reset()"` (VirtualBoard.reset() uses a plain socket and sends none).

The board's file system is the simulated flash (boards/SIM/simboard/flash.py) mounted at /, with
MicroPython errnos; the repo's firmware and board folders are visible at /repo and /repo/firmware
is last on sys.path (the flash's own /railbot wins; `repo_firmware=False` leaves it off).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from railbot_host import upy

VBOARD = upy.UPY_DIR / "vboard.mjs"
_LISTENING = re.compile(r"^vboard: listening on 127\.0\.0\.1:(\d+)\s*$")


class VirtualBoardError(RuntimeError):
    """The virtual board did not start (node missing, package missing, or it died)."""


def mpremote_command() -> list[str]:
    """The mpremote of this Python environment (the venv's), as a command prefix."""
    exe = Path(sys.executable).with_name("mpremote")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("mpremote")
    return [found] if found else [sys.executable, "-m", "mpremote"]


class LoopbackBoard:
    """A board served on a TCP port of 127.0.0.1 by a Node.js process (the virtual board here, the
    emulated chip in railbot_host.silicon): its URL, the real mpremote against it, a raw socket.
    A context manager over the subclass's start() and stop()."""

    port: int = 0
    proc: subprocess.Popen | None = None
    mpremote_timeout = 60.0
    not_running: type[Exception] = RuntimeError

    @property
    def url(self) -> str:
        if self.proc is None:
            raise self.not_running("the board is not running")
        return f"socket://127.0.0.1:{self.port}"

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def mpremote(self, *args: str, timeout: float | None = None, check: bool = False) -> subprocess.CompletedProcess:
        """Run the real mpremote against this board: `mpremote connect URL ARGS...`."""
        return subprocess.run([*mpremote_command(), "connect", self.url, *args], capture_output=True,
                              text=True, timeout=timeout or self.mpremote_timeout, check=check)

    def connect(self, timeout: float = 30.0) -> "RawConnection":
        """A raw socket to the board (one client at a time: it replaces mpremote's)."""
        return RawConnection(self.port, timeout)


class VirtualBoard(LoopbackBoard):
    """A virtual board in a Node.js process; a context manager (start() / stop())."""

    not_running = VirtualBoardError

    def __init__(self, *, port: int = 0, speed: int = 1, start_x_mm: int | None = None,
                 repo_firmware: bool = True, start_timeout: float = 30.0):
        self.port = port
        self.speed = speed
        self.start_x_mm = start_x_mm
        self.repo_firmware = repo_firmware
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.stderr_lines: list[str] = []

    def command(self) -> list[str]:
        node = upy.node_path()
        if node is None:
            raise VirtualBoardError("`node` is not on PATH")
        cmd = [node, str(VBOARD), "--port", str(self.port), "--speed", str(self.speed)]
        if self.start_x_mm is not None:
            cmd += ["--start-x-mm", str(self.start_x_mm)]
        if not self.repo_firmware:
            cmd.append("--no-repo-firmware")
        return cmd

    def start(self) -> "VirtualBoard":
        try:
            upy.ensure_npm()
        except upy.UpyUnavailable as e:
            raise VirtualBoardError(str(e)) from e
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=upy.UPY_DIR)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port: list[int] = []

        def read_port() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                m = _LISTENING.match(line)
                if m:
                    port.append(int(m.group(1)))
                    break

        t = threading.Thread(target=read_port, daemon=True)
        t.start()
        t.join(self.start_timeout)
        if not port:
            self.stop()
            raise VirtualBoardError("the virtual board did not start: " + "".join(self.stderr_lines[-20:]))
        self.port = port[0]
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        return self

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def _drain_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def reset(self, wait_for: bytes | None = None, timeout: float = 30.0) -> bytes:
        """machine.reset() on the board (a running program is stopped with Ctrl-C first): it
        reboots into the friendly REPL and runs /main.py. Returns at once with b"", or with what
        the board printed after the reset up to and including `wait_for`."""
        with self.connect(timeout) as c:
            c.enter_raw()
            c.start_exec("import machine\nmachine.reset()")
            c.read_until(b"\x04\x04", timeout)  # the exec ends without a prompt: the board reboots
            return c.read_until(wait_for, timeout) if wait_for else b""


class RawConnection:
    """The raw REPL over a plain socket, for what mpremote cannot do: Ctrl-C at a chosen moment."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.data = b""

    def _fill(self, done, timeout: float, what) -> None:
        """Receive until done() or the timeout (TimeoutError saying what(), with the tail seen)."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what()} from the board; got {self.data[-300:]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"the board hung up; got {self.data[-300:]!r}")
            self.data += chunk

    def read_until(self, end: bytes, timeout: float = 30.0) -> bytes:
        self._fill(lambda: end in self.data, timeout, lambda: f"no {end!r}")
        i = self.data.index(end) + len(end)
        out, self.data = self.data[:i], self.data[i:]
        return out

    def read_bytes(self, n: int, timeout: float = 30.0) -> bytes:
        """Exactly the next n bytes from the board (binary output that may hold any byte)."""
        self._fill(lambda: len(self.data) >= n, timeout, lambda: f"{len(self.data)} of {n} bytes")
        out, self.data = self.data[:n], self.data[n:]
        return out

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def enter_raw(self) -> None:
        self.write(b"\r\x03\r\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>")
        self.data = b""

    def start_exec(self, code: str) -> None:
        self.write(code.encode() + b"\x04")
        self.read_until(b"OK")

    def finish_exec(self, timeout: float = 30.0) -> tuple[str, str]:
        # binary (the firmware's link frames on machine._usb) shares the output with text
        out = self.read_until(b"\x04", timeout)[:-1].decode(errors="replace")
        err = self.read_until(b"\x04>", timeout)[:-2].decode(errors="replace")
        return out, err

    def exec(self, code: str, timeout: float = 30.0) -> tuple[str, str]:
        self.start_exec(code)
        return self.finish_exec(timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# Start the robot as firmware/main.py does (main.run: a controlled stop and the drivers off on
# any exception), home it, jog it 30 m and report when the carriage cruises.
CRUISE_SCRIPT = """
import main, asyncio, machine
robot = main.build()
async def go():
    robot.start()
    print(robot.command('home'))
    while not robot.homed:
        await asyncio.sleep_ms(20)
    print(robot.command('jog 30000'))
    while robot.x.phase != 3:  # motion._CRUISE (a const: not visible from outside under MicroPython)
        await asyncio.sleep_ms(10)
    print('cruise', machine._board[0].plant.x.powered())
    while True:
        await asyncio.sleep_ms(10)
main.run(robot, go())
"""
_PLANT = "import machine; x = machine._board[0].plant.x; print(x.powered(), x.word is None, len(x.fifo), x.um())"
_STOPPED = re.compile(r"railbot: KeyboardInterrupt: axes stopped, drivers off after (\d+) ms")


def interrupt_at_cruise(vb: VirtualBoard, timeout: float = 30.0) -> dict:
    """Ctrl-C while the carriage cruises (issue 5 item 2). Returns what was seen: the lines before
    the interrupt (homing, jog, cruise; "" for one that did not come), the interrupted run's output
    and error text, `interrupt_to_drivers_off_ms` (simulated time, as main.run reports it, None if
    it did not), the X axis at the prompt (`powered`, `word_idle`, `fifo`), how far it moved in
    the 3 s after (`moved_um`) and whether the watchdog was paused (`watchdog_paused`: else it
    resets the board under the REPL within those 3 s)."""
    board_dir = upy.REPO_ROOT / "boards" / "SIM"
    r = vb.mpremote("fs", "cp", str(board_dir / "robot.json"), str(board_dir / "pins.csv"), ":", timeout=timeout)
    if r.returncode:
        raise VirtualBoardError(f"could not copy the board data: {r.stdout}{r.stderr}")
    with vb.connect(timeout) as c:
        c.enter_raw()
        c.start_exec(CRUISE_SCRIPT)
        # the firmware's link frames (machine._usb) come between the lines: pick the lines out
        seen = c.read_until(b"cruise ", timeout) + c.read_until(b"\n", timeout)
        text = seen.decode(errors="replace")
        found = [re.search(p, text) for p in (r"ok homing[^\n]*", r"ok jog[^\n]*", r"cruise [^\n]*")]
        before = [m.group(0).strip() if m else "" for m in found]
        c.write(b"\x03")
        out, err = c.finish_exec(timeout)  # returns at the prompt, "\x04>"
        at_prompt, _ = c.exec(_PLANT, timeout)
        paused, _ = c.exec("import machine; print(machine._board[0].wdt is None)", timeout)
        later, _ = c.exec("import time; time.sleep_ms(3000); " + _PLANT, timeout)
    m = _STOPPED.search(out)
    p, q = at_prompt.split(), later.split()
    return {"before": before, "out": out, "err": err,
            "interrupt_to_drivers_off_ms": int(m.group(1)) if m else None,
            "powered": p[0] == "True", "word_idle": p[1] == "True", "fifo": int(p[2]),
            "moved_um": abs(int(q[3]) - int(p[3])), "watchdog_paused": paused.strip() == "True"}


def measure_interrupt(speed: int = 4) -> dict:
    """The bench's figures of the interrupt path on a fresh virtual board."""
    with VirtualBoard(speed=speed, start_x_mm=20) as vb:
        seen = interrupt_at_cruise(vb)
    ok = (seen["interrupt_to_drivers_off_ms"] is not None and not seen["powered"] and seen["word_idle"]
          and seen["fifo"] == 0 and seen["moved_um"] == 0 and "KeyboardInterrupt" in seen["err"])
    return {"interrupt_to_drivers_off_ms": seen["interrupt_to_drivers_off_ms"],
            "interrupt_drivers_off_before_prompt": ok}


def main(argv: list[str] | None = None) -> int:
    """`python -m railbot_host.vboard [--port N] [--speed S]`: run a virtual board until Ctrl-C."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=int(os.environ.get("VBOARD_PORT", "0")))
    p.add_argument("--speed", type=int, default=1)
    a = p.parse_args(argv)
    with VirtualBoard(port=a.port, speed=a.speed) as vb:
        print(f"virtual board at {vb.url}  (mpremote connect {vb.url} ...); Ctrl-C ends it", flush=True)
        try:
            assert vb.proc is not None
            vb.proc.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
