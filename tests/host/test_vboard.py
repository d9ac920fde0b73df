"""The virtual board (railbot_host.vboard) driven by the real mpremote, and the safe REPL: Ctrl-C at
cruise stops the axes and turns the drivers off before the prompt appears; the host's bytes reach
the running program through machine._usb; main.py runs after a reset as on a board. Skips without
`node`."""
import hashlib
import random
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
    assert seen["watchdog_paused"], seen  # else it resets the board under the technician's REPL
    # mpremote still gets a prompt after all that
    assert ok(vb.mpremote("exec", "print('alive')")).strip() == "alive"


# Echo n bytes of the USB stdin back (read `chunk` at a time, `pause_ms` between reads after
# `first_ms`), then say so; bytes after the n-th are left for the REPL.
ECHO = """
import machine, time
u = machine._usb
n, got = {n}, 0
print('ready')
time.sleep_ms({first_ms})
while got < n:
    b = bytearray(min({chunk}, n - got))
    k = u.readinto(b)
    if k:
        u.write(b[:k])
        got += k
    time.sleep_ms({pause_ms})
print('echoed', got)
"""
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
BANNER_PROMPT = b"for more information.\r\n>>> "


def test_running_code_reads_the_usb_and_the_rest_goes_to_the_repl(vb):
    data = bytes(b for b in range(256) if b != 3) * 2  # all but Ctrl-C, controls and >= 0x80 included
    with vb.connect() as c:
        c.enter_raw()
        c.start_exec(ECHO.format(n=len(data), chunk=32, first_ms=0, pause_ms=2))
        c.read_until(b"ready\n")
        # the program's bytes, then raw REPL input it does not read: it must reach the REPL after
        c.write(data + b"print('left', 6 * 7)\x04")
        assert c.read_bytes(len(data)) == data  # binary, in order, untranslated
        assert c.read_until(b"\x04\x04>") == b"echoed %d\n\x04\x04>" % len(data)
        assert c.read_until(b"\x04\x04>") == b"OKleft 42\n\x04\x04>"


def test_a_large_input_arrives_complete_and_in_order(vb):
    rng = random.Random(7)
    data = bytes(b for b in rng.randbytes(21000) if b != 3)[:20000]  # 5x the board's stdin ring
    with vb.connect() as c:
        c.enter_raw()
        c.start_exec(ECHO.format(n=len(data), chunk=100, first_ms=300, pause_ms=4))
        c.read_until(b"ready\n")
        c.write(data)  # all of it while the program sleeps: the ring fills, the rest waits in order
        assert c.read_bytes(len(data), timeout=60) == data
        assert c.read_until(b"\x04\x04>", timeout=60) == b"echoed %d\n\x04\x04>" % len(data)


MAIN_ONCE = b"print('main.py ran as', __name__)\n"
# main.py as firmware runs it: forever, reading the USB every few ms; its stop still polls the
# USB for a while (bytes after the Ctrl-C are the REPL's: mpremote's Ctrl-A must not go here)
MAIN_FOREVER = b"""import machine, time
print('main.py forever')
b = bytearray(8)
try:
    while True:
        machine._usb.readinto(b)
        time.sleep_ms(5)
finally:
    for _ in range(100):
        if machine._usb.readinto(b):
            print('main.py read after Ctrl-C:', bytes(b))
        time.sleep_ms(5)
"""


@pytest.fixture
def main_py(vb, tmp_path):
    """Writes /main.py on the board's flash (the content given to the returned function); removes
    it afterwards."""
    def put(content):
        src = tmp_path / "main.py"
        src.write_bytes(content)
        ok(vb.mpremote("fs", "cp", str(src), ":main.py"))
    yield put
    vb.mpremote("fs", "rm", ":main.py")


def test_main_py_runs_after_reset_and_friendly_soft_reset_not_raw(vb, main_py):
    main_py(MAIN_ONCE)
    # machine.reset(): a fresh interpreter runs main.py as __main__, then the friendly prompt
    seen = vb.reset(wait_for=BANNER_PROMPT)
    assert b"main.py ran as __main__\n" in seen, seen
    with vb.connect() as c:
        c.write(b"\r")
        c.read_until(b">>> ")
        c.data = b""
        c.write(b"\x04")  # Ctrl-D at the friendly prompt: soft reset, main.py runs
        seen = c.read_until(BANNER_PROMPT)
        assert seen.startswith(b"\r\nMPY: soft reboot\r\nmain.py ran as __main__\n"), seen
        c.write(b"\x01")  # raw REPL, then its soft reset (what mpremote does): no main.py
        c.read_until(RAW_PROMPT)
        c.write(b"\x04")
        seen = c.read_until(RAW_PROMPT)
        assert seen == b"OK\r\nMPY: soft reboot\r\n" + RAW_PROMPT, seen
        assert c.exec("print('raw', 1)") == ("raw 1\n", "")
    assert ok(vb.mpremote("exec", "print(2)")).strip() == "2"  # mpremote's soft reset: no main.py


def test_mpremote_stops_a_main_py_that_runs_forever(vb, main_py):
    main_py(MAIN_FOREVER)
    vb.reset(wait_for=b"main.py forever")
    # Ctrl-C stops it (KeyboardInterrupt out of readinto or the sleep); mpremote's Ctrl-A that
    # arrives while it stops reaches the REPL, not main.py
    assert ok(vb.mpremote("exec", "print(1)")).strip() == "1"
    seen = vb.reset(wait_for=b"main.py forever")
    assert seen.startswith(b"main.py forever"), seen
    with vb.connect() as c:
        c.write(b"\x03")
        seen = c.read_until(BANNER_PROMPT)
        assert b"KeyboardInterrupt" in seen and b"main.py" in seen, seen  # its traceback, banner, prompt
        c.write(b"print(6 * 7)\r")
        assert c.read_until(b">>> ").endswith(b"42\n>>> ")
