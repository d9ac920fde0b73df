"""The link (firmware/railbot/link.py): frames around the command interface, retries done once, realtime bytes, bad input dropped."""
import gc

from simboard.rig import Rig
from railbot import link as L
import linkfuzz


class Host:
    """The host's side in a test: frames to the board's Link, its frames collected."""

    def __init__(self, rig, hello=True):
        self.rig = rig
        self.got = []
        self.decoder = L.Parser(self._frame, self._rt)
        self.link = L.Link(rig.robot, self.decoder.feed)
        self.buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
        self.seq = 0
        if hello:
            self.send(L.T_HELLO, 0, L.HELLO)  # a session: the robot's events come
            self.got.clear()

    def _frame(self, ftype, seq, rid, payload):
        self.got.append((ftype, rid, bytes(payload).decode()))

    def _rt(self, b):
        raise AssertionError("the board sent a realtime byte")

    def frame(self, ftype, rid, payload):
        n = L.encode(self.buf, ftype, self.seq, rid, payload)
        self.seq = (self.seq + 1) & 0xFF
        return bytes(self.buf[:n])

    def send(self, ftype, rid, payload):
        self.link.feed(self.frame(ftype, rid, payload))

    def replies(self, rid):
        return [p for t, i, p in self.got if t == L.T_REPLY and i == rid]

    def events(self):
        return [p for t, i, p in self.got if t == L.T_EVENT]


def test_a_frame_never_contains_a_realtime_byte_or_ctrl_c():
    h = Host(Rig(home=False))
    every = bytes(range(256)).replace(b"\x00", b"")
    for payload in (every[:200], every[200:], b"?!~\x18\x02\x10\x03" * 20):
        wire = h.frame(L.T_REQUEST, 0x3F21, payload)  # the id's bytes are realtime bytes too
        for b in (L.RT_STATUS, L.RT_HOLD, L.RT_RESUME, L.RT_STOP, L.INTR):
            assert b not in wire
        assert wire.count(bytes((L.SOF,))) == 1 and wire[0] == L.SOF


def test_round_trip_hello_request_reply_and_events():
    rig = Rig(home=False)
    h = Host(rig)
    h.send(L.T_HELLO, 1, L.HELLO)
    assert h.got == [(L.T_HELLO, 1, "railbot-link %d" % L.VERSION)]
    h.send(L.T_REQUEST, 2, "status")
    assert h.replies(2)[0].startswith("ok <IDLE|")
    h.send(L.T_REQUEST, 3, "charge 5")
    assert h.replies(3) == ["ok charge bay 5 queued at 1"]
    assert "request bay=5" in h.events()
    assert rig.robot.jobs == [5] and rig.kinds()[-1] == "request"  # the board's own sink still gets it
    assert h.link.parser.bad_frames() == 0 and h.link.seq_gaps == 0


def test_events_go_out_once_a_host_said_hello_and_log_has_the_earlier_ones():
    rig = Rig(home=False)
    h = Host(rig, hello=False)
    h.send(L.T_REQUEST, 1, "charge 5")
    assert h.replies(1) == ["ok charge bay 5 queued at 1"] and h.events() == []  # no host session yet
    h.send(L.T_HELLO, 2, L.HELLO)
    h.send(L.T_REQUEST, 3, "charge 7")
    assert h.events() == ["request bay=7"]
    h.send(L.T_REQUEST, 4, "log")  # the black box's page: "log <seq> <ms> <text>", from the boot on
    logged = [e.split(" ", 3) for e in h.events()[1:]]
    assert [(w[0], w[1], w[3]) for w in logged] == [("log", "1", "boot"), ("log", "2", "request bay=5"),
                                                  ("log", "3", "request bay=7")], logged
    assert h.replies(4) == ["ok 3 events 1..3 of 1..3 dropped=0 flash_errors=0"]


def test_a_retried_request_is_done_once_and_answered_the_same():
    rig = Rig(home=False)
    h = Host(rig)
    h.send(L.T_REQUEST, 7, "charge 5")
    h.send(L.T_REQUEST, 7, "charge 5")  # the reply was lost: the host sends it again, same id
    assert h.replies(7) == ["ok charge bay 5 queued at 1"] * 2
    assert rig.robot.jobs == [5] and rig.kinds().count("request") == 1
    assert h.link.executed == 1 and h.link.retries == 1
    h.send(L.T_REQUEST, 8, "charge 5")  # a new id is a new request
    assert h.replies(8) == ["error: bay 5 already has a request"]


