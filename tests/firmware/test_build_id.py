"""The `build` command: the firmware names its railbot/build_id.py (frozen or deployed), or none when run from source."""
import sys

from simboard.rig import Rig


class _BuildId:  # what a frozen image's generated module holds
    TREE = "ab" * 32
    COMMIT = "c0ffee"
    BOARD = "PICO"
    IMAGE = "frozen"


class _Deployed:  # an older `railbot deploy` wrote only these two
    TREE = "12" * 32
    BOARD = "SIM"


def _with(mod, rig):
    import railbot

    sys.modules["railbot.build_id"] = mod
    setattr(railbot, "build_id", mod)
    try:
        return rig.cmd("build")
    finally:
        del sys.modules["railbot.build_id"]
        delattr(railbot, "build_id")


def test_build_names_the_module_or_none():
    rig = Rig(units=[(1, "D24L")])
    assert rig.cmd("build") == "ok build none (firmware from source)"
    assert _with(_BuildId, rig) == "ok build src=%s tree=%s commit=c0ffee board=PICO image=frozen" % ("ab" * 32, "ab" * 32)
    assert _with(_Deployed, rig) == "ok build src=%s tree=%s commit=unknown board=SIM image=deployed" % ("12" * 32, "12" * 32)
    assert "build" in rig.cmd("help")
    assert rig.cmd("build 1") == "error: build takes 0 arguments, got 1"
