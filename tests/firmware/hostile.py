"""Hostile typed lines for the command grammar, the console and the CLI (issue 14): `sample_lines`, a
seeded list in the MicroPython subset (the same lines on CPython and MicroPython), and
`hostile_lines`, a hypothesis strategy for CPython tests (hypothesis is imported when it is called).
No line holds a newline: each is one line as typed."""
from simboard.rng import Rng

#: The robot's command words, the console's own, and near misses.
VERBS = ("status", "home", "charge", "release", "cancel", "jog", "lift", "grip", "hold", "resume", "reset",
         "stop", "reref", "alarms", "ledger", "help", "build", "config", "log", "wait", "quit",
         "STATUS", "Charge", "charge12", "c", "statu", "st\u0430tus")

#: Numbers int() and float() take but a grammar of plain ASCII digits must not: other scripts'
#: digits, fullwidth, superscripts, signs, spaces, underscores, exponents, nan and inf; and big ones.
NUMBERS = ("\u0661\u0662", "\u06f1\u06f2", "\u0967\u0968", "\uff11\uff12", "\xb2", "\xbd", "\u07c1",
           "\U0001d7d9\U0001d7da", "+1", "-1", "-0", "+0", " 12", "12 ", "1_0", "0x10", "0b1", "1e3",
           "1.5", ".5", "5.", "1,5", "nan", "NaN", "inf", "-inf", "Infinity", "007", "0",
           "4294967296", "18446744073709551617", "-2147483649", "9" * 40, "1" + "0" * 400)

#: Characters a terminal acts on, or that no one can see.
CONTROLS = ("\x00", "\x01", "\x03", "\x04", "\x07", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1b[2J",
            "\x1b[31m", "\x1b]0;title\x07", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e",
            "\u200b", "\ufeff", "\t")

#: Quotes and backslashes that do not close, and text that means something to a shell, to printf, to
#: rich's markup or to a format string.
QUOTES = ('"', "'", '"12', "'12", 'a"b', "\\", "12\\", '"unterminated line', "it's", "\"'", "''", '""')
TEXT = ("\xe9", "\u65e5\u672c", "\U0001f600", "e\u0301", "[/]", "[bold]x", ":smile:", "%s", "%d", "{}",
        "{0}", "\\n", "#", "# comment", ";", "&&", "|", "$(x)", "`x`", "x" * 100)

#: Only blank: the console skips these; the firmware answers an error.
BLANKS = ("", " ", "   ", "\t", " \t ", "\xa0", "\u3000")

#: Long arguments (character, count), built when picked: 10 000 characters and more.
LONG = (("A", 10000), ("9", 10000), ("x.", 3000), ("\xe9", 5000), ("1 ", 5000))

_SEPS = (" ", " ", " ", "  ", "\t")
_POOLS = (NUMBERS, CONTROLS, QUOTES, TEXT, BLANKS)


def _pick(rng, seq):
    return seq[rng.below(len(seq))]


def _long(rng):
    text, count = _pick(rng, LONG)
    return text * count


def _any_atom(rng):
    if rng.below(20) == 0:
        return _long(rng)
    return _pick(rng, _pick(rng, _POOLS))


def _random_chars(rng, n):
    out = []
    for _ in range(n):
        kind = rng.below(4)
        if kind == 0:
            c = rng.below(0x80)
        elif kind == 1:
            c = rng.between(0x80, 0x2FFF)
        elif kind == 2:
            c = rng.between(0x3000, 0xD7FF)  # CJK, Hangul, ...: printable, most of them
        else:
            c = rng.between(0xE000, 0x10FFFF)  # private use, astral planes, unassigned
        out.append("?" if c == 10 else chr(c))  # no newline: one typed line
    return "".join(out)


def sample_line(rng):
    """One hostile line from `rng` (a simboard.rng.Rng)."""
    shape = rng.below(8)
    verb = _pick(rng, VERBS)
    if shape == 0:  # a command with a number no grammar of ASCII digits takes
        return verb + _pick(rng, _SEPS) + _pick(rng, NUMBERS)
    if shape == 1:  # a command with one to four hostile arguments
        parts = [verb]
        for _ in range(rng.between(1, 4)):
            parts.append(_pick(rng, _SEPS))
            parts.append(_any_atom(rng))
        return "".join(parts)
    if shape == 2:  # the whole line is one hostile piece
        return _any_atom(rng)
    if shape == 3:  # a plain command with a control character somewhere in it
        line = verb + " " + str(rng.below(50))
        at = rng.below(len(line) + 1)
        return line[:at] + _pick(rng, CONTROLS) + line[at:]
    if shape == 4:  # a 10 000-character argument
        return verb + " " + _long(rng)
    if shape == 5:  # a quote that does not close
        return verb + " " + _pick(rng, QUOTES) + _pick(rng, ("", " 12", " x"))
    if shape == 6:
        return _pick(rng, BLANKS)
    return _random_chars(rng, rng.between(1, 24))  # any characters but a newline


def sample_lines(seed, n):
    """`n` hostile lines (str, no newline in any) from `seed`: the same list on every interpreter.
    Covers other scripts' digits, signs, nan/inf, huge numbers, control characters and ESC sequences,
    NUL, unclosed quotes, blank lines and 10 000-character arguments."""
    rng = Rng(seed)
    return [sample_line(rng) for _ in range(n)]


def hostile_lines(surrogates=False):
    """A hypothesis strategy for one hostile line (str, no newline): the pieces above, any text, and
    commands made of them. surrogates=True also gives lone surrogates, which is what undecodable
    bytes in argv or a surrogateescape stdin become in CPython. CPython only."""
    from hypothesis import strategies as st

    if surrogates:
        chars = st.characters(exclude_characters="\n", exclude_categories=())
    else:
        chars = st.characters(exclude_characters="\n", codec="utf-8")
    free = st.text(chars, max_size=40)
    pieces = [st.sampled_from(p) for p in _POOLS] + [st.sampled_from(LONG).map(lambda tc: tc[0] * tc[1])]
    atom = st.one_of(*pieces)
    word = st.one_of(st.sampled_from(VERBS), atom, free)
    command = st.lists(st.tuples(word, st.sampled_from(_SEPS + ("",))), min_size=1, max_size=5).map(
        lambda ws: "".join(w + s for w, s in ws))
    return st.one_of(atom, free, command, st.builds(lambda v, a: v + " " + a, st.sampled_from(VERBS), atom))
