"""The link: framed requests, replies, events and hello over USB CDC or a UART, with grbl-style realtime bytes (docs/protocol.md)."""
import array
import asyncio
import binascii

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

VERSION = const(1)
HELLO = "railbot-link %d" % VERSION

SOF = const(0x02)  # start of frame: never inside a frame
ESC = const(0x10)  # the next byte is a reserved byte XOR 0x20
RT_STOP = const(0x18)  # realtime bytes (grbl style): never inside a frame, act at once
RT_HOLD = const(0x21)  # !
RT_STATUS = const(0x3F)  # ?
RT_RESUME = const(0x7E)  # ~
INTR = const(0x03)  # Ctrl-C: MicroPython's keyboard interrupt, so never sent inside a frame
RESERVED = (SOF, INTR, ESC, RT_STOP, RT_HOLD, RT_STATUS, RT_RESUME)

T_REQUEST = const(0x51)  # Q   (ASCII letters: readable in a dump, never stuffed)
T_REPLY = const(0x52)  # R
T_EVENT = const(0x45)  # E
T_HELLO = const(0x48)  # H

HEADER = const(6)  # length (u16 LE), seq (u8), id (u16 LE), type (u8)
MAX_PAYLOAD = const(480)
WINDOW = const(8)  # request ids remembered with their reply
RECENT = const(16)  # events remembered for the `log` request
TXQ_BYTES = const(1536)  # frames waiting for a port (a `log` answer: 16 events and the reply)
TXQ_FRAMES = const(24)
DRAIN_BYTES = const(64)  # written to a port in one turn of the link task, at most
BYTE_TURN = const(8)  # ... to a port that takes one byte a write (USB: about 60 us each on the rp2 port)
READ_BYTES = const(8)  # read and parsed in one turn (USB: about 55 us a byte to read on the rp2 port)
STUFF_BYTES = const(48)  # of a frame stuffed in one turn (about 13 us a byte)

_PLAIN = const(0)
_SOF = const(1)
_ESC = const(2)
_RT = const(3)
_BAD = const(4)

_KIND = bytearray(256)
for _b in RESERVED:
    _KIND[_b] = _BAD
_KIND[SOF] = _SOF
_KIND[ESC] = _ESC
for _b in (RT_STOP, RT_HOLD, RT_STATUS, RT_RESUME):
    _KIND[_b] = _RT

# realtime byte -> the command it stands for
REALTIME = {RT_STATUS: "status", RT_HOLD: "hold", RT_RESUME: "resume", RT_STOP: "stop"}

_IDLE = const(0)  # between frames: waiting for SOF
_BODY = const(1)  # inside a frame
_SKIP = const(2)  # a bad frame: skipping to the next SOF


def encode(buf, ftype, seq, rid, payload, limit=MAX_PAYLOAD, body=None):
    """Encode one frame into bytearray buf (large enough: 2 * (HEADER + limit + 4) + 1); its length.
    payload: bytes, bytearray or str, cut to limit bytes; body: a scratch bytearray of HEADER + limit + 4
    (else one is allocated)."""
    if isinstance(payload, str):
        payload = payload.encode()
    if body is None:
        body = bytearray(HEADER + min(len(payload), limit) + 4)
    return seal(body, header(body, ftype, seq, rid, payload, limit), buf)


def seal(body, k, buf):
    """Close a frame whose first k body bytes (header and payload) are written: its CRC-32 into
    body[k:k + 4], then SOF and the stuffed body into buf; the frame's length on the wire."""
    close(body, k)
    buf[0] = SOF
    return stuff(body, 0, k + 4, buf, 1)


def header(body, ftype, seq, rid, payload, limit=MAX_PAYLOAD):
    """The header and payload (bytes-like, cut to limit bytes) into body; how many bytes."""
    n = len(payload)
    if n > limit:
        n = limit
    body[0] = n & 0xFF
    body[1] = n >> 8
    body[2] = seq & 0xFF
    body[3] = rid & 0xFF
    body[4] = (rid >> 8) & 0xFF
    body[5] = ftype
    memoryview(body)[HEADER:HEADER + n] = memoryview(payload)[:n]
    return HEADER + n


def close(body, k):
    """The CRC-32 of body[:k] into body[k:k + 4]."""
    crc = binascii.crc32(memoryview(body)[:k])
    body[k] = crc & 0xFF
    body[k + 1] = (crc >> 8) & 0xFF
    body[k + 2] = (crc >> 16) & 0xFF
    body[k + 3] = (crc >> 24) & 0xFF


