"""The black box: the robot's events kept for good, a small RAM buffer appended to a ring of files on
flash only at standstill, paged back by the link's `log` request (docs/storage.md, docs/protocol.md)."""
import binascii
import time
from micropython import const
from railbot.grammar import digits, shown

FILES = const(8)  # files in the ring: the oldest is emptied when the newest is full (small files:
# an append rewrites at most its last block, and the boot scan and a page read stay short)
PER_FILE = const(45)  # events a file takes before the next one is begun: (FILES - 1) * PER_FILE = 315 kept
TEXT_MAX = const(160)  # characters of an event's text kept (a longer one is clipped)
PENDING = const(768)  # bytes of the RAM buffer of events not yet on flash (the heap: docs/storage.md)
HIGH = const(576)  # ... this full: written at the next standstill even mid-job
RETRY_MS = const(30000)  # after a flash error, the next try
PAGE = const(16)  # events of one `log` answer at most
PAGE_BYTES = const(1100)  # ... and the frames' bytes at most: with the next frame's room at its longest
# (twice its bytes) it stays within the link's TXQ_BYTES (1536), so no frame of the page is dropped
FRAME_BYTES = const(25)  # a `log` event frame beyond its event: SOF, header and CRC stuffed, "log "
SEQ_MAX = const(999999999)

_ENOENT = const(2)
_IDLE = "IDLE"  # railbot.supervisor.IDLE


def _crc(seq_ms_text):
    return binascii.crc32(seq_ms_text) & 0xFFFFFFFF


def parse(line):
    """(seq, b"<seq> <ms> <text>") of one stored line (bytes, with or without its newline), or None
    when it is torn, corrupt or not ours."""
    if line[-1:] == b"\n":
        line = line[:-1]
    i = line.find(b" ")
    j = line.find(b" ", i + 1)
    if i < 1 or j != i + 9 or i > 9:
        return None
    try:
        seq = int(line[:i])
        crc = int(line[i + 1:j], 16)
    except ValueError:
        return None
    body = line[:i] + line[j:]
    if seq < 1 or _crc(body) != crc:
        return None
    return seq, body


