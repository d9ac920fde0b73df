"""The link: framed requests, replies, events and hello over USB CDC or a UART, with grbl-style realtime bytes (docs/protocol.md)."""
import array
import asyncio
from railbot.frame import (VERSION, HELLO, SOF, ESC, RT_STOP, RT_HOLD, RT_STATUS, RT_RESUME, INTR,  # noqa: F401
                           RESERVED, T_REQUEST, T_REPLY, T_EVENT, T_HELLO, HEADER, MAX_PAYLOAD, REALTIME,
                           encode, seal, header, close, stuff, Parser, _printable)
from railbot.grammar import words

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

WINDOW = const(8)  # request ids remembered with their reply
TXQ_BYTES = const(1536)  # frames waiting for a port (a `log` answer: at most 1200 bytes of events and the reply)
TXQ_FRAMES = const(24)
DRAIN_BYTES = const(64)  # written to a port in one turn of the link task, at most
BYTE_TURN = const(8)  # ... to a port that takes one byte a write (USB: about 60 us each on the rp2 port)
READ_BYTES = const(8)  # read and parsed in one turn (USB: about 55 us a byte to read on the rp2 port)
STUFF_BYTES = const(48)  # of a frame stuffed in one turn (about 13 us a byte)


class TxQueue:
    """Frames waiting for a port that must never make the robot wait (docs/protocol.md, "Sending"):
    a ring of bytes and a record of each frame in it, drained by the link task a piece at a time,
    as much as the port says it takes at once. A frame that does not fit makes room by dropping
    the oldest event frames not yet begun (counted in `dropped`); if that is not enough, the new
    frame itself is dropped (a reply: the host asks again). Nothing here allocates."""

    def __init__(self, nbytes=TXQ_BYTES, nframes=TXQ_FRAMES):
        self.buf = bytearray(nbytes)
        self.mv = memoryview(self.buf)
        self.size = nbytes
        self.head = 0  # ring index of the first byte not yet written to the port
        self.used = 0  # bytes waiting
        self.flen = array.array("H", bytes(2 * nframes))  # bytes of each waiting frame still to write
        self.fevent = bytearray(nframes)  # 1: an event frame (may be dropped)
        self.fh = 0  # record of the head frame
        self.fn = 0  # frames waiting
        self.begun = False  # the head frame is partly written
        self.one = bytearray(1)
        self.dropped = 0  # event frames dropped to make room
        self.dropped_replies = 0  # other frames that found no room

    def _drop_event(self):
        """Drop the oldest waiting event frame not yet begun; False if there is none."""
        nf = len(self.flen)
        before = 0  # bytes of the frames ahead of it (moved up over it)
        for i in range(self.fn):
            r = (self.fh + i) % nf
            if self.fevent[r] and not (i == 0 and self.begun):
                gone = self.flen[r]
                j = before
                size, buf, head = self.size, self.buf, self.head
                while j > 0:
                    j -= 1
                    buf[(head + j + gone) % size] = buf[(head + j) % size]
                while i > 0:
                    self.flen[(self.fh + i) % nf] = self.flen[(self.fh + i - 1) % nf]
                    self.fevent[(self.fh + i) % nf] = self.fevent[(self.fh + i - 1) % nf]
                    i -= 1
                self.head = (head + gone) % size
                self.used -= gone
                self.fh = (self.fh + 1) % nf
                self.fn -= 1
                self.dropped += 1
                return True
            before += self.flen[r]
        return False

    def push(self, mv, n, event):
        """Queue the n bytes of one frame; False if it was dropped."""
        while self.used + n > self.size or self.fn == len(self.flen):
            if not self._drop_event():
                if event:
                    self.dropped += 1
                else:
                    self.dropped_replies += 1
                return False
        size, buf = self.size, self.buf
        at = (self.head + self.used) % size
        first = size - at if size - at < n else n
        self.mv[at:at + first] = mv[:first]
        if first < n:
            self.mv[:n - first] = mv[first:n]
        r = (self.fh + self.fn) % len(self.flen)
        self.flen[r] = n
        self.fevent[r] = 1 if event else 0
        self.fn += 1
        self.used += n
        return True

    def drain(self, port, budget=DRAIN_BYTES, byte_budget=BYTE_TURN):
        """Write to port what its room() says it takes now, up to budget bytes (byte_budget while
        it promises one byte at a time: each such write is a USB packet); how many it took."""
        sent = 0
        while self.used and sent < budget:
            k = port.room()
            if k <= 0:
                break
            if k == 1 and sent >= byte_budget:
                break
            left = self.flen[self.fh]
            if k > left:
                k = left
            if k > budget - sent:
                k = budget - sent
            if k > self.size - self.head:
                k = self.size - self.head
            if k == 1:  # what a USB port's POLLOUT promises: one byte, written without a slice
                self.one[0] = self.buf[self.head]
                n = port.write(self.one)
            else:
                n = port.write(self.mv[self.head:self.head + k])
            if not n:
                break
            self.head = (self.head + n) % self.size
            self.used -= n
            sent += n
            left -= n
            self.flen[self.fh] = left
            self.begun = left > 0
            if not left:
                self.fh = (self.fh + 1) % len(self.flen)
                self.fn -= 1
            if n < k:  # the port took less than it offered: the rest goes next turn
                break
        return sent


