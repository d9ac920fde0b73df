"""Simulated flash: a file system object (MicroPython VFS protocol) that can lose power at any write step.

Contents live in this object, which the SimBoard keeps across reboots. Two models (docs/storage.md):
- littlefs-like (default): creating a file, mkdir, rmdir, remove and rename are atomic; a file's
  new contents become durable only at flush()/close() (atomic commit); a write() before that is
  lost by a cut. rename() atomically replaces an existing destination.
- FAT-like (fat=True, deliberately pessimistic): open("w") truncates at once; every write()
  goes straight to the file and a cut keeps the first half of its bytes; rename() onto an
  existing file is remove() then rename(), two steps.
Every step takes the time the chip takes, on the virtual clock and blocking (the rp2 port erases and
programs with interrupts off: nothing else runs, DMA and PIO go on): a page program (256 bytes) a
`page_us` each (W25Q16JV: 0.4 ms typical, 3 ms at most), and a 4 KB sector erase of `erase_ms`
(45 ms typical, 400 ms at most) each time a step's bytes fill the block being appended to (littlefs
appends its commits to a metadata block and erases one to compact it or for new data). Set
`erase_every_step` for the worst case: every step erases.
Every step that changes flash is counted in `steps`; cut_after(n) makes the n-th step from now
torn (FAT write: a prefix kept) or not applied (every other step), then the power goes: the
board's reset cause becomes PWRON_RESET and machine.BoardReset(PWRON_RESET) is raised. Until
reboot() (SimBoard.reboot calls it) every operation raises BoardReset again; file objects opened
before it are dead (EBADF; close() is a no-op), their unflushed data lost with the RAM.
fail_after(n, code, what) makes the n-th write step from now (of one kind, e.g. "rename") fail with
OSError(code) (ENOSPC, EIO, ...), not applied, the power on: a full or failing flash.
"""
from simboard import machine

ENOENT = 2
EIO = 5
EBADF = 9
EEXIST = 17
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
ENOSPC = 28
EROFS = 30
ENOTEMPTY = 39

_DIR = 0x4000
_FILE = 0x8000
_NAMES = {ENOENT: "ENOENT", EIO: "EIO", EBADF: "EBADF", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR",
          EISDIR: "EISDIR", EINVAL: "EINVAL", ENOSPC: "ENOSPC", EROFS: "EROFS", ENOTEMPTY: "ENOTEMPTY"}


def _err(code):
    return OSError(code, _NAMES[code])  # e.errno == e.args[0] == code under CPython and MicroPython


class FsModel:
    """What the two simulated file systems share (this Flash, and simboard.lfs.LfsFlash on the real
    littlefs): paths as the VFS resolves them, and a write step armed to fail (fail_after)."""

    def _abs(self, path):
        if not path.startswith("/"):
            path = self.cwd + "/" + path
        parts = []
        for p in path.split("/"):
            if p == "" or p == ".":
                continue
            if p == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(p)
        return "/" + "/".join(parts)

    def fail_after(self, n, code=EIO, what=None):
        """The n-th write step from now (n >= 1; of kind `what` only: "rename", "write", "commit",
        "create", "remove", or None for any) fails with OSError(code) and is not applied; the power
        stays on. code: ENOSPC, EIO, ... None disarms."""
        if n is None:
            self.fail_left = 0
            return
        if n < 1 or code not in _NAMES:
            raise ValueError("fail_after: n >= 1 and a known errno")
        self.fail_left, self.fail_code, self.fail_what = n, code, what

    def _armed(self, what):
        """True if this write step (of kind what) is the one fail_after armed (counted in failed)."""
        if self.fail_left and (self.fail_what is None or self.fail_what == what):
            self.fail_left -= 1
            if not self.fail_left:
                self.failed += 1
                return True
        return False