def test_a_hello_starts_a_new_session_whose_ids_are_new_requests():
    rig = Rig(home=False)
    h = Host(rig)
    h.send(L.T_HELLO, 1, L.HELLO)
    h.send(L.T_REQUEST, 2, "status")
    h.send(L.T_HELLO, 1, L.HELLO)  # the host connects again and numbers from where it likes
    h.send(L.T_REQUEST, 2, "charge 5")  # the same id as the last session's status: done, not replayed
    assert h.replies(2)[1] == "ok charge bay 5 queued at 1" and rig.robot.jobs == [5]
    assert h.link.retries == 0


def test_the_window_forgets_old_ids():
    rig = Rig(home=False)
    h = Host(rig)
    for rid in range(1, L.WINDOW + 2):
        h.send(L.T_REQUEST, rid, "status")
    h.send(L.T_REQUEST, L.WINDOW + 1, "status")
    h.send(L.T_REQUEST, 1, "status")  # out of the window: done again
    assert h.link.retries == 1 and h.link.executed == L.WINDOW + 2


def test_realtime_bytes_act_mid_frame_before_the_frame():
    rig = Rig(home=False)
    h = Host(rig)
    wire = h.frame(L.T_REQUEST, 1, "charge 9")
    half = len(wire) // 2
    h.link.feed(wire[:half])
    h.link.feed(b"!")
    assert rig.robot.hold and h.events() == ["hold", "rt hold ok hold"]
    h.link.feed(b"?")
    assert h.events()[-1].startswith("rt status ok <HOLD|")
    assert h.replies(1) == []  # the frame is still coming
    h.link.feed(wire[half:half + 2] + b"~" + wire[half + 2:])
    assert not rig.robot.hold and "rt resume ok resumed" in h.events()
    assert h.replies(1) == ["ok charge bay 9 queued at 1"]
    h.send(L.T_REQUEST, 2, "home")
    h.link.feed(b"\x18")
    assert h.events()[-1] == "rt stop ok stopping" and rig.robot.stop_requested
    assert h.link.parser.realtime == 4 and h.link.parser.bad_frames() == 0


def test_garbage_then_a_valid_frame():
    rig = Rig(home=False)
    h = Host(rig, hello=False)
    h.link.feed(b"\x00\xff hello \x02\x07\x00\x01\x02\x03\x10\x41\x02\xff\xff\x10")
    h.send(L.T_REQUEST, 5, "status")
    assert len(h.replies(5)) == 1
    p = h.link.parser
    assert p.noise > 0 and p.bad_frames() >= 2 and p.frames == 1


def test_bad_frames_are_dropped_and_counted():
    rig = Rig(home=False)
    h = Host(rig, hello=False)
    p = h.link.parser
    wire = bytearray(h.frame(L.T_REQUEST, 1, "charge 5"))
    wire[-1] ^= 0x40  # CRC
    h.link.feed(wire)
    assert p.bad_crc == 1
    h.link.feed(h.frame(L.T_REQUEST, 2, "charge 5")[:-3])  # truncated: the next SOF tells
    h.link.feed(h.frame(9, 3, "charge 5"))  # unknown type
    assert p.bad_truncated == 1 and p.bad_type == 1
    h.link.feed(bytes((L.SOF, 0xE1, 0x01, 0, 1, 0, 1)) + b"x" * 600)  # 481 bytes announced
    assert p.bad_length == 1
    h.link.feed(bytes((L.SOF, 8, 0, 0, 1, 0, 1, 0x03)))  # a raw Ctrl-C inside a frame
    assert p.bad_escape == 1
    h.send(L.T_REPLY, 4, "ok")  # the board does not take replies
    assert h.link.wrong_direction == 1
    assert h.got == [] and rig.robot.jobs == [] and h.link.executed == 0


def test_a_bad_payload_gets_the_robots_error_and_changes_nothing():
    rig = Rig(home=False)
    h = Host(rig)
    before = linkfuzz.snapshot(rig.robot, rig)
    for rid, line in enumerate((b"charge 45", b"charge x", b"fly 3", b"jog 99999", b"charge \xff", b"rel\x00ease 3", b""), 1):
        h.send(L.T_REQUEST, rid, line)
        assert h.replies(rid)[0].startswith("error: "), (line, h.replies(rid))
    assert linkfuzz.snapshot(rig.robot, rig) == before
    assert h.link.bad_payload == 2