def stuff(body, i, end, buf, j):
    """body[i:end] into buf from j, each reserved byte as ESC, byte ^ 0x20; the next j. A frame
    may be stuffed a piece at a time (Link.serve: about 13 us a byte on the rp2 port)."""
    kind = _KIND
    for i in range(i, end):
        b = body[i]
        if kind[b]:
            buf[j] = ESC
            buf[j + 1] = b ^ 0x20
            j += 2
        else:
            buf[j] = b
            j += 1
    return j


class Parser:
    """Incremental frame parser: feed() bytes as they come; complete, checked frames go to
    on_frame(type, seq, id, payload_memoryview), realtime bytes to on_realtime(byte) at once,
    even in the middle of a frame. Fixed buffers; bad frames are dropped and counted."""

    def __init__(self, on_frame, on_realtime, max_payload=MAX_PAYLOAD):
        self.on_frame = on_frame
        self.on_realtime = on_realtime
        self.max_payload = max_payload
        self.buf = bytearray(HEADER + max_payload + 4)
        self.mv = memoryview(self.buf)
        self.state = _IDLE
        self.n = 0  # bytes of the frame body so far
        self.need = HEADER + 4  # body length, once the header is in
        self.esc = False
        self.frames = 0  # good frames handed on
        self.bad_crc = 0
        self.bad_length = 0  # length field over max_payload
        self.bad_truncated = 0  # a frame cut short by the next SOF
        self.bad_escape = 0  # a reserved byte inside a frame, or an escape of a byte that needs none
        self.bad_type = 0
        self.noise = 0  # bytes outside frames that are neither SOF nor realtime
        self.realtime = 0

    def bad_frames(self):
        return self.bad_crc + self.bad_length + self.bad_truncated + self.bad_escape + self.bad_type

    def feed(self, data):
        kind = _KIND
        buf = self.buf
        for b in data:
            k = kind[b]
            if k == _RT:
                self.realtime += 1
                self.on_realtime(b)
                continue
            if k == _SOF:
                if self.state == _BODY:
                    self.bad_truncated += 1
                self.state = _BODY
                self.n = 0
                self.need = HEADER + 4
                self.esc = False
                continue
            st = self.state
            if st != _BODY:
                if st == _IDLE:
                    self.noise += 1
                continue
            if k == _ESC:
                if self.esc:
                    self.bad_escape += 1
                    self.state = _SKIP
                else:
                    self.esc = True
                continue
            if k == _BAD:  # a raw reserved byte (Ctrl-C) inside a frame: corrupted
                self.bad_escape += 1
                self.state = _SKIP
                continue
            if self.esc:
                self.esc = False
                b ^= 0x20
                if not kind[b]:
                    self.bad_escape += 1
                    self.state = _SKIP
                    continue
            n = self.n
            buf[n] = b
            n += 1
            self.n = n
            if n == 2:
                length = buf[0] | (buf[1] << 8)
                if length > self.max_payload:
                    self.bad_length += 1
                    self.state = _SKIP
                    continue
                self.need = HEADER + length + 4
            elif n == self.need:
                self.state = _IDLE
                self._frame(n)

    def _frame(self, n):
        buf = self.buf
        m = n - 4
        crc = binascii.crc32(self.mv[:m])
        # compared in 16-bit halves: no big integer on a 32-bit port
        if (crc & 0xFFFF) != (buf[m] | (buf[m + 1] << 8)) or \
                ((crc >> 16) & 0xFFFF) != (buf[m + 2] | (buf[m + 3] << 8)):
            self.bad_crc += 1
            return
        ftype = buf[5]
        if ftype != T_REQUEST and ftype != T_REPLY and ftype != T_EVENT and ftype != T_HELLO:
            self.bad_type += 1
            return
        self.frames += 1
        self.on_frame(ftype, buf[2], buf[3] | (buf[4] << 8), self.mv[HEADER:m])


def _printable(mv):
    for b in mv:
        if b < 0x20 or b > 0x7E:
            return False
    return True


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
    `log`: the last RECENT events again (as event frames `log ...`), then `ok N events`.
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
        self.recent = [None] * RECENT
        self.recent_next = 0
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
        text = kind + "".join(" %s=%s" % (k, v) for k, v in fields)
        self.recent[self.recent_next] = text
        self.recent_next = (self.recent_next + 1) % RECENT
        if self.session:
            self.send(T_EVENT, 0, text)

    def _log(self):
        n = 0
        for i in range(RECENT):
            text = self.recent[(self.recent_next + i) % RECENT]
            if text is not None:
                self.send(T_EVENT, 0, "log " + text)
                n += 1
        return "ok %d events" % n

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
                reply = self._log() if line == "log" else self.robot.command(line)
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
