"""deploy and test --port with the real mpremote against the virtual board (MicroPython inside).

The firmware must come from the board's own flash, so the board is started with
repo_firmware=False; a virtual board that cannot start that way is skipped with its reason."""

import pytest

from railbot_host import cli, deploy
from railbot_host.board import MpremoteBoard

vboard = pytest.importorskip("railbot_host.vboard")


@pytest.fixture(scope="module")
def vb():
    try:
        b = vboard.VirtualBoard(repo_firmware=False).start()
    except vboard.VirtualBoardError as e:
        pytest.skip("the virtual board does not start without the repo's firmware: %s" % str(e)[:200])
    yield b
    b.stop()


def test_deploy_redeploy_and_a_hand_edit(vb):
    emitted, files = deploy.prepare("SIM")
    with MpremoteBoard(vb.url) as board:
        seen = deploy.survey(board, list(files), [deploy.PKG])
        board.remove([*seen.found, *seen.stale])
        meter = deploy.LinkMeter(board)
        full = deploy.deploy(board, files, emitted)  # checks the tree the board imports
        full_link = meter.counts()
        assert sorted(full.written) == sorted(files)
        again = deploy.deploy(board, files, emitted)
        again_link = {k: v - full_link[k] for k, v in meter.counts().items()}
        assert again.written == [] and again.removed == []
        # with nothing to write: one exec (the _mpy, the digests, the tree the board imports), no
        # soft reset, and a few KB over the link where the full deploy moved the whole image
        assert again_link["round_trips"] == 1 and again_link["soft_resets"] == 0
        assert full_link["soft_resets"] == 1
        link = lambda c: c["bytes_sent"] + c["bytes_received"]
        assert link(full_link) > sum(map(len, files.values())) and link(again_link) < 0.05 * link(full_link)
        board.exec("f = open('/railbot/motion.mpy', 'wb')\nf.write(b'hand edit')\nf.close()\n")
        fixed = deploy.deploy(board, files, emitted)
        assert fixed.written == ["/railbot/motion.mpy"]


def test_wrong_mpy_is_refused(vb, monkeypatch, capsys):
    monkeypatch.setattr(deploy, "emitted_version", lambda made: 5)  # as if mpy-cross emitted v5
    assert cli.main(["deploy", "--port", vb.url, "--quiet"]) == 4
    assert "mpy-cross emits .mpy v5" in capsys.readouterr().err


def test_tests_on_the_board(vb, capsys):
    assert cli.main(["test", "--port", vb.url, "--board", "SIM", "-k", "test_config.py", "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "tests/firmware/test_config.py::test_sim_board_loads PASSED" in out
    assert " 0 failed" in out
    # the board is left running the robot again: its link answers (the technician's next step)
    import serial

    from railbot_host.link import Link

    with serial.serial_for_url(vb.url, timeout=0.02) as s:
        assert Link(s, timeout_s=2.0, retries=5).hello() == "railbot-link 1"


def test_a_failing_test_on_the_board_fails_the_command(vb, capsys):
    with MpremoteBoard(vb.url) as board:
        board.mkdirs(["/tests", "/tests/firmware"])
        board.write_file("/tests/firmware/test_zz_made_to_fail.py",
                         b"def test_made_to_fail():\n    assert 1 + 1 == 3, 'made to fail'\n")
    try:
        assert cli.main(["test", "--port", vb.url, "--board", "SIM", "-k", "test_zz_made_to_fail"]) == 1
        out = capsys.readouterr().out
        assert "tests/firmware/test_zz_made_to_fail.py::test_made_to_fail FAILED" in out
        assert "made to fail" in out
    finally:
        with MpremoteBoard(vb.url) as board:
            board.remove(["/tests/firmware/test_zz_made_to_fail.py"])
