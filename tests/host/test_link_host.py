"""The host's end of the link (railbot_host.link) against the firmware's Link on a simulated robot, and the link fuzz bench."""
import pytest

from railbot import link as fw
from railbot_host import bench
from railbot_host import link as host
from simboard.rig import Rig


class Wire:
    """A pyserial-like stream to the board's Link: write() feeds the board, read() returns what it sent.
    drop_replies: how many of the board's next frames are lost on the way back."""

    def __init__(self, rig, drop_frames=0):
        self.rig = rig
        self.rx = bytearray()
        self.board = fw.Link(rig.robot, self._board_write)
        self.drop_frames = drop_frames
        self.written = []

    def _board_write(self, data):
        if self.drop_frames:
            self.drop_frames -= 1
            return
        self.rx += bytes(data)

    def write(self, data):
        self.written.append(bytes(data))
        self.board.feed(data)

    @property
    def in_waiting(self):
        return len(self.rx)

    def read(self, n):
        out, self.rx[:] = bytes(self.rx[:n]), self.rx[n:]
        return out


def _link(rig, **kw):
    wire = Wire(rig)
    events = []
    return wire, events, host.Link(wire, events.append, timeout_s=0.05, **kw)


def test_host_and_firmware_codecs_agree():
    buf = bytearray(2 * (fw.HEADER + fw.MAX_PAYLOAD + 4) + 1)
    for ftype, seq, rid, payload in ((host.REQUEST, 0, 1, b"status"), (host.REPLY, 255, 0x3F21, b"ok ?!~"),
                                     (host.EVENT, 7, 0, b""), (host.HELLO, 1, 0x7E18, b"\x02\x03\x10" * 100),
                                     (host.REQUEST, 3, 9, bytes(range(1, 256)))):
        wire = host.encode(ftype, seq, rid, payload)
        assert wire == bytes(buf[:fw.encode(buf, ftype, seq, rid, payload)])
        assert host.Decoder().feed(wire) == [host.Frame(ftype, seq, rid, payload)]
    assert host.RESERVED == frozenset(fw.RESERVED) and host.MAX_PAYLOAD == fw.MAX_PAYLOAD


def test_decoder_drops_bad_frames_and_counts_them():
    d = host.Decoder()
    good = host.encode(host.REPLY, 1, 2, "ok")
    bad = bytearray(good)
    bad[-1] ^= 1
    frames = d.feed(b"noise" + bytes(bad) + good[:5] + host.encode(9, 0, 0, "x") + good)
    assert frames == [host.Frame(host.REPLY, 1, 2, b"ok")] and d.bad == 3 and d.noise == 5


def test_request_reply_and_events():
    rig = Rig(home=False)
    wire, events, link = _link(rig)
    assert link.hello() == "railbot-link 1"
    assert link.request("status").startswith("ok <IDLE|")
    assert link.request("charge 5") == "ok charge bay 5 queued at 1"
    link.poll()
    assert events == ["request bay=5"]
    assert link.request("charge 99") == "error: bay 99 out of range 1..44"


def test_a_lost_reply_is_retried_with_the_same_id_and_done_once():
    rig = Rig(home=False)
    wire, events, link = _link(rig)
    link.hello()
    wire.drop_frames = 2  # the event and the reply of the first try are lost
    assert link.request("charge 5") == "ok charge bay 5 queued at 1"
    assert link.sent_retries == 1 and wire.board.retries == 1 and wire.board.executed == 1
    assert rig.robot.jobs == [5] and rig.kinds().count("request") == 1
    ids = {host.Decoder().feed(w)[0].id for w in wire.written[-2:]}
    assert len(ids) == 1


def test_no_answer_is_a_clear_timeout():
    class Silent:
        def write(self, data):
            pass

        def read(self, n):
            return b""

    link = host.Link(Silent(), timeout_s=0.01, retries=2)
    with pytest.raises(host.LinkTimeout, match="after 3 tries"):
        link.hello()


def test_a_board_of_another_version_is_refused(monkeypatch):
    rig = Rig(home=False)
    wire, events, link = _link(rig)
    monkeypatch.setattr(fw, "HELLO", "railbot-link 2")
    with pytest.raises(host.LinkVersionError, match="protocol 'railbot-link 2'.*version 1"):
        link.request("status")
    assert rig.robot.jobs == [] and wire.board.executed == 0


def test_realtime_bytes_from_the_host():
    rig = Rig(home=False)
    wire, events, link = _link(rig)
    link.realtime("hold")
    link.realtime("status")
    link.poll()
    assert rig.robot.hold and events[-2:] == ["rt hold ok hold", events[-1]]
    assert events[-1].startswith("rt status ok <HOLD|")


def test_link_fuzz_bench_under_micropython_short():
    fig = bench.run_link_fuzz(["--frames", "4000", "--payload", "2000", "alloc"], mpy_dir=bench.REPO_ROOT / "firmware")
    assert not fig.errors, fig.errors
    f = fig.figures
    assert f["link_fuzz_frames"] == 4000 and f["link_fuzz_payload_frames"] == 2000
    for name in ("link_fuzz_crashes", "link_fuzz_corrupt_accepted", "link_fuzz_resync_failures",
                 "link_fuzz_bad_payload_state_changes", "link_fuzz_payload_no_reply", "upy_link_alloc_per_byte_bytes"):
        assert f[name] == 0, name
    assert f["upy_link_heap_lock_ok"] is True
