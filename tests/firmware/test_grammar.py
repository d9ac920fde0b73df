"""The command grammar (railbot/grammar.py, railbot/commands.py) against a generated stream of
hostile lines: one reply line each, `ok ...` or `error: ...`, printable ASCII and short, the same
on CPython and MicroPython; an error changes nothing; numbers are plain ASCII digits only."""
import binascii
from simboard.rig import Rig
from railbot import grammar
from hostile import sample_lines, NUMBERS

N_LINES = 600


def _snapshot(rig):
    r = rig.robot
    return (list(r.jobs), r.ledger.describe(), r.alarm, r.homed, r.paused, r.state, r.hold, r.stop_requested,
            r.jog_target, r.manual, r.home_requested, r.reref_requested)


def _printable_short(reply):
    return len(reply) <= 200 and grammar.printable(reply)


def test_hostile_lines_get_one_clear_reply_and_an_error_changes_nothing():
    rig = Rig(units=[(1, "D24L"), (2, "B9")], home=False)
    crc = 0
    errors = 0
    for line in sample_lines(14, N_LINES):
        before = _snapshot(rig)
        reply = rig.cmd(line)
        assert reply.startswith("ok") or reply.startswith("error: "), (line[:40], reply)
        assert _printable_short(reply), (line[:40], reply)
        if reply.startswith("error: "):
            errors += 1
            assert _snapshot(rig) == before, (line[:40], reply)
        crc = binascii.crc32(reply.encode(), crc)
    assert errors >= N_LINES * 9 // 10, errors
    # the same replies, byte for byte, on both interpreters (a reply that differs changes the crc)
    assert crc == 0xA282CCF3, "%08x" % crc


def test_numbers_are_plain_ascii_digits_and_the_error_names_the_argument():
    rig = Rig(units=[(1, "D24L")], home=True)
    for text in NUMBERS:
        w = grammar.words(text)
        if len(w) == 1 and grammar.number(w[0]) is not None:  # 0, -1, 007, " 12": well formed, judged by range
            continue
        for verb, name in (("charge", "bay"), ("release", "bay"), ("cancel", "bay"), ("jog", "jog"), ("lift", "lift")):
            before = _snapshot(rig)
            reply = rig.cmd(verb + " " + text)
            assert reply.startswith("error: " + name), (verb, text, reply)
            assert _printable_short(reply), reply
            assert _snapshot(rig) == before, (verb, text)
    assert rig.cmd("charge 007").startswith("ok charge bay 7")  # leading zeros are still plain digits
    assert rig.cmd("jog 0012").startswith("ok jog to")


def test_grammar_words_and_numbers():
    assert grammar.words(" charge\t 12  ") == ["charge", "12"]
    assert grammar.words("a\x0bb c") == ["a\x0bb", "c"]  # only spaces and tabs part words
    assert grammar.number("-250") == -250 and grammar.number("0") == 0
    for bad in ("", "-", "+1", " 1", "1_0", "1e3", "\uff11", "\u0661", "1234567890", "0x10"):
        assert grammar.number(bad) is None, bad
    assert grammar.canonical("7") == 7 and grammar.canonical("07") == -1
    assert grammar.shown("a'b\\c") == "'a\\'b\\\\c'"
    assert grammar.shown("\x00\xff\u0661") == "'\\x00\\xff\\u0661'"
    assert grammar.shown("9" * 30) == "'" + "9" * 24 + "'...(30 characters)"
