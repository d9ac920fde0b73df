"""The host's end of the robot's link (docs/protocol.md): frame codec and `Link` over any pyserial-like byte stream.

The codec is written again here in ordinary Python rather than imported from firmware/railbot/link.py:
the two are checked against each other by the tests (tests/host/test_link_host.py), so a change
to one that the other does not follow fails there.
"""

from __future__ import annotations

import binascii
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

VERSION = 1
HELLO_PREFIX = "railbot-link "

SOF = 0x02
ESC = 0x10
INTR = 0x03
RT_STOP, RT_HOLD, RT_STATUS, RT_RESUME = 0x18, 0x21, 0x3F, 0x7E
REALTIME = {"status": RT_STATUS, "hold": RT_HOLD, "resume": RT_RESUME, "stop": RT_STOP}
RESERVED = frozenset((SOF, INTR, ESC, RT_STOP, RT_HOLD, RT_STATUS, RT_RESUME))

REQUEST, REPLY, EVENT, HELLO = 0x51, 0x52, 0x45, 0x48  # Q R E H
TYPE_NAMES = {REQUEST: "request", REPLY: "reply", EVENT: "event", HELLO: "hello"}
HEADER = 6
MAX_PAYLOAD = 480


class LinkError(RuntimeError):
    """The link failed: no answer, or a board the host cannot talk to."""


class LinkTimeout(LinkError):
    pass


class LinkVersionError(LinkError):
    pass


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    id: int
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode("ascii", "replace")


def encode(ftype: int, seq: int, rid: int, payload: bytes | str) -> bytes:
    """One frame on the wire: SOF, then the stuffed body (header, payload, CRC-32 LE)."""
    if isinstance(payload, str):
        payload = payload.encode("ascii")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes, at most {MAX_PAYLOAD}")
    body = bytes((len(payload) & 0xFF, len(payload) >> 8, seq & 0xFF, rid & 0xFF, (rid >> 8) & 0xFF, ftype)) + payload
    body += binascii.crc32(body).to_bytes(4, "little")
    out = bytearray((SOF,))
    for b in body:
        out += bytes((ESC, b ^ 0x20)) if b in RESERVED else bytes((b,))
    return bytes(out)


class Decoder:
    """Incremental decoder: feed() bytes, get the complete, checked frames; bad ones are counted."""

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        self.max_payload = max_payload
        self.body: bytearray | None = None
        self.esc = False
        self.bad = 0
        self.noise = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames = []
        for b in data:
            if b == SOF:
                if self.body is not None:
                    self.bad += 1
                self.body, self.esc = bytearray(), False
                continue
            if self.body is None or b in RESERVED and b != ESC:
                self.noise += self.body is None
                if self.body is not None:  # a raw reserved byte inside a frame
                    self.bad += 1
                    self.body = None
                continue
            if b == ESC and not self.esc:
                self.esc = True
                continue
            if self.esc:
                self.esc, b = False, b ^ 0x20
                if b not in RESERVED:
                    self.bad, self.body = self.bad + 1, None
                    continue
            body = self.body
            body.append(b)
            if len(body) >= 2:
                n = body[0] | body[1] << 8
                if n > self.max_payload:
                    self.bad, self.body = self.bad + 1, None
                    continue
                if len(body) == HEADER + n + 4:
                    self.body = None
                    if binascii.crc32(body[:-4]) != int.from_bytes(body[-4:], "little") or body[5] not in TYPE_NAMES:
                        self.bad += 1
                        continue
                    frames.append(Frame(body[5], body[2], body[3] | body[4] << 8, bytes(body[HEADER:-4])))
        return frames


class Link:
    """Requests and replies matched by id, a retry re-sent with the same id (the board answers it
    without doing it again), events to a callback, and the version handshake.

    stream: anything with write(bytes) and read(n) -> bytes (b"" when nothing came), e.g. a
    pyserial Serial with a short timeout."""

    def __init__(self, stream, on_event: Callable[[str], None] | None = None, *, timeout_s: float = 1.0,
                 retries: int = 3, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.on_event = on_event or (lambda text: None)
        self.timeout_s = timeout_s
        self.retries = retries
        self.clock = clock
        self.decoder = Decoder()
        self.seq = 0
        self.next_id = random.randint(1, 0xFFFF)  # a new session's ids differ from the last one's
        self.pending: dict[int, Frame] = {}
        self.board_version: int | None = None
        self.sent_retries = 0

    def _send(self, ftype: int, rid: int, payload: bytes | str) -> None:
        self.stream.write(encode(ftype, self.seq, rid, payload))
        self.seq = (self.seq + 1) & 0xFF

    def poll(self) -> None:
        """Read what has come; events go to on_event, replies wait in `pending`."""
        waiting = getattr(self.stream, "in_waiting", 0) or 1
        for f in self.decoder.feed(self.stream.read(waiting)):
            if f.type == EVENT:
                self.on_event(f.text)
            elif f.type in (REPLY, HELLO):
                self.pending[f.id] = f

    def _exchange(self, ftype: int, payload: str) -> Frame:
        rid = self.next_id
        self.next_id = self.next_id % 0xFFFF + 1  # 1..65535; 0 is the board's own (events)
        for attempt in range(self.retries + 1):
            if attempt:
                self.sent_retries += 1
            self._send(ftype, rid, payload)
            deadline = self.clock() + self.timeout_s
            while self.clock() < deadline:
                self.poll()
                if rid in self.pending:
                    return self.pending.pop(rid)
        raise LinkTimeout(f"no answer to {TYPE_NAMES[ftype]} {payload!r} (id {rid}) after "
                          f"{self.retries + 1} tries of {self.timeout_s} s")

    def hello(self) -> str:
        """The handshake: the board's hello text; LinkVersionError for another protocol version."""
        text = self._exchange(HELLO, HELLO_PREFIX + str(VERSION)).text
        version = None
        if text.startswith(HELLO_PREFIX):
            try:
                version = int(text[len(HELLO_PREFIX):].split()[0])
            except (ValueError, IndexError):
                pass
        if version != VERSION:
            raise LinkVersionError(f"the board speaks link protocol {text!r}, this host speaks version {VERSION}: "
                                   f"deploy firmware and host tools of the same release")
        self.board_version = version
        return text

    def request(self, line: str) -> str:
        """One command line -> the board's reply line (`ok ...` or `error: ...`)."""
        if self.board_version is None:
            self.hello()
        return self._exchange(REQUEST, line).text

    def realtime(self, name: str) -> None:
        """One realtime byte (status, hold, resume, stop): acted on at once, answered by an event `rt ...`."""
        self.stream.write(bytes((REALTIME[name],)))
