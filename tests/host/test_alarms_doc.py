"""docs/alarms.md has a row for every alarm of firmware/railbot/alarms.py, with its name and whether
re-homing is needed as the table says."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table():
    sys.path[:0] = [str(ROOT / "boards" / "SIM" / "simboard"), str(ROOT / "firmware")]
    try:
        from railbot import alarms
    finally:
        del sys.path[:2]
    return alarms.TABLE


def test_every_alarm_has_its_row():
    rows = {}
    for line in (ROOT / "docs" / "alarms.md").read_text().splitlines():
        m = re.match(r"\| (\d+) \| (\w+) \|.*\| (yes|no) \|$", line)
        if m:
            rows[int(m.group(1))] = (m.group(2), m.group(3) == "yes")
    table = _table()
    assert sorted(rows) == sorted(table)
    for code, (name, _meaning, rehome) in table.items():
        assert rows[code] == (name, rehome), code
