"""Real MicroPython on this machine: the official WebAssembly port, run by Node.js.

`host_tools/upy/harness.mjs` boots the interpreter, copies host folders into its file system and
runs a script; this module wraps it for the host tools (tier-2 tests, later the virtual board
and benchmarks)::

    from railbot_host import upy
    mounts, paths = upy.repo_mounts()
    upy.run("import railbot; print(railbot)", mounts=mounts, paths=paths)
    rc, passed, failed, skipped = upy.run_firmware_tests(k="crc")
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parents[2]
UPY_DIR = REPO_ROOT / "host_tools" / "upy"
HARNESS = UPY_DIR / "harness.mjs"
RUNNER = REPO_ROOT / "tests" / "upy_runner.py"
EXCLUDE_FILE = REPO_ROOT / "tests" / "upy_exclude.txt"
FIRMWARE_TESTS = REPO_ROOT / "tests" / "firmware"

#: Where the repo appears inside the interpreter's file system.
FS_ROOT = "/repo"
#: Initial MicroPython heap. The port grows its heap on demand, so this is not a board's limit.
DEFAULT_HEAP = 8 * 1024 * 1024

_PACKAGE_ENTRY = (
    UPY_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
)
_SUMMARY = re.compile(r"^upy: (\d+) passed, (\d+) failed, (\d+) skipped\s*$")
#: One runner line per test: PASS id, FAIL id, FAIL module-id (import), SKIP id (excluded).
RESULT_LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+)( \((?:import|excluded)\))?\s*$")

MountSpec = Mapping[str | os.PathLike, str] | Iterable[tuple[str | os.PathLike, str]]


class UpyUnavailable(RuntimeError):
    """Node.js, npm or the MicroPython package is missing or cannot be installed."""


def node_path() -> str | None:
    """The `node` executable on PATH, or None."""
    return shutil.which("node")


def _require_node() -> str:
    node = node_path()
    if node is None:
        raise UpyUnavailable(
            "`node` is not on PATH: the MicroPython tier runs MicroPython's WebAssembly port "
            "under Node.js (version 18 or later). Install Node.js, or run only the CPython tier."
        )
    return node


@contextmanager
def _install_lock(pkg_dir: Path = UPY_DIR):
    """Serialise concurrent `npm ci` runs (e.g. parallel test workers) on this machine."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    key = hashlib.sha1(str(pkg_dir).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"railbot-upy-npm-{key}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _npm_current(pkg_dir: Path, entry: Path) -> bool:
    stamp = pkg_dir / "node_modules" / ".installed"  # the Makefile's stamp, so both agree
    if not (entry.is_file() and stamp.is_file()):
        return False
    newest_spec = max((pkg_dir / n).stat().st_mtime for n in ("package.json", "package-lock.json"))
    return stamp.stat().st_mtime >= newest_spec


