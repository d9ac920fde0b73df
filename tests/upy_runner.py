# Tier-2 test runner: runs INSIDE MicroPython (the WebAssembly port, via host_tools/upy/harness.mjs;
# it also runs on a board or under CPython). Written in the MicroPython subset: no pathlib, no
# os.path, no traceback module (sys.print_exception instead).
#
# usage: upy_runner.py TESTS_DIR [--exclude FILE] [-k SUBSTRING] [--root FSDIR] [--shard I/N]
#                      [--modules test_a,test_b]
#
#   TESTS_DIR  directory holding test_*.py (plain `def test_*():` functions using assert). It is
#              put on sys.path; each module is imported and its test_* callables are run in name
#              order (MicroPython's dir() order is arbitrary), with gc.collect() between tests;
#              a module is dropped from sys.modules once its tests ran (a board holds one at a time).
#   --exclude  exclusion list: one id per line, `tests/firmware/test_x.py::test_y  # reason`;
#              an id without `::test_...` excludes the whole module (it is then not imported).
#              `#` comments and blank lines are ignored.
#   -k         run only the ids containing SUBSTRING (others are deselected, not skipped).
#   --modules  import only these test modules (a board's heap does not hold every module's
#              imports); others are not counted at all.
#   --root     ids are file paths relative to this FS dir (default /repo), so an id reads the same
#              as pytest's: tests/firmware/test_x.py::test_y.
#
# Before importing any test module it calls simboard.install() if the package `simboard` is
# importable (it puts the simulated machine, rp2, time and asyncio into sys.modules).
#
# Output, one line per test, then a plain closing line:
#   PASS <id>
#   FAIL <id>                      followed by the exception (sys.print_exception)
#   FAIL <module id> (import)      a module that failed to import counts as one failure
#   SKIP <id> (excluded)
#   upy: N passed, N failed, N skipped
# A test that leaves micropython.heap_lock() held fails (the runner unlocks the heap after every
# test: a traceback printed under a locked heap can hang the interpreter).
# Exit status: 1 if anything failed, 2 on a usage error, else 0.

import gc
import os
import sys


def _print_exception(e):
    """Print the exception to stdout (in line with PASS/FAIL), without this runner's frames."""
    if hasattr(sys, "print_exception"):  # MicroPython: tracebacks have no source lines
        try:
            import io

            buf = io.StringIO()
            sys.print_exception(e, buf)
            mine = 'upy_runner.py", line '
            lines = [l for l in buf.getvalue().split("\n") if mine not in l]
            if len(lines) > 1 and lines[0].startswith("Traceback") and not lines[1].startswith(" "):
                lines = lines[1:]  # no frames left but ours
            print("\n".join(lines), end="")
        except MemoryError:
            sys.print_exception(e)
    else:  # CPython
        import traceback

        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb, file=sys.stdout)


def _usage(msg):
    print("upy_runner: " + msg)
    print("usage: upy_runner.py TESTS_DIR [--exclude FILE] [-k SUBSTRING] [--root FSDIR] [--shard I/N] "
          "[--modules test_a,test_b]")
    sys.exit(2)


