"""The link fuzz (linkfuzz.py) checks what it counts: corrupted frames counted when checked, and an
accepted command held to what its reply says, at a homed robot and at one never homed."""
import linkfuzz
from railbot import commands
from simboard.rig import Rig


def test_frame_fuzz_counts_only_the_frames_it_checked():
    real = linkfuzz._mutate
    calls = [0]

    def every_other_unchanged(rng, frame, kind):
        calls[0] += 1
        bad = real(rng, frame, kind)
        return bytearray(frame) if calls[0] & 1 else bad  # half the mutations leave the frame as it was

    linkfuzz._mutate = every_other_unchanged
    try:
        fig = linkfuzz.frame_fuzz(400, seed=3)
    finally:
        linkfuzz._mutate = real
    assert fig["asked"] == 400 and fig["unchanged"] >= 200
    assert fig["frames"] == 400 - fig["unchanged"], fig


def _accepted(rig, n, seed):
    fig = linkfuzz.payload_fuzz(rig, n, seed=seed)
    assert fig["payload_frames"] == n and fig["bad_payload_state_changes"] == 0 and fig["no_reply"] == 0, fig
    return fig


def test_accepted_commands_did_what_their_replies_say_unhomed_and_homed():
    for homed in (False, True):
        fig = _accepted(Rig(home=homed), 1500, 5)
        assert fig["valid"] >= 20 and fig["wrong_effects"] == 0, (homed, fig["wrong_seen"])


def _lying(verb, lie):
    """Make the robot's `verb` command do something more than its `ok` reply says (until undone)."""
    fn, nargs = commands.TABLE[verb]

    def cmd(self, *args):
        reply = fn(self, *args)
        if reply.startswith("ok"):
            lie(self)
        return reply

    commands.TABLE[verb] = (cmd, nargs)
    return lambda: commands.TABLE.__setitem__(verb, (fn, nargs))


def test_a_command_that_does_more_than_its_reply_says_is_caught():
    undo = _lying("charge", lambda r: r.jobs.append(44))  # queues bay 44 too
    try:
        fig = _accepted(Rig(home=False), 1500, 5)
    finally:
        undo()
    assert fig["wrong_effects"] >= 1 and "changed fields" in fig["wrong_seen"][0], fig["wrong_seen"]


def test_a_jog_to_another_place_than_its_reply_says_is_caught_at_a_homed_robot():
    undo = _lying("jog", lambda r: setattr(r, "jog_target", r.jog_target + 1))  # one step further
    try:
        fig = _accepted(Rig(), 1500, 5)
    finally:
        undo()
    assert fig["wrong_effects"] >= 1 and "jog" in fig["wrong_seen"][0], fig["wrong_seen"]
