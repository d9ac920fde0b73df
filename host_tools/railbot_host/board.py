"""A MicroPython board reached through mpremote's Python API (serial port or socket:// URL)."""

from __future__ import annotations

import binascii
import io
from collections.abc import Callable, Iterable

#: Exit codes shared by the board commands (deploy, flash, test --port).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_BOARD = 3
EXIT_WRONG_MPY = 4
EXIT_BUILD = 5


class BoardError(RuntimeError):
    """A board command could not be done; `code` is the exit status the CLI returns."""

    code = EXIT_FAILED


class NoBoard(BoardError):
    code = EXIT_NO_BOARD


# Snippets run on the board (MicroPython subset). deploy.py has its own survey of the files.

# os.mkdir or os.remove on each path; one that exists already (mkdir) or is gone (remove) is fine
_EACH = """\
import os
for _p in %(paths)r:
    try:
        os.%(op)s(_p)
    except OSError:
        pass
"""

_MPY = "import sys\nprint(getattr(sys.implementation, '_mpy', -1))\n"


class Board:
    """What deploy, flash and the on-board tests need from a board. `root` prefixes every remote
    path ("" on a board: files go to /railbot/..., /main.py)."""

    root = ""

    def exec(self, code: str, on_output: Callable[[bytes], None] | None = None,
             timeout: float = 10) -> str:
        """Run `code` on the board; its output (BoardError with the board's error text)."""
        raise NotImplementedError

    def write_file(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def soft_reset(self) -> None:
        """A fresh interpreter (the deployed files are imported anew)."""

    def bootloader(self) -> None:
        self.exec("import time, machine\ntime.sleep_ms(100)\nmachine.bootloader()\n")

    def start(self) -> None:
        """Start the firmware: a soft reset in the friendly REPL, after which MicroPython runs
        main.py (the USB stays up; the board is left running, not at a prompt)."""

    # --- built on exec -----------------------------------------------------------------------
    def path(self, p: str) -> str:
        return self.root + p

    def mpy_version(self) -> int:
        """sys.implementation._mpy (-1 if the board has none)."""
        return int(self.exec(_MPY).strip().splitlines()[-1])

    def mkdirs(self, dirs: Iterable[str]) -> None:
        dirs = sorted(set(dirs), key=lambda d: d.count("/"))
        if dirs:
            self.exec(_EACH % {"op": "mkdir", "paths": dirs})

    def remove(self, files: Iterable[str]) -> None:
        files = list(files)
        if files:
            self.exec(_EACH % {"op": "remove", "paths": files})

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MpremoteBoard(Board):
    """A board on a serial port or an mpremote URL (socket://127.0.0.1:PORT), driven by
    mpremote's SerialTransport in the raw REPL (Ctrl-C first: a running firmware is interrupted)."""

    def __init__(self, port: str, *, baudrate: int = 115200, soft_reset: bool = True):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self._error = TransportError
        try:
            self.transport = SerialTransport(port, baudrate=baudrate)
        except TransportError as e:
            raise NoBoard(f"no board at {port}: {e}") from None
        except Exception as e:  # pyserial: SerialException, ValueError for a bad URL
            raise NoBoard(f"no board at {port}: {e}") from None
        self.port = port
        sock = getattr(self.transport.serial, "_socket", None)  # socket:// (a virtual board)
        if sock is not None:  # small raw-REPL writes would otherwise wait out Nagle + delayed ACK
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.transport.enter_raw_repl(soft_reset=soft_reset)
        except Exception as e:
            self.transport.close()
            raise NoBoard(f"the board at {port} gives no raw REPL: {e}") from None

    def exec(self, code: str, on_output: Callable[[bytes], None] | None = None,
             timeout: float = 10) -> str:
        from mpremote.transport import TransportExecError

        buf = io.BytesIO()

        def consume(b: bytes) -> None:
            if b == b"\x04":  # mpremote hands over the end-of-output marker too
                return
            buf.write(b)
            if on_output is not None:
                on_output(b)

        try:
            _, err = self.transport.exec_raw(code, timeout=timeout, data_consumer=consume)
            if err:
                raise TransportExecError(0, err.decode("utf-8", errors="replace"))
        except TransportExecError as e:
            raise BoardError(f"on the board: {e.error_output.strip()}") from None
        except self._error as e:
            raise BoardError(f"board link: {e}") from None
        return buf.getvalue().decode("utf-8", errors="replace")

    #: bytes per exec when writing a file (base64: 4 KB of text, one raw-REPL round trip)
    write_chunk = 3072

    def write_file(self, path: str, data: bytes) -> None:
        """Write through the raw REPL, one exec per base64 chunk (mpremote's fs_writefile sends
        repr(bytes), up to 4x the size, in three execs per 256-byte chunk). The file stays open
        from the first chunk to the last: littlefs commits it once, not once per chunk (fewer
        metadata compactions and erases); the u-name imports the built-in without a file search."""
        end = max(len(data), 1)
        try:
            for i in range(0, end, self.write_chunk):
                chunk = binascii.b2a_base64(data[i:i + self.write_chunk], newline=False)  # bytes:
                # some ports' binascii (a Python one) take no str
                head = ("try:\n    from ubinascii import a2b_base64 as _a\nexcept ImportError:\n"
                        f"    from binascii import a2b_base64 as _a\n_f = open({path!r}, 'wb')\n") if i == 0 else ""
                tail = "_f.close()\n" if i + self.write_chunk >= end else ""
                self.exec(f"{head}_f.write(_a({chunk!r}))\n{tail}")
        except BoardError:
            try:
                self.exec("_f.close()\n")
            except BoardError:
                pass
            raise

    def soft_reset(self) -> None:
        try:
            self.transport.enter_raw_repl(soft_reset=True)
        except Exception as e:
            raise BoardError(f"soft reset: {e}") from None

    def bootloader(self) -> None:
        try:  # the board drops off USB at once: no answer is expected
            self.transport.exec_raw_no_follow("import time, machine\ntime.sleep_ms(100)\nmachine.bootloader()\n")
        except Exception as e:
            raise BoardError(f"could not start the bootloader: {e}") from None

    def start(self) -> None:
        try:
            self.transport.exit_raw_repl()  # Ctrl-B: the friendly REPL, where Ctrl-D runs main.py
            self.transport.serial.write(b"\x04")
            seen = self.transport.read_until(1, b"soft reboot", timeout=10)
        except Exception as e:
            raise BoardError(f"could not start main.py: {e}") from None
        if not seen.endswith(b"soft reboot"):
            raise BoardError(f"could not start main.py: no soft reboot after Ctrl-D (got {seen[-80:]!r})")
        self.started = True

    def close(self) -> None:
        if not getattr(self, "started", False):  # else every byte goes to the running firmware
            try:
                self.transport.exit_raw_repl()
            except Exception:
                pass
        self.transport.close()