class Flash(FsModel):
    def __init__(self, board=None, fat=False, block_size=4096, blocks=352):  # a Pico's 1408 KB (as lfs.py)
        self.board = board
        self.fat = fat
        self.block_size = block_size
        self.blocks = blocks
        self.files = {}  # absolute path -> bytes (the durable contents)
        self.dirs = {"/": True}
        self.cwd = "/"
        self.readonly = False
        self.steps = 0  # durable write steps so far
        self.cut_at = 0  # the step that cuts the power (0: none armed)
        self.cuts = 0
        self.powered = True
        self.boot = 0  # file objects of an earlier boot are dead
        self.page_us = 400
        self.erase_ms = 45
        self.erase_every_step = False
        self.log_bytes = 0  # bytes appended to the block being filled (an erase when it is full)
        self.erases = 0
        self.busy_ms = 0  # time spent erasing and programming
        self.fail_left = 0  # write steps (of fail_what) until the one that fails (0: none armed)
        self.fail_code = 0
        self.fail_what = None
        self.failed = 0  # write steps failed so far

    # -- power --------------------------------------------------------------------------------
    def cut_after(self, n):
        """The n-th durable write step from now (n >= 1) cuts the power; None disarms."""
        if n is None:
            self.cut_at = 0
            return
        if n < 1:
            raise ValueError("cut_after: n >= 1")
        self.cut_at = self.steps + n

    def _fault(self, what):
        """Raise the armed failure if this write step (of kind what) is the one."""
        if self._armed(what):
            raise _err(self.fail_code)

    def reboot(self):
        """Power back: the contents stay, open files and their unflushed data are gone."""
        self.powered = True
        self.boot += 1
        self.cwd = "/"

    def _live(self):
        if not self.powered:
            raise machine.BoardReset(machine.PWRON_RESET)

    def _step(self, nbytes=64, what="commit"):
        """Count a durable write step of nbytes (a metadata commit is about 64); it takes its erase and
        program time; True if the power goes at this one (apply it torn or not, then _cut). A step
        armed by fail_after raises its OSError instead, applied nowhere."""
        self._live()
        if self.readonly:
            raise _err(EROFS)
        self._fault(what)
        self.steps += 1
        self._wait(nbytes)
        return self.steps == self.cut_at

    def _wait(self, nbytes):
        if self.board is None or not nbytes:
            return
        us = ((nbytes + 255) // 256) * self.page_us
        self.log_bytes += nbytes
        if self.erase_every_step or self.log_bytes > self.block_size:
            self.log_bytes = nbytes if not self.erase_every_step else 0
            self.erases += 1
            us += self.erase_ms * 1000
        self.busy_ms += us // 1000
        from simboard import vtime
        vtime.sleep_us(us)  # blocking, as the chip is

    def _cut(self):
        self.powered = False
        self.cut_at = 0
        self.cuts += 1
        if self.board is not None:
            self.board.reset_cause = machine.PWRON_RESET
        raise machine.BoardReset(machine.PWRON_RESET)

    # -- paths --------------------------------------------------------------------------------
    def _parent_ok(self, p):
        parent = p[:p.rfind("/")] or "/"
        if parent in self.files:
            raise _err(ENOTDIR)
        if parent not in self.dirs:
            raise _err(ENOENT)

    def _children(self, d):
        pre = "/" if d == "/" else d + "/"
        out = []
        for p in self.dirs:
            if p != "/" and p.startswith(pre) and "/" not in p[len(pre):]:
                out.append((p[len(pre):], _DIR, 0, 0))
        for p in self.files:
            if p.startswith(pre) and "/" not in p[len(pre):]:
                out.append((p[len(pre):], _FILE, 0, len(self.files[p])))
        out.sort()
        return out

    def _used_blocks(self, extra_path=None, extra_len=0):
        bs = self.block_size
        n = len(self.dirs)
        for p in self.files:
            if p != extra_path:
                n += (len(self.files[p]) + bs - 1) // bs or 1
        if extra_path is not None:
            n += (extra_len + bs - 1) // bs or 1
        return n

    def _put(self, p, data):
        if self._used_blocks(p, len(data)) > self.blocks:
            raise _err(ENOSPC)
        self.files[p] = bytes(data)

    # -- the VFS protocol ---------------------------------------------------------------------
    def mount(self, readonly, mkfs):
        self.readonly = bool(readonly)
        if mkfs:
            self.files = {}
            self.dirs = {"/": True}

    def umount(self):
        pass

    def chdir(self, path):
        self._live()
        p = self._abs(path)
        if p not in self.dirs:
            raise _err(ENOTDIR if p in self.files else ENOENT)
        self.cwd = p

    def getcwd(self):
        return self.cwd

    def ilistdir(self, path="."):
        self._live()
        p = self._abs(path)
        if p not in self.dirs:
            raise _err(ENOTDIR if p in self.files else ENOENT)
        return iter(self._children(p))

    def listdir(self, path="."):
        return [e[0] for e in self.ilistdir(path)]

    def stat(self, path):
        self._live()
        p = self._abs(path)
        if p in self.dirs:
            return (_DIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if p in self.files:
            return (_FILE, 0, 0, 0, 0, 0, len(self.files[p]), 0, 0, 0)
        raise _err(ENOENT)

    def statvfs(self, path):
        self._live()
        free = self.blocks - self._used_blocks()
        return (self.block_size, self.block_size, self.blocks, free, free, 0, 0, 0, 0, 255)

    def mkdir(self, path):
        self._live()
        p = self._abs(path)
        if p in self.dirs or p in self.files:
            raise _err(EEXIST)
        self._parent_ok(p)
        if self._step(64, "mkdir"):
            self._cut()
        self.dirs[p] = True

    def rmdir(self, path):
        self._live()
        p = self._abs(path)
        if p in self.files:
            raise _err(ENOTDIR)
        if p not in self.dirs:
            raise _err(ENOENT)
        if p == "/" or p == self.cwd:
            raise _err(EINVAL)
        if self._children(p):
            raise _err(ENOTEMPTY)
        if self._step(64, "rmdir"):
            self._cut()
        del self.dirs[p]

    def remove(self, path):
        self._live()
        p = self._abs(path)
        if p in self.dirs:
            raise _err(EISDIR)
        if p not in self.files:
            raise _err(ENOENT)
        if self._step(64, "remove"):
            self._cut()
        del self.files[p]

    def rename(self, old, new):
        self._live()
        a = self._abs(old)
        b = self._abs(new)
        if a not in self.files and a not in self.dirs:
            raise _err(ENOENT)
        if a == b:
            return
        self._parent_ok(b)
        if a in self.dirs:
            if b in self.files or b in self.dirs:
                raise _err(EEXIST)
            if b.startswith(a + "/"):
                raise _err(EINVAL)
            if self._step(64, "rename"):
                self._cut()
            pre = a + "/"
            for d in [d for d in self.dirs if d == a or d.startswith(pre)]:
                self.dirs[b + d[len(a):]] = self.dirs.pop(d)
            for f in [f for f in self.files if f.startswith(pre)]:
                self.files[b + f[len(a):]] = self.files.pop(f)
            return
        if b in self.dirs:
            raise _err(EISDIR)
        if self.fat and b in self.files:  # FAT: the destination goes first, in a step of its own
            if self._step(64, "remove"):
                self._cut()
            del self.files[b]
        if self._step(64, "rename"):
            self._cut()
        self.files[b] = self.files.pop(a)

    def open(self, path, mode="r"):
        self._live()
        p = self._abs(path)
        kind = mode[:1]
        for c in mode[1:]:
            if c not in "bt":
                raise _err(EINVAL)
        if kind not in ("r", "w", "a", "x"):
            raise _err(EINVAL)
        if p in self.dirs:
            raise _err(EISDIR)
        exists = p in self.files
        if kind == "r":
            if not exists:
                raise _err(ENOENT)
            return FlashFile(self, p, False, "b" not in mode, self.files[p], False)
        if kind == "x" and exists:
            raise _err(EEXIST)
        self._parent_ok(p)
        data = self.files[p] if exists and kind == "a" else b""
        if not exists or (self.fat and kind != "a"):
            # the directory entry is created (or, FAT, truncated) now
            if self._step(64, "create"):
                self._cut()
            self._put(p, data)
        # littlefs: truncating an existing file is part of the commit at close
        return FlashFile(self, p, True, "b" not in mode, data, exists and kind == "w" and not self.fat)


try:  # MicroPython: C code (import of a .py or .mpy) reads an io.IOBase subclass as a stream
    from io import IOBase as _Stream
    import sys as _sys
    if _sys.implementation.name != "micropython":
        _Stream = object  # CPython's IOBase would close (flush) files when collected
except ImportError:
    _Stream = object


class FlashFile(_Stream):
    """An open file of the simulated flash: read mode reads a snapshot taken at open."""

    def __init__(self, fs, path, writing, text, data, dirty):
        self.fs = fs
        self.path = path
        self.writing = writing
        self.text = text
        self.buf = bytearray(data) if writing else data
        self.pos = len(data) if writing else 0
        self.dirty = dirty
        self.closed = False
        self.boot = fs.boot

    def _ok(self):
        self.fs._live()
        if self.closed or self.boot != self.fs.boot:
            raise _err(EBADF)

    def read(self, n=-1):
        self._ok()
        if self.writing:
            raise _err(EBADF)
        end = len(self.buf) if n is None or n < 0 else min(len(self.buf), self.pos + n)
        out = bytes(self.buf[self.pos:end])
        self.pos = end
        return out.decode() if self.text else out

    def readinto(self, buf):
        self._ok()
        if self.writing:
            raise _err(EBADF)
        n = min(len(buf), len(self.buf) - self.pos)
        buf[:n] = self.buf[self.pos:self.pos + n]
        self.pos += n
        return n

    def ioctl(self, req, arg):
        # the stream protocol of io.IOBase subclasses (MicroPython's import): 4 is MP_STREAM_CLOSE
        if req == 4:
            self.close()
        return 0

    def readline(self):
        self._ok()
        if self.writing:
            raise _err(EBADF)
        i = self.buf.find(b"\n", self.pos)
        end = len(self.buf) if i < 0 else i + 1
        out = bytes(self.buf[self.pos:end])
        self.pos = end
        return out.decode() if self.text else out

    def write(self, data):
        self._ok()
        if not self.writing:
            raise _err(EBADF)
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        fs = self.fs
        if fs._step(n if fs.fat else 0, "write"):  # littlefs: in its cache until the commit (no flash time)
            if fs.fat:  # torn: the first half of the bytes reached the file
                self._place(data[:n // 2])
                fs._put(self.path, self.buf)
            fs._cut()
        self._place(data)
        if fs.fat:
            fs._put(self.path, self.buf)
        else:
            self.dirty = True
        return n

    def _place(self, data):
        end = self.pos + len(data)
        if end > len(self.buf):
            self.buf.extend(bytes(end - len(self.buf)))
        self.buf[self.pos:end] = data
        self.pos = end

    def flush(self):
        self._ok()
        if self.dirty:
            fs = self.fs
            if fs._step(len(self.buf), "commit"):
                fs._cut()  # littlefs commits atomically: not applied
            fs._put(self.path, self.buf)
            self.dirty = False

    def close(self):
        fs = self.fs
        if self.closed or self.boot != fs.boot or not fs.powered:  # after a cut nothing reaches flash
            self.closed = True
            return
        try:
            self.flush()
        finally:
            self.closed = True  # closed even when its commit failed (littlefs: lfs_file_close)

    def seek(self, offset, whence=0):
        self._ok()
        base = (0, self.pos, len(self.buf))[whence]
        if base + offset < 0:
            raise _err(EINVAL)
        self.pos = base + offset
        return self.pos

    def tell(self):
        return self.pos

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line
