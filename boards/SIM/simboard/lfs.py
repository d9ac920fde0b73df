"""Simulated flash on the real littlefs (PyPI littlefs-python, littlefs's own C code), with power cuts
at any block program or erase and failed writes: flash.Flash's interface, so railbot.store runs on it
unchanged and a SimBoard or Rig can be given it (docs/storage.md, "The littlefs model"). CPython only.

The block device is a bytearray of `blocks` 4 KB sectors, configured as MicroPython's rp2 port
mounts its file system (vfs.VfsLfs2(rp2.Flash(), progsize=256): read 32, prog 256, cache 1024,
lookahead 32, block_cycles 100). littlefs calls back read / prog / erase / sync:
- time: a prog takes `page_us` (400) per 256-byte page, an erase `erase_ms` (45; 400 at worst) on
  the virtual clock, blocking (interrupts off on the rp2 port), charged when the file system call
  returns (a callback must not raise: littlefs-python ignores what it raises);
- a power cut: cut_after(n) makes the n-th program or erase from now the last: not applied, or with
  torn=True a torn one (a prog: its first half of the bytes; an erase: its first half of the sector
  erased); littlefs then gets LFS_ERR_IO for it and every operation after, and the call raises
  machine.BoardReset(PWRON_RESET) as flash.Flash does. reboot() mounts the device again: littlefs's
  RAM state (caches, open files) is lost, the device's bytes are what survives;
- a failed write: fail_after(n, code, what) fails the n-th file system write step (create, write,
  commit, rename, remove, mkdir, rmdir; or only steps of kind `what`) with OSError(code) before
  littlefs sees it (ENOSPC, EIO, a refused rename); a commit that fails is run with every program
  failing (LFS_ERR_IO), so that littlefs unwinds it and frees the file, then the error is raised.
  A block program that fails at random is not offered: after one, littlefs-python's littlefs (built
  with asserts) aborts the process at its next program (lfs.c lfs_bd_prog: its program cache is
  left dirty); MicroPython builds littlefs without asserts (docs/storage.md, "Limits").
Counts: `steps` (programs and erases: what cut_after counts), `progs`, `erases`,
`fs_steps` (file system write steps: what fail_after counts), `failed`, `busy_ms`.
"""
from littlefs import lfs, LittleFSError, LFSFileFlag
from simboard import machine
from simboard.flash import ENOENT, EBADF, EINVAL, EISDIR, _NAMES, _DIR, _FILE, _err, FsModel

LFS_ERR_IO = -5
# open()'s modes as littlefs flags (as MicroPython's vfs_lfs2 maps them)
_FLAGS = {"r": LFSFileFlag.rdonly, "w": LFSFileFlag.wronly | LFSFileFlag.creat | LFSFileFlag.trunc,
          "a": LFSFileFlag.wronly | LFSFileFlag.creat | LFSFileFlag.append,
          "x": LFSFileFlag.wronly | LFSFileFlag.creat | LFSFileFlag.excl}
FS_BLOCK = 4096


def _os_error(e):
    """littlefs's error (negative errno, as MicroPython's vfs_lfs2 raises them) -> OSError."""
    code = -e.code
    return OSError(code, _NAMES.get(code, "errno %d" % code))


