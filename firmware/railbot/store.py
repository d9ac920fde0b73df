"""Atomic records on flash: write NAME.new (sequence number, length, CRC-32), then rename it over NAME."""
import binascii
from micropython import const

_EEXIST = const(17)
_MAX_HEADER = const(32)  # "R1 <seq> <len> <crc8hex>\n" with a 10-digit seq and 5-digit length


def _crc(seq, payload):
    return binascii.crc32(payload, binascii.crc32(("%d %d" % (seq, len(payload))).encode())) & 0xFFFFFFFF


def parse(data):
    """(seq, payload text) of one record file's bytes, or None if it is torn or corrupt."""
    i = data.find(b"\n", 0, _MAX_HEADER)
    if i < 0:
        return None
    try:
        f = data[:i].decode().split(" ")
        if len(f) != 4 or f[0] != "R1" or len(f[3]) != 8:
            return None
        seq, n, crc = int(f[1]), int(f[2]), int(f[3], 16)
        payload = data[i + 1:]
        if seq < 1 or n != len(payload) or crc != _crc(seq, payload):
            return None
        return seq, payload.decode()
    except (ValueError, UnicodeError):
        return None


class Store:
    """One record, NAME, on fs (an object with open/rename/remove/stat, e.g. the simulated flash;
    None: the board's own file system, builtin open and os); save() is atomic across a power cut
    at any write step, whether rename replaces its destination or is remove + rename (FAT). A save
    that fails (OSError) leaves NAME as it was and raises."""

    def __init__(self, fs, name, max_len=2048):
        if fs is None:
            import os
            self.open = open
            fs = os
        else:
            self.open = fs.open
        self.fs = fs
        self.path = name
        self.path_new = name + ".new"
        self.max_len = max_len
        self.seq = -1  # newest intact record's sequence number (0: none); -1: not looked yet
        self.in_new = False  # the newest intact record is NAME.new (a save cut before its rename)

    def _read(self, path):
        try:
            if self.fs.stat(path)[6] > self.max_len + _MAX_HEADER:
                return None
            f = self.open(path, "rb")
            try:
                return parse(f.read())
            finally:
                f.close()
        except OSError:
            return None

    def exists(self):
        """True if NAME is on flash, intact or not. Asked after load() found no intact record: then
        without NAME no record was ever complete (a first boot, or its first save was cut), since
        only an intact NAME.new is ever renamed to NAME, and load() would have found that."""
        try:
            self.fs.stat(self.path)
            return True
        except OSError:
            return False

    def load(self):
        """The newest intact payload of NAME and NAME.new, or None; never raises on bad content."""
        a = self._read(self.path)
        b = self._read(self.path_new)
        self.in_new = b is not None and (a is None or b[0] > a[0])
        best = b if self.in_new else a
        self.seq = best[0] if best else 0
        return best[1] if best else None

    def save(self, text):
        if self.seq < 0:
            self.load()
        if self.in_new:
            # finish the cut save first: NAME.new is about to be overwritten and must not be the
            # only copy of the newest record
            self._replace()
        payload = text.encode()
        if len(payload) > self.max_len:
            raise ValueError("record too long")
        seq = self.seq + 1
        # spent even if this save fails: a NAME.new it leaves behind is never newer than the next save
        self.seq = seq
        self.in_new = False
        try:
            f = self.open(self.path_new, "wb")
            try:
                f.write(("%s %d %d %08x\n" % ("R1", seq, len(payload), _crc(seq, payload))).encode())
                f.write(payload)
            finally:
                f.close()
            self._replace()
        except OSError:
            # a failed write (ENOSPC, EIO, a refused rename): NAME stays the last record saved, so that
            # a reboot brings back what the robot had before the failed save, not the refused change
            self.in_new = False
            try:
                self.fs.remove(self.path_new)
            except OSError:
                pass
            raise

    def _replace(self):
        try:
            self.fs.rename(self.path_new, self.path)
        except OSError as e:
            if e.args[0] != _EEXIST:
                raise  # a rename that failed: not one that refuses to replace its destination
            # a file system whose rename does not replace: remove, then rename
            try:
                self.fs.remove(self.path)
            except OSError:  # no NAME yet (or it cannot go: then the rename fails too)
                pass
            self.fs.rename(self.path_new, self.path)
        self.in_new = False
