"""Modules compiled for the board's native emitter (railbot_host.native): a deployed .mpy, or the bytes of one a frozen image carries, imported into RAM.

Why bytes: MicroPython v1.28's mpy-tool freezes the planner's viper word loop into flash so that its
first call reads from a wrong address on the rp2 port (docs/silicon.md, "Native code"), while the
same .mpy runs when imported from a file. So `railbot firmware` freezes the .mpy's bytes as
railbot/<name>_mpy.py (MPY = b'...', in flash), and load() imports them through a one-file VFS
mounted for the moment of the import; the native code then runs from RAM (about 6 KB of heap).
CPython and the WebAssembly port have neither: load() returns None and the caller uses the source.
"""
import io
import sys

_MOUNT = "/_railbot_native"


class _OneFile:
    """A read-only VFS that holds one file: what MicroPython's import asks of one (stat, open)."""

    def __init__(self, path, data):
        self.path = path
        self.data = data

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def stat(self, path):
        if path != self.path:
            raise OSError(2)  # ENOENT
        return (0x8000, 0, 0, 0, 0, 0, len(self.data), 0, 0, 0)  # S_IFREG

    def open(self, path, mode):
        if path != self.path:
            raise OSError(2)
        return io.BytesIO(self.data)


def load(name):
    """The native module `name`: railbot/<name>.mpy if deployed, else the frozen bytes of it; None
    when there is neither (the caller then imports the source)."""
    try:
        return __import__("railbot." + name, None, None, ("railbot",))
    except ImportError:
        pass
    try:
        blob = __import__("railbot." + name + "_mpy", None, None, ("MPY",)).MPY
    except ImportError:
        return None
    import vfs

    vfs.mount(_OneFile("/" + name + ".mpy", blob), _MOUNT)
    sys.path.insert(0, _MOUNT)
    try:
        return __import__(name)
    finally:
        sys.path.remove(_MOUNT)
        vfs.umount(_MOUNT)
