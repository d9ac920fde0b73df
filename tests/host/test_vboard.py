"""The virtual board (railbot_host.vboard) driven by the real mpremote, and the safe REPL: Ctrl-C at
cruise stops the axes and turns the drivers off before the prompt appears. Skips without `node`."""
import hashlib
import re
import shutil

import pytest

from railbot_host import vboard
from railbot_host.vboard import VirtualBoard

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="`node` not on PATH: the virtual board runs MicroPython's WebAssembly port under Node.js",
)

@pytest.fixture(scope="module")
def vb():
    # start near home and run the clock 4x wall-clock time: homing takes a second, not a minute
    with VirtualBoard(speed=4, start_x_mm=20) as board:
        yield board


def ok(r):
    assert r.returncode == 0, f"mpremote failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_exec_prints_and_errors_come_back(vb):
    assert ok(vb.mpremote("exec", "print('hello', 6 * 7)")).strip() == "hello 42"
    r = vb.mpremote("exec", "import os; os.stat('/no/such/file')")
    assert r.returncode == 1
    assert "OSError: [Errno 2] ENOENT" in r.stdout + r.stderr  # MicroPython's errno, not Emscripten's 44


def test_fs_cp_ls_sha256_and_soft_reset_keeps_files(vb, tmp_path):
    src = tmp_path / "blob.py"
    src.write_bytes(b"DATA = " + repr(bytes(range(256)) * 8).encode() + b"\n")
    ok(vb.mpremote("fs", "mkdir", ":vbtest"))
    first = ok(vb.mpremote("fs", "cp", str(src), ":vbtest/blob.py"))
    assert "Up to date" not in first
    second = ok(vb.mpremote("fs", "cp", str(src), ":vbtest/blob.py"))
    assert "Up to date: vbtest/blob.py" in second  # hash matched: nothing written
    ls = ok(vb.mpremote("fs", "ls", ":vbtest"))
    assert re.search(r"^\s*%d blob\.py$" % src.stat().st_size, ls, re.M), ls
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    assert want in ok(vb.mpremote("fs", "sha256sum", ":vbtest/blob.py"))
    missing = vb.mpremote("fs", "ls", ":nope")
    assert missing.returncode == 1 and "No such file or directory" in missing.stdout + missing.stderr
    # soft reset: a fresh interpreter, the flash contents kept, RAM gone
    ok(vb.mpremote("exec", "marker = 1"))
    out = ok(vb.mpremote("soft-reset", "exec",
                         "import os; print(os.listdir('/vbtest'), 'marker' in globals());"
                         "import sys; sys.path.insert(0, '/vbtest'); import blob; print(len(blob.DATA))"))
    assert out.split() == ["['blob.py']", "False", "2048"]
    ok(vb.mpremote("fs", "rm", ":vbtest/blob.py"))
    ok(vb.mpremote("fs", "rmdir", ":vbtest"))


def test_ctrl_c_at_cruise_stops_and_turns_drivers_off_before_the_prompt(vb):
    seen = vboard.interrupt_at_cruise(vb)
    assert seen["before"][0].startswith("ok homing") and seen["before"][1].startswith("ok jog"), seen
    assert seen["before"][2] == "cruise True", seen  # at cruise, drivers on
    assert "KeyboardInterrupt" in seen["err"], seen
    # a controlled ramp from 1000 mm/s at 500 mm/s^2 takes about 2 s of simulated time
    assert 1500 <= seen["interrupt_to_drivers_off_ms"] <= 3000, seen
    # right at the prompt: driver off, no step word running and none queued; nothing moves after
    assert (seen["powered"], seen["word_idle"], seen["fifo"], seen["moved_um"]) == (False, True, 0, 0), seen
    # mpremote still gets a prompt after all that
    assert ok(vb.mpremote("exec", "print('alive')")).strip() == "alive"
