"""Motion and position code is integer-only: no float literals, no true division, no float() calls.

The RP2040 and ESP32 ports use single-precision floats (a float32 near 60.0 has a step of about
4e-6) while the desktop tiers use doubles, so float code that passes here can be wrong on a board.
"""
import ast
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware" / "railbot"
INTEGER_MODULES = ["motion.py", "scurve.py", "robot.py", "supervisor.py", "carriage.py", "handling.py", "mission.py", "record.py",
                   "commands.py", "grammar.py", "unitsense.py", "grip.py", "grip_dc.py", "site.py", "ledger.py", "store.py", "hal/__init__.py", "hal/pio.py", "hal/dc.py"]


def float_uses(source: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append((node.lineno, f"float literal {node.value!r}"))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            found.append((node.lineno, "true division '/'"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            found.append((node.lineno, "float()"))
    return [f"line {n}: {what}" for n, what in sorted(found)]


@pytest.mark.parametrize("module", INTEGER_MODULES)
def test_module_is_integer_only(module):
    assert float_uses((FIRMWARE / module).read_text()) == []


def test_the_check_catches_floats_and_division():
    src = "a = 1.5\nb = a / 2\nc = float(3)\nd = 7 // 2\nd /= 2\n"
    assert float_uses(src) == [
        "line 1: float literal 1.5",
        "line 2: true division '/'",
        "line 3: float()",
        "line 5: true division '/'",
    ]