class _Device:
    """The block device littlefs-python calls: the flash array, its timing, cuts and failures."""

    def __init__(self, fs, size):
        self.fs = fs
        self.buffer = bytearray(b"\xff" * size)

    def read(self, cfg, block, off, size):
        start = block * cfg.block_size + off
        return self.buffer[start:start + size]

    def prog(self, cfg, block, off, data):
        fs = self.fs
        if not fs.powered:
            return LFS_ERR_IO
        fs.progs += 1
        fs.owed_us += ((len(data) + 255) // 256) * fs.page_us
        start = block * cfg.block_size + off
        n = len(data)
        if fs._op():
            if fs.cut_torn:
                self._program(start, data[:n // 2])
            return LFS_ERR_IO
        if fs._op_fails():
            return LFS_ERR_IO
        self._program(start, data)
        return 0

    def _program(self, start, data):
        # NOR flash: a program only clears bits (littlefs programs erased bytes only)
        old = self.buffer[start:start + len(data)]
        self.buffer[start:start + len(data)] = bytes(a & b for a, b in zip(old, data))

    def erase(self, cfg, block):
        fs = self.fs
        if not fs.powered:
            return LFS_ERR_IO
        fs.erases += 1
        fs.owed_us += fs.erase_ms * 1000
        bs = cfg.block_size
        start = block * bs
        if fs._op():
            if fs.cut_torn:
                self.buffer[start:start + bs // 2] = b"\xff" * (bs // 2)
            return LFS_ERR_IO
        if fs._op_fails():
            return LFS_ERR_IO
        self.buffer[start:start + bs] = b"\xff" * bs
        return 0

    def sync(self, cfg):
        return 0 if self.fs.powered else LFS_ERR_IO


class LfsFlash(FsModel):
    def __init__(self, board=None, blocks=352, block_size=FS_BLOCK):
        self.board = board
        self.blocks = blocks
        self.block_size = block_size
        self.page_us = 400
        self.erase_ms = 45
        self.owed_us = 0
        self.busy_ms = 0
        self.steps = 0  # programs and erases
        self.progs = 0
        self.erases = 0
        self.cut_at = 0  # the program or erase that cuts the power (0: none armed)
        self.cut_torn = False
        self.cuts = 0
        self.fs_steps = 0
        self.unfailed_commits = 0
        self.fail_left = 0
        self.fail_code = 0
        self.fail_what = None
        self.failed = 0
        self.failing = False  # every program and erase fails (a commit that fail_after armed)
        self.powered = True
        self.boot = 0
        self.cwd = "/"
        self.dev = _Device(self, blocks * block_size)
        self.cfg = lfs.LFSConfig(self.dev, block_size=block_size, block_count=blocks, read_size=32,
                                 prog_size=256, cache_size=1024, lookahead_size=32, block_cycles=100)
        self.lfs = lfs.LFSFilesystem()
        lfs.format(self.lfs, self.cfg)  # a board's file system as it came: formatted, nothing counted
        self.progs = self.erases = self.steps = 0
        self._mount()

    def _mount(self):
        self.lfs = lfs.LFSFilesystem()
        lfs.mount(self.lfs, self.cfg)

    # -- power and faults ---------------------------------------------------------------------
    def cut_after(self, n, torn=False):
        """The n-th program or erase from now (n >= 1) cuts the power: not applied (torn: half
        applied); None disarms."""
        if n is None:
            self.cut_at = 0
            return
        if n < 1:
            raise ValueError("cut_after: n >= 1")
        self.cut_at = self.steps + n
        self.cut_torn = bool(torn)

    def _op(self):
        """Count a program or erase; True if the power goes at this one (then it is off)."""
        self.steps += 1
        if self.steps == self.cut_at:
            self.powered = False
            self.cut_at = 0
            self.cuts += 1
            return True
        return False

    def _op_fails(self):
        return self.failing

    def reboot(self):
        """Power back: the device's bytes stay; littlefs mounts them again (its RAM state is gone)."""
        self.powered = True
        self.boot += 1
        self.cwd = "/"
        self.owed_us = 0
        self._mount()

    def _live(self):
        if not self.powered:
            raise machine.BoardReset(machine.PWRON_RESET)

    def _step(self, what, commit=False):
        """A file system write step: counted; the one fail_after armed raises, applied nowhere (a
        commit returns True instead: the caller runs it with every program failing, so that littlefs
        unwinds it and frees what it holds, then raises)."""
        self._live()
        self.fs_steps += 1
        if self._armed(what):
            if commit:
                return True
            raise _err(self.fail_code)
        return False

    def _failed_commit(self, fn, *args):
        """Run a commit whose every program fails (LFS_ERR_IO inside littlefs); raise the armed error."""
        self.failing = True
        try:
            fn(self.lfs, *args)
            self.unfailed_commits += 1  # it programmed nothing: applied after all (counted, never seen so far)
        except LittleFSError:
            pass
        finally:
            self.failing = False
            self.owed_us = 0
        raise _err(self.fail_code)

    def _call(self, fn, *args):
        """Run a littlefs call; charge the flash's time; a cut inside it raises BoardReset."""
        try:
            try:
                return fn(self.lfs, *args)
            finally:
                self._settle()
        except LittleFSError as e:
            raise _os_error(e)

    def _settle(self):
        us, self.owed_us = self.owed_us, 0
        if not self.powered:
            if self.board is not None:
                self.board.reset_cause = machine.PWRON_RESET
            raise machine.BoardReset(machine.PWRON_RESET)
        if us and self.board is not None:
            self.busy_ms += us // 1000
            from simboard import vtime
            vtime.sleep_us(us)  # blocking, as the chip is

    # -- paths --------------------------------------------------------------------------------
    def _stat(self, p):
        """littlefs's stat of p, or None."""
        try:
            return self._call(lfs.stat, p)
        except OSError as e:
            if e.args[0] == ENOENT:
                return None
            raise

    # -- the VFS protocol ---------------------------------------------------------------------
    def mount(self, readonly, mkfs):
        if mkfs:
            lfs.format(self.lfs, self.cfg)
            self._mount()

    def umount(self):
        pass

    def chdir(self, path):
        self._live()
        p = self._abs(path)
        st = self._stat(p) if p != "/" else None
        if p != "/" and (st is None or st.type != 2):
            raise _err(ENOENT)
        self.cwd = p

    def getcwd(self):
        return self.cwd

    def ilistdir(self, path="."):
        self._live()
        p = self._abs(path)
        out = []
        dh = self._call(lfs.dir_open, p)
        try:
            while True:
                info = self._call(lfs.dir_read, dh)
                if not info:
                    break
                if info.name in (".", ".."):
                    continue
                out.append((info.name, _DIR if info.type == 2 else _FILE, 0, info.size if info.type != 2 else 0))
        finally:
            lfs.dir_close(self.lfs, dh)
        return iter(out)

    def listdir(self, path="."):
        return [e[0] for e in self.ilistdir(path)]

    def stat(self, path):
        self._live()
        p = self._abs(path)
        if p == "/":
            return (_DIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        st = self._call(lfs.stat, p)
        if st.type == 2:
            return (_DIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return (_FILE, 0, 0, 0, 0, 0, st.size, 0, 0, 0)

    def statvfs(self, path):
        self._live()
        used = self._call(lfs.fs_size)
        free = self.blocks - used
        return (self.block_size, self.block_size, self.blocks, free, free, 0, 0, 0, 0, 255)

    def mkdir(self, path):
        self._step("mkdir")
        self._call(lfs.mkdir, self._abs(path))

    def rmdir(self, path):
        self._step("rmdir")
        self._call(lfs.remove, self._abs(path))

    def remove(self, path):
        self._live()
        p = self._abs(path)
        st = self._stat(p)
        if st is None:
            raise _err(ENOENT)
        if st.type == 2:
            raise _err(EISDIR)
        self._step("remove")
        self._call(lfs.remove, p)

    def rename(self, old, new):
        self._live()
        a, b = self._abs(old), self._abs(new)
        if self._stat(a) is None:
            raise _err(ENOENT)
        if a == b:
            return
        self._step("rename")
        self._call(lfs.rename, a, b)

    def open(self, path, mode="r"):
        self._live()
        p = self._abs(path)
        kind = mode[:1]
        for c in mode[1:]:
            if c not in "bt":
                raise _err(EINVAL)
        if kind not in ("r", "w", "a", "x"):
            raise _err(EINVAL)
        st = self._stat(p)
        if st is not None and st.type == 2:
            raise _err(EISDIR)
        if kind != "r":
            self._step("create")
        fh = self._call(lfs.file_open, p, _FLAGS[kind])
        return LfsFile(self, fh, kind != "r", "b" not in mode)


class LfsFile:
    """An open file of the littlefs flash (write steps: each write, and the commit at flush/close)."""

    def __init__(self, fs, fh, writing, text):
        self.fs = fs
        self.fh = fh
        self.writing = writing
        self.text = text
        self.closed = False
        self.boot = fs.boot
        self.dirty = False

    def _ok(self):
        self.fs._live()
        if self.closed or self.boot != self.fs.boot:
            raise _err(EBADF)

    def read(self, n=-1):
        self._ok()
        if self.writing:
            raise _err(EBADF)
        fs = self.fs
        if n is None or n < 0:
            n = fs._call(lfs.file_size, self.fh) - fs._call(lfs.file_tell, self.fh)
        out = bytes(fs._call(lfs.file_read, self.fh, max(n, 0)))
        return out.decode() if self.text else out

    def readinto(self, buf):
        data = self.read(len(buf))
        if self.text:
            data = data.encode()
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        self._ok()
        out = bytearray()
        while True:
            c = self.fs._call(lfs.file_read, self.fh, 1)
            if not c:
                break
            out += c
            if c == b"\n":
                break
        return out.decode() if self.text else bytes(out)

    def write(self, data):
        self._ok()
        if not self.writing:
            raise _err(EBADF)
        if isinstance(data, str):
            data = data.encode()
        fs = self.fs
        fs._step("write")
        n = fs._call(lfs.file_write, self.fh, bytes(data))
        self.dirty = True
        return n

    def flush(self):
        self._ok()
        if self.dirty:
            fs = self.fs
            self.dirty = False
            if fs._step("commit", True):
                fs._failed_commit(lfs.file_sync, self.fh)
            fs._call(lfs.file_sync, self.fh)

    def close(self):
        fs = self.fs
        if self.closed or self.boot != fs.boot or not fs.powered:  # after a cut nothing reaches flash
            self.closed = True
            return
        self.closed = True  # closed even when its commit fails (lfs_file_close frees the handle)
        if self.dirty:
            self.dirty = False
            if fs._step("commit", True):
                fs._failed_commit(lfs.file_close, self.fh)
        fs._call(lfs.file_close, self.fh)

    def seek(self, offset, whence=0):
        self._ok()
        return self.fs._call(lfs.file_seek, self.fh, offset, whence)

    def tell(self):
        return self.fs._call(lfs.file_tell, self.fh)

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
