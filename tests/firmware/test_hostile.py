"""tests/firmware/hostile.py's seeded lines: the same list on CPython and MicroPython, one line each,
and every kind of hostile input among them."""
import binascii

from hostile import sample_lines

#: crc32 of sample_lines(1, 300), UTF-8, one after the other: computed on CPython.
_CRC_SEED_1 = 0xA5CB32FE


def test_the_lines_are_the_same_on_every_interpreter():
    crc = 0
    for line in sample_lines(1, 300):
        crc = binascii.crc32(line.encode(), crc)
    assert crc == _CRC_SEED_1, hex(crc)


def test_the_lines_hold_every_kind_of_hostile_input():
    lines = sample_lines(2, 1000)
    assert len(lines) == 1000 and sample_lines(2, 1000) == lines
    assert not [ln for ln in lines if "\n" in ln]
    for piece in ("\u0661\u0662", "\uff11\uff12", "\x00", "\x1b", "nan", "+1"):
        assert [ln for ln in lines if piece in ln], piece
    assert [ln for ln in lines if len(ln) >= 10000]
    assert [ln for ln in lines if ln.count('"') % 2 or ln.count("'") % 2]
    assert [ln for ln in lines if not ln.strip()]
