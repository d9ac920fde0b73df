"""The grammar of the words and numbers a command line or a board data key takes: plain ASCII
digits, a '-' only where the caller allows a sign, at most 9 digits (a small int on every port),
and the one way a bad word is shown back in an error line (the same text on every port)."""
from micropython import const

_MAX_DIGITS = const(9)
_SHOWN = const(24)  # characters of a bad word shown in an error line


def digits(s):
    """The value of s when it is 1 to 9 plain ASCII digits (leading zeros allowed), else -1."""
    if not s or len(s) > _MAX_DIGITS:
        return -1
    for ch in s:
        if ch < "0" or ch > "9":
            return -1
    return int(s)


def number(s):
    """An optional '-' then digits(): the int, or None when s is anything else."""
    neg = s[:1] == "-"
    n = digits(s[1:] if neg else s)
    if n < 0:
        return None
    return -n if neg else n


def words(line):
    """A command line's words: split at spaces and tabs only (every port splits alike; split()
    alone would part words at CPython's other blanks too). No loop over characters in Python:
    on the rp2 port each one costs a new string."""
    if "\t" in line:
        line = line.replace("\t", " ")
    w = line.split(" ")
    while "" in w:
        w.remove("")
    return w


def shown(s):
    """s quoted for an error line: printable ASCII as it is, anything else as \\xNN or \\uNNNN, the
    first 24 characters only (then '...' and the length)."""
    out = []
    for ch in s[:_SHOWN]:
        o = ord(ch)
        if ch == "'" or ch == "\\":
            out.append("\\" + ch)
        elif 32 <= o < 127:
            out.append(ch)
        elif o < 256:
            out.append("\\x%02x" % o)
        else:
            out.append("\\u%04x" % o if o < 0x10000 else "\\U%08x" % o)
    more = "...(%d characters)" % len(s) if len(s) > _SHOWN else ""
    return "'" + "".join(out) + "'" + more


def printable(s):
    """True when s is printable ASCII only (no control character, nothing beyond '~')."""
    return not s or (min(s) >= " " and max(s) <= "~")


def canonical(s):
    """digits() in canonical form only ("7", not "07"; board data keys and values), else -1."""
    if s[:1] == "0" and len(s) > 1:
        return -1
    return digits(s)


def mm(steps, per_mm):
    """steps as millimetres with two decimals, e.g. "-12.50" (integers only)."""
    v = steps * 100 // per_mm
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    return "%s%d.%02d" % (sign, v // 100, v % 100)