def test_the_parser_allocates_nothing_per_byte():
    h = Host(Rig(home=False))
    wire = h.frame(L.T_REQUEST, 1, "x" * L.MAX_PAYLOAD)
    body = memoryview(wire)[:-1]  # all but the last byte: no frame completes
    h.link.feed(body)
    h.link.feed(body)  # its SOF cuts the first short: a truncated frame
    if hasattr(gc, "mem_alloc"):  # MicroPython
        a = gc.mem_alloc()
        h.link.feed(body)
        assert gc.mem_alloc() == a
        import micropython
        micropython.heap_lock()
        try:
            h.link.feed(body)
        finally:
            micropython.heap_unlock()
    assert h.link.parser.bad_truncated == (3 if hasattr(gc, "mem_alloc") else 1)


def test_short_frame_fuzz():
    fig = linkfuzz.frame_fuzz(3000, seed=5)
    assert fig["crashes"] == 0 and fig["corrupt_accepted"] == 0 and fig["resync_failures"] == 0, fig
    assert fig["bad_frames"] > 1000


def test_short_payload_fuzz():
    fig = linkfuzz.payload_fuzz(Rig(home=False), 2000, seed=5)
    assert fig["bad_payload_state_changes"] == 0 and fig["no_reply"] == 0, fig
    assert fig["errors"] > 1000 and fig["dropped"] > 50 and fig["retried"] > 50, fig


class BytePort:
    """A port as port.Usb is on a board: readinto what has come, room() 1 (POLLOUT promises a byte),
    each write counted in the turn of the link's task it was made in."""

    def __init__(self):
        self.inbox = bytearray()
        self.out = bytearray()
        self.turn_bytes = [0]

    def readinto(self, buf):
        n = min(len(buf), len(self.inbox))
        buf[:n] = self.inbox[:n]
        self.inbox[:n] = b""  # (MicroPython's bytearray has no slice deletion)
        return n

    def room(self):
        return 1

    def write(self, data):
        self.out.extend(data)
        self.turn_bytes[-1] += len(data)
        return len(data)


def test_with_a_port_the_same_frames_go_out_a_short_piece_a_turn():
    # what a host sends: hello, requests (a long reply, `log`, a retry), a realtime byte mid-frame
    host = Host(Rig(home=False), hello=False)
    alarms = host.frame(L.T_REQUEST, 3, "alarms")
    stream = (host.frame(L.T_HELLO, 1, L.HELLO) + host.frame(L.T_REQUEST, 2, "status") + alarms[:5]
              + bytes((L.RT_STATUS,)) + alarms[5:] + host.frame(L.T_REQUEST, 4, "log")
              + host.frame(L.T_REQUEST, 3, "alarms") + host.frame(L.T_REQUEST, 5, "hold")
              + host.frame(L.T_REQUEST, 6, "help"))
    at_once = bytearray()
    direct = L.Link(Rig(home=False).robot, at_once.extend)  # no port: every frame written at once
    direct.feed(stream)
    rig = Rig(home=False)
    port = BytePort()
    link = L.Link(rig.robot, port=port)
    port.inbox.extend(stream)
    turns = {"acted": [], "stuffed": [], "read": []}

    async def between():  # runs between every two pieces of the link's work
        for _ in range(2000):  # bounded: a link that stopped working fails the test, never hangs it
            if not (port.inbox or link.todo or link.outq or link.enc is not None or link.txq.used):
                break
            port.turn_bytes.append(0)
            n, i, left = link.executed, link.enc_i, len(port.inbox)
            await L.asyncio.sleep_ms(0)  # the board's asyncio, as the link's task sees it
            turns["acted"].append(link.executed - n)
            turns["stuffed"].append(link.enc_i - i)
            turns["read"].append(left - len(port.inbox))

    rig.board.loop.create_task(link.serve(port))
    rig.board.loop.create_task(between())
    rig.board.loop.run_until(rig.now_ms() + 1)
    assert bytes(port.out) == bytes(at_once) and len(at_once) > 1000  # the same frames, in the same order
    assert max(port.turn_bytes) == L.BYTE_TURN  # a byte a write, at most BYTE_TURN between awaits
    assert max(turns["acted"]) == 1 and max(turns["stuffed"]) == L.STUFF_BYTES and max(turns["read"]) == L.READ_BYTES
    assert link.retries == 1 and link.executed == 5 and direct.executed == 5


def test_the_byte_kind_table_is_the_reserved_and_realtime_bytes():
    from railbot import frame

    want = bytearray(256)
    for b in L.RESERVED:
        want[b] = 4
    want[L.SOF] = 1
    want[L.ESC] = 2
    for b in (L.RT_STOP, L.RT_HOLD, L.RT_STATUS, L.RT_RESUME):
        want[b] = 3
    assert len(frame._KIND) == 256 and bytes(want) == bytes(frame._KIND)
