"""The link's wire format (docs/protocol.md): reserved bytes, frame types, encoding with byte
stuffing and a CRC, and the incremental parser. railbot/link.py is the robot's end that uses it."""
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
_PLAIN = const(0)
_SOF = const(1)
_ESC = const(2)
_RT = const(3)
_BAD = const(4)

_KIND = (  # each byte's kind: _PLAIN 0, _SOF 1, _ESC 2, _RT 3, _BAD 4 (a literal: flash, not heap,
           # in a frozen image; test_link.py checks it against RESERVED and the realtime bytes)
    b"\0\0\1\4\0\0\0\0\0\0\0\0\0\0\0\0"  # 0x00-: SOF (0x02) 1, INTR (0x03) 4
    b"\2\0\0\0\0\0\0\0\3\0\0\0\0\0\0\0"  # 0x10-: ESC (0x10) 2, RT_STOP (0x18) 3
    b"\0\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0"  # 0x20-: RT_HOLD (0x21) 3
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\3"  # 0x30-: RT_STATUS (0x3F) 3
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\3\0"  # 0x70-: RT_RESUME (0x7E) 3
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
)

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