def ensure_npm(pkg_dir: Path = UPY_DIR, entry: Path = _PACKAGE_ENTRY) -> None:
    """Make sure `pkg_dir`/node_modules (host_tools/upy by default) is installed and current
    (`npm ci` if not); `entry` is a file the package must provide.

    Raises UpyUnavailable with a clear message if node or npm is missing or npm fails.
    """
    _require_node()
    if _npm_current(pkg_dir, entry):
        return
    with _install_lock(pkg_dir):
        if _npm_current(pkg_dir, entry):  # another process installed it while we waited
            return
        npm = shutil.which("npm")
        if npm is None:
            raise UpyUnavailable(
                f"`npm` is not on PATH, and {pkg_dir.relative_to(REPO_ROOT)}/node_modules is "
                "missing or older than package-lock.json. Install npm (it comes with Node.js) "
                "or run `make npm` where it is available."
            )
        print(f"upy: npm ci in {pkg_dir.relative_to(REPO_ROOT)}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=pkg_dir,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not entry.is_file():
            raise UpyUnavailable(
                f"`npm ci` in {pkg_dir} failed (exit {proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}".rstrip()
            )
        (pkg_dir / "node_modules" / ".installed").touch()


def _mount_pairs(mounts: MountSpec) -> list[tuple[Path, str]]:
    items = mounts.items() if isinstance(mounts, Mapping) else mounts
    pairs = []
    for host, fs in items:
        if not str(fs).startswith("/"):
            raise ValueError(f"mount target must be an absolute FS path, got {fs!r}")
        pairs.append((Path(host).resolve(), str(fs)))
    return pairs


def _is_script(script_or_code: str | os.PathLike) -> bool:
    if isinstance(script_or_code, os.PathLike):
        return True
    s = str(script_or_code)
    return "\n" not in s and len(s) < 4096 and os.path.isfile(s)


def harness_command(
    script_or_code: str | os.PathLike,
    *,
    mounts: MountSpec = (),
    paths: Sequence[str] = (),
    args: Sequence[str | os.PathLike] = (),
    heap: int = DEFAULT_HEAP,
    cwd: str | None = None,
) -> list[str]:
    """The `node harness.mjs ...` command line that run() executes."""
    cmd = [_require_node(), str(HARNESS), "--heap", str(int(heap))]
    for host, fs in _mount_pairs(mounts):
        cmd += ["--mount", f"{host}:{fs}"]
    for p in paths:
        cmd += ["--path", str(p)]
    if cwd is not None:
        cmd += ["--cwd", cwd]
    if _is_script(script_or_code):
        cmd += ["--", str(script_or_code)]
    else:
        cmd += ["--code", str(script_or_code)]
    cmd += [str(a) for a in args]
    return cmd


def run(
    script_or_code: str | os.PathLike,
    *,
    mounts: MountSpec = (),
    paths: Sequence[str] = (),
    args: Sequence[str | os.PathLike] = (),
    heap: int = DEFAULT_HEAP,
    cwd: str | None = None,
    capture: bool = False,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run a script or a code string under MicroPython.

    script_or_code: a Path (or a str naming an existing file) is a host script; any other str is
    Python source. mounts: {host_dir: fs_dir} or [(host_dir, fs_dir), ...] copied into the
    interpreter's file system. paths: FS dirs prepended to sys.path. args: sys.argv[1:].
    Returns the CompletedProcess: returncode 0 = finished, 1 = raised (traceback on stderr),
    n = sys.exit(n), 2 = harness error. capture=True gives .stdout/.stderr as text.
    """
    ensure_npm()
    cmd = harness_command(
        script_or_code, mounts=mounts, paths=paths, args=args, heap=heap, cwd=cwd
    )
    return subprocess.run(
        cmd,
        capture_output=capture,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def repo_mounts(root: Path = REPO_ROOT) -> tuple[list[tuple[Path, str]], list[str]]:
    """The standard (mounts, sys.path) for running firmware code: the repo's firmware, boards and
    tests dirs at /repo/..., and sys.path = firmware root, the SIM board, the firmware tests."""
    mounts = [(root / d, f"{FS_ROOT}/{d}") for d in ("firmware", "boards", "tests")]
    paths = [f"{FS_ROOT}/firmware", f"{FS_ROOT}/boards/SIM", f"{FS_ROOT}/tests/firmware"]
    return mounts, paths


def read_exclusions(exclude_file: str | os.PathLike) -> list[tuple[str, str]]:
    """[(test id, reason), ...] from an exclusion file (same rules as tests/upy_runner.py)."""
    entries = []
    for line in Path(exclude_file).read_text(encoding="utf-8").splitlines():
        line, _, reason = line.partition("#")
        if line.strip():
            entries.append((line.strip(), reason.strip()))
    return entries


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def run_firmware_tests(
    exclude_file: str | os.PathLike | None = EXCLUDE_FILE,
    k: str | None = None,
    *,
    tests_dir: str | os.PathLike = FIRMWARE_TESTS,
    heap: int = DEFAULT_HEAP,
    timeout: float | None = None,
    out: TextIO | None = None,
    shard: tuple[int, int] = (0, 1),
    seen: list[tuple[str, str, str]] | None = None,
) -> tuple[int, int, int, int]:
    """Run tests/firmware under real MicroPython; stream the runner's output to `out` (stdout).

    Prints the exclusion list first, then one PASS/FAIL/SKIP line per test and the runner's
    closing line. Returns (returncode, passed, failed, skipped); returncode is 0 only if the
    runner finished with a summary line and nothing failed. `seen`, if given, gets one
    (PASS|FAIL|SKIP, id, "" or "(import)" or "(excluded)") per runner result line.
    """
    out = out or sys.stdout
    ensure_npm()

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    mounts, paths = repo_mounts()
    tests_dir = Path(tests_dir).resolve()
    try:
        rel = tests_dir.relative_to(REPO_ROOT)
    except ValueError:
        rel = None
    if rel is not None and rel.parts[:1] in (("firmware",), ("boards",), ("tests",)):
        fs_tests, root = f"{FS_ROOT}/{rel.as_posix()}", FS_ROOT
    else:  # a folder outside the repo (e.g. a temp dir): ids start with its last two names
        fs_tests, root = f"/ext/{tests_dir.parent.name or 'x'}/{tests_dir.name}", "/ext"
        mounts.append((tests_dir, fs_tests))
        paths.insert(0, fs_tests)  # its own helper modules win over the repo's

    runner_args: list[str] = [fs_tests, "--root", root]
    if exclude_file is not None:
        exclude_file = Path(exclude_file)
        entries = read_exclusions(exclude_file)
        if entries:
            say(f"upy: {len(entries)} excluded from the MicroPython tier ({_display(exclude_file)}):")
            for tid, reason in entries:
                say(f"  {tid}" + (f"  # {reason}" if reason else "  # (no reason given)"))
        else:
            say(f"upy: no exclusions ({_display(exclude_file)})")
        mounts.append((exclude_file, "/run/upy_exclude.txt"))
        runner_args += ["--exclude", "/run/upy_exclude.txt"]
    if k:
        runner_args += ["-k", k]
    if shard != (0, 1):
        runner_args += ["--shard", "%d/%d" % shard]

    cmd = harness_command(RUNNER, mounts=mounts, paths=paths, args=runner_args, heap=heap)
    summary = None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            say(line)
            m = _SUMMARY.match(line)
            if m:
                summary = tuple(int(x) for x in m.groups())
            r = RESULT_LINE.match(line)
            if r and seen is not None:
                seen.append((r.group(1), r.group(2), (r.group(3) or "").strip()))
        rc = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    if summary is None:
        say(f"upy: the runner ended without a summary line (exit {rc})")
        return (rc or 1, 0, 0, 0)
    passed, failed, skipped = summary
    if failed and rc == 0:
        rc = 1
    return (rc, passed, failed, skipped)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m railbot_host.upy [-k SUBSTRING]`: the MicroPython tier on its own."""
    ap = argparse.ArgumentParser(prog="python -m railbot_host.upy", description=main.__doc__)
    ap.add_argument("-k", help="run only test ids containing this substring")
    ap.add_argument("--exclude", default=str(EXCLUDE_FILE), help="exclusion list")
    ap.add_argument("--tests-dir", default=str(FIRMWARE_TESTS))
    ns = ap.parse_args(argv)
    try:
        rc, *_ = run_firmware_tests(ns.exclude, ns.k, tests_dir=ns.tests_dir)
    except UpyUnavailable as e:
        print(f"upy: {e}", file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