class BlackBox:
    """The robot's events (robot.emit: wrapped here, so every part's event comes through) as lines
    "<seq> <crc32> <ms since boot> <kind name=value ...>", numbered for good across reboots. New ones
    wait in a fixed RAM buffer (PENDING bytes; full: the oldest waiting one is dropped and counted);
    flush() appends them to the newest of FILES files on the store's file system, only with both
    axes at rest and the robot idle or in an alarm (or the buffer HIGH), never during a move: a
    flash erase stops the CPU. A flash error is counted (`errors`), said once as an event, and
    tried again after RETRY_MS: never raised. request() pages them back for the link's `log`."""

    def __init__(self, robot, store):
        self.r = robot
        self.fs = None if store is None else store.fs
        self.open = None if store is None else store.open
        p = "" if store is None else store.path
        self.folder = p[:p.rfind("/") + 1]
        self.buf = bytearray(PENDING)
        self.mv = memoryview(self.buf)
        self.n = 0  # bytes waiting in buf
        self.waiting = 0  # events waiting in buf
        self.first = [0] * FILES  # each file's first and last intact event (0: empty), and count
        self.last = [0] * FILES
        self.count = [0] * FILES
        self.cur = 0  # the file being appended to
        self.torn = False  # it may end in a torn line: the next append begins with a newline
        self.seq = 0  # the last event's number
        self.dropped = 0  # events dropped from a full buffer since boot
        self.errors = 0  # flash errors since boot
        self.errno = 0
        self.failed_ms = 0
        self.flushes = 0
        self.said = False  # the error was said as an event; a good flush clears it
        self._emit = robot.emit
        robot.emit = self.event
        if self.fs is not None:
            try:
                self.scan()
            except OSError as e:
                self._failed(e, False)
        if self.errors:  # said once the numbering goes on from the files': no number used twice
            self._say()
        self.add("boot")

    def path(self, i):
        return "%sbbox%d.log" % (self.folder, i)

    # --- after a reboot ------------------------------------------------------------------------------
    def scan(self):
        """Read every file once: its first and last intact event and how many; the newest file is
        the one to append to, and the numbering goes on from its last event."""
        best = 0
        for i in range(FILES):
            first = last = count = 0
            torn = False
            try:
                f = self.open(self.path(i), "rb")
            except OSError as e:
                f = None
                if e.args and e.args[0] != _ENOENT:  # no file yet is no error
                    self._failed(e, False)
            if f is not None:
                try:
                    while True:
                        line = f.readline()
                        if not line:
                            break
                        torn = line[-1:] != b"\n"
                        e = parse(line)
                        if e is None:
                            continue
                        if not first:
                            first = e[0]
                        last = e[0]
                        count += 1
                finally:
                    f.close()
            self.first[i], self.last[i], self.count[i] = first, last, count
            if last > best:
                best = last
                self.cur = i
                self.torn = torn
        if best > self.seq:
            self.seq = best

    # --- the robot's events --------------------------------------------------------------------------
    def event(self, kind, fields):
        """The robot's emit: the previous sink first, then the line into the buffer."""
        self._emit(kind, fields)
        self.add(kind + "".join(" %s=%s" % (k, v) for k, v in fields))

    def add(self, text):
        if len(text) > TEXT_MAX:
            text = text[:TEXT_MAX]
        if "\n" in text:
            text = text.replace("\n", " ")
        self.seq += 1
        seq = self.seq
        ms = "%d %d " % (seq, time.ticks_ms())
        body = (ms + text).encode()
        i = ms.find(" ")
        line = (ms[:i] + " %08x" % _crc(body) + ms[i:] + text + "\n").encode()
        n = len(line)
        while self.n + n > PENDING:  # full: the oldest waiting event goes (copies: rare, and no
            old = bytes(self.mv[:self.n])  # overlapping memoryview moves, whose order no port promises)
            k = old.find(b"\n") + 1
            self.mv[:self.n - k] = old[k:]
            self.n -= k
            self.waiting -= 1
            self.dropped += 1
        self.mv[self.n:self.n + n] = line
        self.n += n
        self.waiting += 1

    # --- to flash, at standstill ---------------------------------------------------------------------
    def due(self):
        """Something waits, both axes are at rest, and the robot rests (idle without a job, or in an
        alarm) or the buffer is HIGH; after a flash error, not before RETRY_MS."""
        if not self.n or self.fs is None:
            return False
        r = self.r
        c, sup = r.carriage, r.sup
        if c.moving or c.x.busy() or c.z.busy():
            return False
        if self.errors and time.ticks_diff(time.ticks_ms(), self.failed_ms) < RETRY_MS:
            return False
        return self.n >= HIGH or bool(sup.alarm) or (sup.state == _IDLE and not r.mission.jobs)

    def flush(self):
        """Append the waiting events to the newest file (the robot's tasks call it at standstill);
        True if it wrote. A full file begins the next one, emptied. An error is counted, never raised."""
        if not self.due():
            return False
        i = self.cur
        if self.count[i] >= PER_FILE:
            i = (i + 1) % FILES
        n, waiting = self.n, self.waiting
        try:
            fresh = i != self.cur or not self.count[i]
            f = self.open(self.path(i), "wb" if fresh else "ab")
            self.cur = i
            if fresh:
                self.first[i] = self.last[i] = self.count[i] = 0
                self.torn = False
            try:
                if self.torn:  # a torn line ends here: ours begins on a line of its own
                    f.write(b"\n")
                f.write(self.mv[:n])
            finally:
                f.close()
        except OSError as e:
            self.torn = True  # what reached the file is unknown: a newline first next time
            self._failed(e)
            return False
        line_first = self.seq - waiting + 1
        if not self.first[i]:
            self.first[i] = line_first
        self.last[i] = self.seq
        self.count[i] += waiting
        self.n = 0
        self.waiting = 0
        self.torn = False
        self.flushes += 1
        self.said = False
        return True

    def _failed(self, e, say=True):
        self.errors += 1
        self.errno = e.args[0] if e.args else 0
        self.failed_ms = time.ticks_ms()
        if say:
            self._say()

    def _say(self):
        if not self.said:
            self.said = True
            self.r.emit("blackbox_error", (("errno", self.errno), ("errors", self.errors)))

    # --- reading back ------------------------------------------------------------------------------
    def oldest(self):
        """The oldest event still kept (on flash or waiting), 0 if none."""
        best = 0
        for i in range(FILES):
            if self.first[i] and (not best or self.first[i] < best):
                best = self.first[i]
        if not best and self.waiting:
            best = self.seq - self.waiting + 1
        return best

    def lines(self, a, b, out):
        """out(seq, body) for every intact event a <= seq <= b, in order, until it returns True: the
        files that hold any, then the buffer; a file that cannot be read is skipped."""
        order = [i for i in range(FILES) if self.count[i] and self.last[i] >= a and self.first[i] <= b]
        order.sort(key=lambda i: self.first[i])
        for i in order:
            try:
                f = self.open(self.path(i), "rb")
            except OSError:
                continue
            try:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    e = parse(line)
                    if e is None or e[0] < a:
                        continue
                    if e[0] > b or out(e[0], e[1]):
                        return
            except OSError:
                pass
            finally:
                f.close()
        for line in bytes(self.mv[:self.n]).split(b"\n"):
            e = parse(line) if line else None
            if e is not None and a <= e[0] <= b and out(e[0], e[1]):
                return

    def request(self, args, send):
        """The link's `log [FROM [COUNT]]`: events as send("<seq> <ms> <text>"), then the reply line.
        Without FROM the newest COUNT numbers; else the first COUNT events numbered FROM or more (an
        older FROM than is kept: from the oldest kept); COUNT 1..PAGE (default PAGE); as many as fit
        PAGE_BYTES of frames. An error sends nothing."""
        if len(args) > 2:
            return "error: log takes at most 2 arguments (log [FROM [COUNT]]), got %d" % len(args)
        start = count = -1
        if args:
            start = digits(args[0])
            if start < 1:
                return "error: log FROM must be an event number 1..%d, got %s" % (SEQ_MAX, shown(args[0]))
        if len(args) == 2:
            count = digits(args[1])
            if not 1 <= count <= PAGE:
                return "error: log COUNT must be 1..%d, got %s" % (PAGE, shown(args[1]))
        if count < 0:
            count = PAGE
        oldest, newest = self.oldest(), self.seq
        got = []
        if oldest:
            a = newest - count + 1 if start < 0 else start
            if a < oldest:
                a = oldest
            if a <= newest:
                self.lines(a, newest, lambda seq, body: got.append(body) or len(got) >= count)
        total = 0
        keep = 0
        for k in range(len(got)):  # the frames' bytes: from the newest back for `log`, else from FROM on
            j = len(got) - 1 - k if start < 0 else k
            total += len(got[j]) + FRAME_BYTES
            if total > PAGE_BYTES:
                break
            keep += 1
        got = got[len(got) - keep:] if start < 0 else got[:keep]
        for body in got:
            send(str(body, "utf-8"))
        span = ("%s..%s" % (got[0][:got[0].find(b" ")].decode(), got[-1][:got[-1].find(b" ")].decode())
                if got else "none")
        return "ok %d events %s of %d..%d dropped=%d flash_errors=%d" % (
            len(got), span, oldest, newest, self.dropped, self.errors)
