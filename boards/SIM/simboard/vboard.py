"""The virtual board's boot (host_tools/upy/vboard.mjs): the simulated board paced to wall-clock time,
its flash mounted at / (the host files at /repo), Ctrl-C from the host raised as KeyboardInterrupt,
the host's bytes as the USB stdin of the running code (machine._usb)."""
import os
import sys
import vfs
import binascii
import js
from uctypes import addressof as _addressof  # the port's own: the SIM board installs a simulated uctypes
from simboard import vclock, machine as _machine, board as _board

_DIR = 0x4000


def _poll(ms):
    # js.vb_poll waits up to ms (returns early on input) and says whether a Ctrl-C came meanwhile
    if js.vb_poll(ms):
        raise KeyboardInterrupt


def _listener(t0, t1):
    _poll(0)  # runs before the plant moves: an interrupt leaves the clock and the plant consistent


class Usb:
    """machine._usb on the virtual board: the board's USB CDC as the firmware's host link sees it.
    readinto(buf) copies what the host sent while the code runs (at most len(buf) bytes; 0 if
    none; never blocks; KeyboardInterrupt if the host sent Ctrl-C); write(data) sends the bytes
    as given. The bytes move through the interpreter's memory: nothing is allocated per call."""

    def __init__(self):
        self._read = js.vb_usb_read
        self._write = js.vb_usb_write

    def readinto(self, buf):
        n = len(buf)
        if n:
            n = self._read(_addressof(buf), n)
            if n < 0:
                raise KeyboardInterrupt
        return n

    def write(self, data):
        n = len(data)
        if n:
            self._write(_addressof(data), n)
        return n

    def room(self):
        return 1  # POLLOUT, as a board's USB says it: the host's socket never makes a write wait here


def _restore(flash, src, dst):
    for ent in os.ilistdir(src):
        name, kind = ent[0], ent[1]
        s, d = src + "/" + name, (dst + "/" if dst != "/" else "/") + name
        if kind & _DIR:
            flash.dirs[d] = True
            _restore(flash, s, d)
        else:
            with open(s, "rb") as f:
                flash.files[d] = f.read()


def boot(folder, speed=1, start_x_mm=1200, snapshot=None, repo_firmware=True):
    """Make the SimBoard current, mount its flash at / (contents from the `snapshot` dir of the
    host FS, kept across soft resets) and the host's /repo at /repo. repo_firmware: /repo/firmware
    stays last on sys.path; else the firmware must come from the flash (the SimBoard keeps the
    railbot.config it read its board data with)."""
    vclock._wall_sleep_ms = _poll
    sys.path.append("/repo/firmware")
    b = _board.SimBoard(folder, speed=speed, start_x_mm=start_x_mm)
    if not repo_firmware:
        sys.path.remove("/repo/firmware")
        for name in list(sys.modules):
            if name == "railbot" or name.startswith("railbot."):
                del sys.modules[name]
    b.clock._listeners.insert(0, _listener)
    _board.install()
    _machine._usb = Usb()
    if snapshot is not None:
        _restore(b.flash, snapshot, "/")
    vfs.umount("/")
    vfs.mount(b.flash, "/")
    vfs.mount(vfs.VfsPosix("/repo"), "/repo")
    os.chdir("/")
    return b


def save(flash, put):
    """Hand every directory and file of the flash to put(path, is_dir, hex) (the JS side keeps them)."""
    for d in sorted(flash.dirs):
        if d != "/":
            put(d, 1, "")
    for p in flash.files:
        put(p, 0, binascii.hexlify(flash.files[p]).decode())
