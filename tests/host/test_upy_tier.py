"""The MicroPython tier itself: harness.mjs, tests/upy_runner.py and railbot_host.upy.

Each test writes its own small test folder in a temp dir and runs it under real MicroPython
(the WebAssembly port under Node.js). They skip if `node` is not on PATH.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from railbot_host import upy

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="`node` not on PATH: the MicroPython tier runs MicroPython's WebAssembly port under Node.js",
)

TIMEOUT = 60  # seconds; each run takes well under one


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def run_runner(tmp: Path, *runner_args: str) -> subprocess.CompletedProcess:
    """Run tests/upy_runner.py on tmp/tests under MicroPython; tmp/fw (if any) is on sys.path."""
    mounts = [(tmp / "tests", "/t/tests")]
    paths = []
    if (tmp / "fw").is_dir():
        mounts.append((tmp / "fw", "/t/fw"))
        paths.append("/t/fw")
    return upy.run(
        upy.RUNNER,
        mounts=mounts,
        paths=paths,
        args=["/t/tests", "--root", "/t", *runner_args],
        capture=True,
        timeout=TIMEOUT,
    )


def run_pytest(tmp: Path) -> subprocess.CompletedProcess:
    """The same folder under CPython + pytest (tier 1), in a fresh interpreter."""
    env_path = str(tmp / "fw")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={tmp}",
         str(tmp / "tests")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": env_path},
    )


@pytest.fixture(scope="module", autouse=True)
def _npm():
    upy.ensure_npm()


# --- the runner ------------------------------------------------------------------------------


def test_runner_passes_on_a_passing_folder(tmp_path):
    write(tmp_path / "tests", "helper.py", "def double(x):\n    return 2 * x\n")
    write(tmp_path / "tests", "test_ok.py", """
        from helper import double

        def test_b_double():
            assert double(21) == 42

        def test_a_micropython():
            import sys
            assert sys.implementation.name == "micropython"

        def not_a_test():
            raise AssertionError("must not run")
    """)
    r = run_runner(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    # sorted by name, one line per test, plain closing line
    assert "PASS tests/test_ok.py::test_a_micropython" in lines
    assert lines.index("PASS tests/test_ok.py::test_a_micropython") < lines.index(
        "PASS tests/test_ok.py::test_b_double")
    assert lines[-1] == "upy: 2 passed, 0 failed, 0 skipped"


def test_runner_fails_on_a_failing_folder(tmp_path):
    write(tmp_path / "tests", "test_bad.py", """
        def test_good():
            pass

        def test_wrong():
            x = 3
            assert x == 4, "x is %d" % x
    """)
    r = run_runner(tmp_path)
    assert r.returncode == 1
    assert "PASS tests/test_bad.py::test_good" in r.stdout
    assert "FAIL tests/test_bad.py::test_wrong" in r.stdout
    assert "AssertionError: x is 3" in r.stdout  # the exception, printed after the FAIL line
    assert r.stdout.splitlines()[-1] == "upy: 1 passed, 1 failed, 0 skipped"


def test_runner_exclusions_and_filter(tmp_path):
    write(tmp_path / "tests", "test_mix.py", """
        def test_one():
            pass

        def test_two():
            assert False

        def test_three():
            pass
    """)
    write(tmp_path / "tests", "exclude.txt", """
        # a comment

        tests/test_mix.py::test_two   # broken on purpose
        tests/test_mix.py::test_gone  # no such test
    """)
    r = run_runner(tmp_path, "--exclude", "/t/tests/exclude.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIP tests/test_mix.py::test_two (excluded)" in r.stdout
    assert "stale exclusion, no such test: tests/test_mix.py::test_gone" in r.stdout
    assert r.stdout.splitlines()[-1] == "upy: 2 passed, 0 failed, 1 skipped"

    r = run_runner(tmp_path, "-k", "three")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS tests/test_mix.py::test_three" in r.stdout
    assert "test_one" not in r.stdout
    assert r.stdout.splitlines()[-1] == "upy: 1 passed, 0 failed, 0 skipped"


# --- the MicroPython tier is real -----------------------------------------------------------


def test_cpython_only_import_fails_under_micropython(tmp_path):
    write(tmp_path / "tests", "test_dc.py", """
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int
            y: int

        def test_point():
            assert Point(1, 2).y == 2
    """)
    cp = run_pytest(tmp_path)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    r = run_runner(tmp_path)
    assert r.returncode == 1
    assert "FAIL tests/test_dc.py (import)" in r.stdout
    assert "no module named 'dataclasses'" in r.stdout
    assert r.stdout.splitlines()[-1] == "upy: 0 passed, 1 failed, 0 skipped"


def test_cpython_only_methods_in_firmware_fail_under_micropython(tmp_path):
    write(tmp_path / "fw", "bits.py", """
        def ones(mask):
            return mask.bit_count()

        def topic(name):
            return name.removeprefix("railbot/")
    """)
    write(tmp_path / "tests", "test_bits.py", """
        import bits

        def test_ones():
            assert bits.ones(0b1011) == 3

        def test_topic():
            assert bits.topic("railbot/status") == "status"
    """)
    cp = run_pytest(tmp_path)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    r = run_runner(tmp_path)
    assert r.returncode == 1
    assert "FAIL tests/test_bits.py::test_ones" in r.stdout
    assert "FAIL tests/test_bits.py::test_topic" in r.stdout
    assert "'int' object has no attribute 'bit_count'" in r.stdout
    assert "'str' object has no attribute 'removeprefix'" in r.stdout
    assert r.stdout.splitlines()[-1] == "upy: 0 passed, 2 failed, 0 skipped"


# --- the harness contract other tools rely on -----------------------------------------------


def test_harness_exit_codes_and_output(tmp_path):
    ok = upy.run("import sys\nprint(sys.argv)\nprint('tail', end='')", args=["a b"], capture=True,
                 timeout=TIMEOUT)
    assert ok.returncode == 0
    assert ok.stdout == "['-c', 'a b']\ntail"  # a last line without newline is not lost

    assert upy.run("import sys; sys.exit(3)", capture=True, timeout=TIMEOUT).returncode == 3
    assert upy.run("raise SystemExit", capture=True, timeout=TIMEOUT).returncode == 0

    boom = upy.run("def f():\n    1/0\nf()", capture=True, timeout=TIMEOUT)
    assert boom.returncode == 1
    assert boom.stderr.startswith("Traceback (most recent call last):")
    assert "__harness" not in boom.stderr
    assert boom.stderr.rstrip().endswith("ZeroDivisionError: divide by zero")

    big = upy.run("for i in range(20000): print(i)", capture=True, timeout=TIMEOUT)
    assert big.returncode == 0
    assert big.stdout.splitlines() == [str(i) for i in range(20000)]


def test_harness_mounts_keep_bytes_and_skip_junk(tmp_path):
    src = tmp_path / "src"
    write(src / "pkg", "__init__.py", "NAME = 'pkg'\n")
    (src / "pkg" / "blob.mpy").write_bytes(bytes(range(256)))
    write(src / "__pycache__", "x.py", "")
    write(src / ".hidden", "x.py", "")
    write(src, "notes.md", "")
    r = upy.run(
        "import os, pkg\n"
        "print(pkg.NAME, sorted(os.listdir('/s')), sorted(os.listdir('/s/pkg')))\n"
        "print(open('/s/pkg/blob.mpy', 'rb').read() == bytes(range(256)))",
        mounts={src: "/s"},
        paths=["/s"],
        capture=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["pkg ['pkg'] ['__init__.py', 'blob.mpy']", "True"]


def test_run_firmware_tests_prints_exclusions_and_parses_summary(tmp_path, capsys):
    tests = tmp_path / "tests" / "firmware"
    write(tests, "test_x.py", "def test_a():\n    pass\n\ndef test_b():\n    assert 0\n")
    excl = write(tmp_path, "excl.txt", "tests/firmware/test_x.py::test_b  # fails on purpose\n")
    rc, passed, failed, skipped = upy.run_firmware_tests(excl, tests_dir=tests, timeout=TIMEOUT)
    out = capsys.readouterr().out
    assert (rc, passed, failed, skipped) == (0, 1, 0, 1), out
    lines = out.splitlines()
    assert lines[0].startswith("upy: 1 excluded from the MicroPython tier")
    assert lines[1] == "  tests/firmware/test_x.py::test_b  # fails on purpose"
    assert "PASS tests/firmware/test_x.py::test_a" in lines
    assert lines[-1] == "upy: 1 passed, 0 failed, 1 skipped"


def test_a_cpython_only_construct_in_the_real_firmware_fails_the_micropython_tier(tmp_path):
    """Mutate a copy of the shipped firmware with a CPython-only method: pytest passes, MicroPython fails."""
    import shutil as _shutil
    import subprocess

    for d in ("firmware", "boards", "tests"):
        _shutil.copytree(upy.REPO_ROOT / d, tmp_path / d, ignore=_shutil.ignore_patterns("__pycache__"))
    ledger = tmp_path / "firmware" / "railbot" / "ledger.py"
    src = ledger.read_text()
    assert "names[p]," in src
    ledger.write_text(src.replace("names[p],", 'names[p].removeprefix(""),'))  # a no-op on CPython 3.9+
    test_id = "test_status_alarms_ledger_help"
    cpy = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/firmware/test_commands.py::{test_id}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert cpy.returncode == 0, cpy.stdout + cpy.stderr
    mounts, paths = upy.repo_mounts(tmp_path)
    r = upy.run(upy.RUNNER, mounts=mounts, paths=paths, capture=True, timeout=TIMEOUT,
                args=["/repo/tests/firmware", "--root", "/repo", "-k", test_id])
    assert r.returncode == 1, r.stdout
    assert f"FAIL tests/firmware/test_commands.py::{test_id}" in r.stdout
    assert "'str' object has no attribute 'removeprefix'" in r.stdout


# --- the tier as `make test` runs it: sharded, equivalent to the CPython tier, no stale exclusion -----

def _tier(tmp_path, modules, exclusions=""):
    """testrun.run_micropython (UPY_SHARDS runners) on tmp_path/tests/firmware holding `modules`."""
    import io

    from railbot_host import testrun

    tests = tmp_path / "tests" / "firmware"
    for name, text in modules.items():
        write(tests, name, text)
    excl = write(tmp_path, "excl.txt", exclusions or "# none\n")
    buf = io.StringIO()
    res = testrun.run_micropython(None, buf, tests_dir=tests, exclude_file=excl)
    return res, buf.getvalue()


MODULES = {
    "test_x.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
    "test_y.py": "def test_c():\n    pass\n",
    "test_z.py": "def test_d():\n    pass\n\ndef test_e():\n    pass\n",
}


def test_the_tier_prints_and_asserts_it_ran_what_cpython_collected(tmp_path):
    from railbot_host import testrun

    assert testrun.UPY_SHARDS > 1  # the check is over the shards together
    res, out = _tier(tmp_path, MODULES, "tests/firmware/test_z.py::test_e  # excluded on purpose\n")
    assert res.ok, out
    assert "tier equivalence: CPython collected 5 tests, MicroPython passed, failed or skipped 5 of them: " \
           "the same tests" in out
    assert res.counts == "4 passed, 0 failed, 1 skipped"


def test_a_test_only_cpython_defines_fails_the_tier(tmp_path):
    only_cpython = ("import sys\n\ndef test_f():\n    pass\n\nif sys.implementation.name == 'cpython':\n"
                    "    def test_only_here():\n        pass\n")
    res, out = _tier(tmp_path, {**MODULES, "test_w.py": only_cpython})
    assert not res.ok and "(CPython collected 7)" in res.counts, out
    assert "MicroPython passed, failed or skipped 6 of them: NOT the same tests" in out
    assert "  only under CPython: test_w.py::test_only_here" in out


def test_a_stale_exclusion_fails_the_sharded_tier(tmp_path):
    res, out = _tier(tmp_path, MODULES, "tests/firmware/test_y.py::test_gone  # renamed long ago\n"
                                        "tests/firmware/test_x.py  # the whole module, in use\n")
    assert "upy: stale exclusion, no such test: tests/firmware/test_y.py::test_gone" in out
    assert not res.ok and "1 stale exclusion" in res.counts, out
    assert "CPython collected 5 tests, MicroPython passed, failed or skipped 5 of them: the same tests" in out