def _parse_args(argv):
    opts = {"dir": None, "exclude": None, "k": None, "root": "/repo", "shard": "0/1", "modules": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--exclude", "-k", "--root", "--shard", "--modules"):
            if i + 1 >= len(argv):
                _usage(a + " needs a value")
            opts[a.lstrip("-")] = argv[i + 1]
            i += 2
        elif a.startswith("-"):
            _usage("unknown option " + a)
        elif opts["dir"] is None:
            opts["dir"] = a
            i += 1
        else:
            _usage("unexpected argument " + a)
    if opts["dir"] is None:
        _usage("no TESTS_DIR given")
    return opts


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def read_exclusions(path):
    """Ordered list of (id, reason) from an exclusion file."""
    entries = []
    with open(path) as f:
        for line in f:
            reason = ""
            if "#" in line:
                line, reason = line.split("#", 1)
            line = line.strip()
            if line:
                entries.append((line, reason.strip()))
    return entries


def _module_id(tests_dir, root, filename):
    d = tests_dir.rstrip("/")
    r = root.rstrip("/") + "/"
    if d.startswith(r):
        d = d[len(r):]
    else:
        d = d.lstrip("/")
    return (d + "/" if d else "") + filename


def _collect(mod):
    names = []
    for name in dir(mod):
        if name.startswith("test_"):
            obj = getattr(mod, name)
            if callable(obj) and not isinstance(obj, type):
                names.append(name)
    names.sort()
    return names


def _install_simboard():
    """Install the simulated board if there is one. Returns 'installed', 'absent' or 'failed'."""
    try:
        import simboard
    except ImportError as e:
        msg = str(e.args[0] if e.args else e).lower()
        if msg == "no module named 'simboard'":
            return "absent"
        print("FAIL simboard (import)")
        _print_exception(e)
        return "failed"
    except Exception as e:
        print("FAIL simboard (import)")
        _print_exception(e)
        return "failed"
    try:
        simboard.install()
    except Exception as e:
        print("FAIL simboard.install()")
        _print_exception(e)
        return "failed"
    return "installed"


def _unlock_heap():
    # A test that fails inside micropython.heap_lock() leaves the heap locked, and printing a
    # traceback under a locked heap can hang the interpreter. heap_unlock() returns the new depth
    # (and wraps below 0), so read the depth with a balanced lock/unlock first.
    # Returns the lock depth found (0: the heap was not locked).
    if sys.implementation.name != "micropython":
        return 0
    try:
        import micropython

        micropython.heap_lock()
        depth = d = micropython.heap_unlock()
        while d > 0:
            d = micropython.heap_unlock()
        return depth
    except Exception:
        return 0


class HeapLeftLocked(Exception):
    pass


def _run_one(func):
    """(None, False) if the test passed, else (the exception, whether the heap was locked)."""
    try:
        r = func()
        depth = _unlock_heap()
        if depth:
            raise HeapLeftLocked("the test left micropython.heap_lock() held (depth %d)" % depth)
        if r is not None and type(r).__name__ in ("generator", "coroutine"):
            # An `async def test_*` would otherwise "pass" without running.
            if hasattr(r, "close"):
                r.close()
            raise TypeError("test returned a %s: async tests are not supported" % type(r).__name__)
    except KeyboardInterrupt:
        raise
    except HeapLeftLocked as e:
        return e, False
    except BaseException as e:  # SystemExit from a test is a failure, as in pytest
        return e, _unlock_heap() > 0
    return None, False


def main(argv):
    opts = _parse_args(argv)
    tests_dir = opts["dir"].rstrip("/") or "/"
    k = opts["k"]
    if not _is_dir(tests_dir):
        _usage("not a directory: " + tests_dir)
    excluded = []
    if opts["exclude"] is not None:
        try:
            excluded = read_exclusions(opts["exclude"])
        except OSError as e:
            _usage("cannot read exclusion file %s (%s)" % (opts["exclude"], e))
    excluded_ids = {}
    for eid, reason in excluded:
        excluded_ids[eid] = reason
    used = {}

    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)

    passed = failed = skipped = deselected = 0
    broken = []  # "<module id>::" of modules that failed to import

    state = _install_simboard()
    if state == "failed":
        failed += 1
    elif state == "absent":
        print("upy: note: no simboard package on sys.path; running without the simulated board")

    files = sorted(
        n for n in os.listdir(tests_dir) if n.startswith("test_") and n.endswith(".py")
    )
    try:  # --shard I/N: every N-th module from the I-th (0-based), for N runners side by side
        shard, shards = [int(x) for x in opts["shard"].split("/")]
        if not 0 <= shard < shards:
            raise ValueError
    except ValueError:
        _usage("--shard takes I/N with 0 <= I < N, got " + opts["shard"])
    files = files[shard::shards]
    if opts["modules"] is not None:
        wanted = [m if m.endswith(".py") else m + ".py" for m in opts["modules"].split(",") if m]
        for m in wanted:
            if m not in files:
                _usage("--modules: no test module %s in %s" % (m, tests_dir))
        files = [f for f in files if f in wanted]
    for fn in files:
        mid = _module_id(tests_dir, opts["root"], fn)
        if mid in excluded_ids:
            used[mid] = True
            if k is None or k in mid:
                print("SKIP %s (excluded)" % mid)
                skipped += 1
            else:
                deselected += 1
            continue
        modname = fn[:-3]
        try:
            mod = __import__(modname)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            _unlock_heap()
            print("FAIL %s (import)" % mid)
            _print_exception(e)
            failed += 1
            broken.append(mid + "::")
            gc.collect()
            continue
        for name in _collect(mod):
            tid = mid + "::" + name
            if k is not None and k not in tid:
                deselected += 1
                if tid in excluded_ids:
                    used[tid] = True
                continue
            if tid in excluded_ids:
                used[tid] = True
                print("SKIP %s (excluded)" % tid)
                skipped += 1
                continue
            err, locked = _run_one(getattr(mod, name))
            if err is None:
                print("PASS " + tid)
                passed += 1
            else:
                print("FAIL " + tid)
                if locked:
                    print("(raised while micropython.heap_lock() was held: no traceback recorded)")
                _print_exception(err)
                failed += 1
            err = None
            gc.collect()
        # A board's heap holds one test module at a time: forget this one before the next.
        mod = None
        sys.modules.pop(modname, None)
        gc.collect()

    if k is None and shards == 1 and opts["modules"] is None:  # (a part does not see the others)
        for eid, reason in excluded:
            if eid not in used and not [b for b in broken if eid.startswith(b)]:
                print("upy: warning: stale exclusion, no such test: " + eid)
    if deselected:
        print("upy: %d deselected by -k %s" % (deselected, k))
    print("upy: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