class Link:
    """The robot's end of the link: requests -> Robot.command, replies remembered by request id
    (a retry is answered, not executed again), the robot's events as event frames, hello answered
    with the protocol version, realtime bytes as hold / resume / stop / status, and the request
    `log [FROM [COUNT]]`: a page of the robot's black box (railbot/blackbox.py) as event frames
    `log <seq> <ms> <text>`, then `ok N events ...`.
    The robot's events go out once a host has said hello: nothing unasked for reaches a plain
    terminal on the port, nor fills the USB's buffers while no host reads them.
    Without a port, feed(bytes) acts at once and frames go to write(bytes-like) at once (a sink
    that never waits: tests, a loopback). With a `port` (railbot.port: a USB or a UART whose write
    can wait) serve(port), a task, does the same work a short piece a turn (docs/protocol.md,
    "Sending"): what arrived is queued in order (`todo`), one request (or hello, or realtime byte)
    is acted on per turn, frames to send wait as text (`outq`) and are encoded a piece a turn into
    a TxQueue that is drained as the port takes it. The frames and their order are the same."""

    def __init__(self, robot, write=None, max_payload=MAX_PAYLOAD, window=WINDOW, port=None):
        self.robot = robot
        self.write = write
        self.txq = TxQueue() if port is not None else None
        self.todo = []  # with a port: (type, id, payload bytes) or (None, realtime byte, None) to act on
        self.outq = []  # with a port: [type, seq, id, payload] frames not yet encoded, in order
        self.enc = None  # the outq frame being stuffed: its body bytes done, its wire bytes so far
        self.enc_i = 0
        self.enc_j = 0
        self.enc_end = 0
        self.dropped_said = 0  # txq.dropped when the host was last told
        self.parser = Parser(self._on_frame, self._on_realtime, max_payload)
        self.tx = bytearray(2 * (HEADER + max_payload + 4) + 1)
        self.body = bytearray(HEADER + max_payload + 4)
        self.txmv = memoryview(self.tx)
        self.seq = 0
        self.rx_seq = -1
        self.seq_gaps = 0  # frames from the host that never arrived (by sequence number)
        self.ids = [-1] * window
        self.replies = [None] * window
        self.slot = 0
        self.executed = 0
        self.retries = 0  # requests answered from the window
        self.bad_payload = 0  # requests refused before the robot (not printable ASCII)
        self.errors = 0  # an exception in a command (answered as an error, never raised)
        self.send_failed = 0
        self.wrong_direction = 0  # reply or event frames sent to the board
        self.blackbox = getattr(robot, "blackbox", None)  # the robot's events kept, for `log`
        self.session = False  # a host said hello: the robot's events go out (before, `log` has them)
        self._emit = robot.emit
        robot.emit = self.event

    def feed(self, data):
        self.parser.feed(data)

    async def serve(self, port, idle_ms=5, read_bytes=READ_BYTES):
        """Serve `port` (railbot.port) forever, a task beside the robot's: each turn does one piece
        of work (acts on one thing received, else reads and parses up to read_bytes; stuffs up to
        STUFF_BYTES of a frame; writes what the port takes, up to BYTE_TURN bytes a byte at a time),
        each with the other tasks run between: no turn holds the CPU for long (docs/protocol.md,
        "Sending"). At once again while there is work, else every idle_ms."""
        buf = bytearray(read_bytes)
        mv = memoryview(buf)
        q = self.txq
        while True:
            busy = 0
            if self.todo:
                self._act(self.todo.pop(0))
                busy = 1
            else:
                n = port.readinto(buf)
                if n:
                    self.parser.feed(mv[:n])
                    busy = 1
            if busy:
                await asyncio.sleep_ms(0)
            if q is None:
                continue
            if self.outq or self.enc is not None:
                if self._encode_step():
                    await asyncio.sleep_ms(0)
                    busy = 1
            elif q.dropped != self.dropped_said and self.session and q.used == 0:
                self.dropped_said = q.dropped  # said once the queue has emptied: it fits
                self.send(T_EVENT, 0, "link_dropped events=%d" % q.dropped)
            if q.used and q.drain(port):
                busy = 1
            await asyncio.sleep_ms(0 if busy else idle_ms)

    def _encode_step(self):
        """Stuff the next piece of the first waiting frame; once whole, into the TxQueue. False
        while the TxQueue has no room for the frame at its longest (it waits, the port drains)."""
        q = self.txq
        if self.enc is None:
            ftype, seq, rid, payload = self.outq[0]
            while q.used + 2 * (HEADER + len(payload) + 4) + 1 > q.size or q.fn == len(q.flen):
                if ftype != T_EVENT or not q._drop_event():
                    return False
            self.outq.pop(0)
            try:
                if isinstance(payload, str):
                    payload = payload.encode()
                k = header(self.body, ftype, seq, rid, payload, self.parser.max_payload)
                close(self.body, k)
            except Exception:  # a link that cannot send must not stop the robot
                self.send_failed += 1
                return True
            self.tx[0] = SOF
            self.enc = ftype
            self.enc_i = 0
            self.enc_j = 1
            self.enc_end = k + 4
            return True
        i = self.enc_i
        end = i + STUFF_BYTES
        if end > self.enc_end:
            end = self.enc_end
        self.enc_j = stuff(self.body, i, end, self.tx, self.enc_j)
        self.enc_i = end
        if end == self.enc_end:
            q.push(self.txmv, self.enc_j, self.enc == T_EVENT)
            self.enc = None
        return True

    def send(self, ftype, rid, payload):
        seq = self.seq
        self.seq = (seq + 1) & 0xFF
        if self.txq is not None:  # encoded by serve, a piece a turn
            outq = self.outq
            if len(outq) >= TXQ_FRAMES:  # a host that reads nothing: drop the oldest event waiting
                for i in range(len(outq)):
                    if outq[i][0] == T_EVENT:
                        outq.pop(i)
                        self.txq.dropped += 1
                        break
                else:
                    if ftype == T_EVENT:
                        self.txq.dropped += 1
                    else:
                        self.txq.dropped_replies += 1
                    return
            outq.append((ftype, seq, rid, payload))
            return
        try:
            n = encode(self.tx, ftype, seq, rid, payload, self.parser.max_payload, self.body)
            self.write(self.txmv[:n])
        except Exception:  # a link that cannot send must not stop the robot
            self.send_failed += 1

    def event(self, kind, fields):
        """The robot's emit: the previous sink first, then one event frame `kind name=value ...`."""
        self._emit(kind, fields)
        if self.session:
            self.send(T_EVENT, 0, kind + "".join(" %s=%s" % (k, v) for k, v in fields))

    def _log(self, line):
        """`log [FROM [COUNT]]`: a page of the black box as event frames, then the reply."""
        if self.blackbox is None:
            return "error: log: this robot keeps no events"
        return self.blackbox.request(words(line)[1:], self._log_event)

    def _log_event(self, text):
        self.send(T_EVENT, 0, "log " + text)

    def _on_realtime(self, b):
        if self.txq is not None:  # in order with the frames before it, at serve's next turn
            self.todo.append((None, b, None))
            return
        self._realtime(b)

    def _realtime(self, b):
        cmd = REALTIME[b]
        try:
            reply = self.robot.command(cmd)
        except Exception as e:
            self.errors += 1
            reply = "error: %s failed: %r" % (cmd, e)
        self.send(T_EVENT, 0, "rt " + cmd + " " + reply)

    def _on_frame(self, ftype, seq, rid, payload):
        if self.rx_seq >= 0 and seq != (self.rx_seq + 1) & 0xFF:
            self.seq_gaps += 1
        self.rx_seq = seq
        if ftype != T_HELLO and ftype != T_REQUEST:  # replies and events go the other way
            self.wrong_direction += 1
            return
        if self.txq is not None:  # acted on at serve's next turns, in order
            self.todo.append((ftype, rid, bytes(payload)))
            return
        self._frame(ftype, rid, payload)

    def _act(self, item):
        ftype, rid, payload = item
        if ftype is None:
            self._realtime(rid)
        else:
            self._frame(ftype, rid, payload)

    def _frame(self, ftype, rid, payload):
        if ftype == T_HELLO:  # a new host session: its ids owe nothing to the last one's
            ids = self.ids
            for i in range(len(ids)):
                ids[i] = -1
            self.session = True
            self.send(T_HELLO, rid, HELLO)
            return
        ids = self.ids
        for i in range(len(ids)):
            if ids[i] == rid:
                self.retries += 1
                self.send(T_REPLY, rid, self.replies[i])
                return
        if _printable(payload):
            try:
                line = str(payload, "ascii")
                is_log = line[:3].lower() == "log" and (len(line) == 3 or line[3] in " \t")
                reply = self._log(line) if is_log else self.robot.command(line)
            except Exception as e:
                self.errors += 1
                reply = "error: command failed: %r" % (e,)
        else:
            self.bad_payload += 1
            reply = "error: a command is printable ASCII"
        self.executed += 1
        s = self.slot
        ids[s] = rid
        self.replies[s] = reply
        self.slot = (s + 1) % len(ids)
        self.send(T_REPLY, rid, reply)
