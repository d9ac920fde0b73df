"""`railbot test`: every tier that runs here: pytest, MicroPython, and the mission log on both interpreters."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from railbot_host import upy
from railbot_host.upy import REPO_ROOT

MISSION = REPO_ROOT / "tests" / "mission_log.py"
# The seeded log committed before the robot was split into parts (issue 14): the split must keep it
# byte for byte. Regenerate (`python tests/mission_log.py > tests/mission_log.expected`) only in a
# commit that changes the robot's behaviour on purpose, and say so there.
MISSION_EXPECTED = REPO_ROOT / "tests" / "mission_log.expected"
OUT = REPO_ROOT / "build" / "test"
TIERS = ("cpython", "micropython", "mission")
MISSION_TIMEOUT_S = 300
SHOW_DIFFS = 5

_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)\b")


@dataclass
class Result:
    tier: str
    ok: bool
    counts: str
    seconds: float = 0.0


def _say(line: str = "") -> None:
    print(line, flush=True)


def _banner(title: str) -> None:
    _say()
    _say(f"=== {title} " + "=" * max(3, 72 - len(title)))


# --- tier 1: CPython -----------------------------------------------------------------------------

def run_pytest(k: str | None) -> Result:
    """pytest over tests/ in a subprocess, output streamed; exit 5 (nothing collected) fails."""
    cmd = [sys.executable, "-m", "pytest", "tests"] + (["-k", k] if k else [])
    t0 = time.monotonic()
    last = ""
    with subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if _PYTEST_COUNT.search(line) or line.startswith("no tests ran"):
                last = line
        rc = proc.wait()
    sys.stdout.flush()
    n = {word: 0 for word in ("passed", "failed", "skipped", "error")}
    for num, word in _PYTEST_COUNT.findall(last):
        word = "error" if word.startswith("error") else word
        if word in n:
            n[word] += int(num)
    counts = f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped"
    if n["error"]:
        counts += f", {n['error']} errors"
    if rc == 5:
        counts += " (no tests collected)"
    elif rc not in (0, 1):
        counts += f" (pytest exit {rc})"
    return Result("cpython", rc == 0, counts, time.monotonic() - t0)


# --- tier 2: MicroPython -------------------------------------------------------------------------

UPY_SHARDS = 2  # MicroPython runners side by side (the tier is the longest; CI has 2 cores)


def run_micropython(k: str | None, out=None, *, tests_dir: Path = upy.FIRMWARE_TESTS,
                    exclude_file: Path | None = upy.EXCLUDE_FILE) -> Result:
    """The MicroPython tier in UPY_SHARDS runners side by side (every N-th test module each); their
    output is shown shard by shard, to `out` (default stdout), once all have ended. Without -k the
    tier then shows it ran what the CPython tier collects (tier_equivalence) and that no exclusion
    is stale, over all the shards together; either failing fails the tier."""
    t0 = time.monotonic()
    outs = [io.StringIO() for _ in range(UPY_SHARDS)]
    seen: list[list[tuple[str, str, str]]] = [[] for _ in range(UPY_SHARDS)]
    try:
        upy.ensure_npm()  # once, before the runners start
        with ThreadPoolExecutor(max_workers=UPY_SHARDS) as pool:
            runs = [pool.submit(upy.run_firmware_tests, exclude_file, k=k, tests_dir=tests_dir, out=outs[i],
                                shard=(i, UPY_SHARDS), seen=seen[i])
                    for i in range(UPY_SHARDS)]
            collected = cpython_collected(tests_dir) if not k else None
            results = [r.result() for r in runs]
    except upy.UpyUnavailable as e:
        _say(f"upy: {e}")
        return Result("micropython", False, "not run: MicroPython unavailable", time.monotonic() - t0)
    w = out or sys.stdout
    for o in outs:
        w.write(o.getvalue())
    rc = max(r[0] for r in results)
    passed, failed, skipped = (sum(r[i] for r in results) for i in (1, 2, 3))
    counts = f"{passed} passed, {failed} failed, {skipped} skipped"
    if rc and not failed:
        counts += f" (runner exit {rc})"
    ok = rc == 0
    if collected is not None:
        lines = [x for s in seen for x in s]
        entries = upy.read_exclusions(exclude_file) if exclude_file is not None else []
        same, report = tier_equivalence(collected, lines)
        stale = stale_exclusions(entries, lines)
        for line in report + [f"upy: stale exclusion, no such test: {e}" for e in stale]:
            w.write(line + "\n")
        if not same:
            counts += f" (CPython collected {len(collected)})"
        if stale:
            counts += f" ({len(stale)} stale exclusion{'s' if len(stale) > 1 else ''})"
        ok = ok and same and not stale
    else:
        w.write("tier equivalence and stale exclusions: not checked (-k selects a part of the tier)\n")
    return Result("micropython", ok, counts, time.monotonic() - t0)


def cpython_collected(tests_dir: Path = upy.FIRMWARE_TESTS) -> list[str] | None:
    """The test ids pytest collects in tests_dir (`pytest --collect-only`), or None if it could not."""
    tests_dir = Path(tests_dir).resolve()
    cwd = REPO_ROOT if tests_dir.is_relative_to(REPO_ROOT) else tests_dir.parent
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p",
                        "no:cacheprovider", f"--rootdir={cwd}", str(tests_dir)],
                       cwd=cwd, capture_output=True, text=True, errors="replace")
    if p.returncode != 0:
        _say(f"tier equivalence: pytest --collect-only {_shown(tests_dir)} failed (exit {p.returncode}):")
        _say("\n".join(p.stdout.strip().splitlines()[-10:]))
        return None
    return [line.strip() for line in p.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def _key(test_id: str) -> str:
    """`test_x.py::test_y` of an id, whatever folder the tier names it from."""
    path, _, name = test_id.partition("::")
    return path.rsplit("/", 1)[-1] + ("::" + name if name else "")


def tier_equivalence(collected: list[str] | None, lines: list[tuple[str, str, str]]) -> tuple[bool, list[str]]:
    """(same, lines to print): the MicroPython runner's results (upy.RESULT_LINE triples) cover
    exactly the tests pytest collected: each collected test passed, failed or was skipped under
    MicroPython (a module excluded whole, or that failed to import, covers all of its tests), and
    MicroPython ran none that CPython does not collect."""
    if collected is None:
        return False, ["tier equivalence: not shown, the CPython tier's collection failed"]
    cp = {_key(t) for t in collected}
    upy_tests = {_key(t) for _, t, _ in lines if "::" in t}
    whole = {_key(t) for _, t, how in lines if "::" not in t and how in ("(excluded)", "(import)")}
    covered = upy_tests | {t for t in cp if t.split("::")[0] in whole}
    missing = sorted(cp - covered)
    extra = sorted(upy_tests - cp)
    n_upy = len(covered & cp) + len(extra)
    head = (f"tier equivalence: CPython collected {len(cp)} tests, MicroPython passed, failed or skipped "
            f"{n_upy} of them")
    if not missing and not extra:
        return True, [head + ": the same tests"]
    out = [head + ": NOT the same tests"]
    out += [f"  only under CPython: {t}" for t in missing[:10]] + (["  ..."] if len(missing) > 10 else [])
    out += [f"  only under MicroPython: {t}" for t in extra[:10]] + (["  ..."] if len(extra) > 10 else [])
    return False, out


def stale_exclusions(entries: list[tuple[str, str]], lines: list[tuple[str, str, str]]) -> list[str]:
    """Exclusion ids that matched no test in any shard (a module that failed to import keeps its own)."""
    used = {t for status, t, how in lines if status == "SKIP" and how == "(excluded)"}
    broken = [t + "::" for status, t, how in lines if how == "(import)"]
    return [eid for eid, _ in entries if eid not in used and not [b for b in broken if eid.startswith(b)]]


# --- tier 3: the mission log, CPython vs MicroPython --------------------------------------------

def mission_logs() -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess, float]:
    """Run tests/mission_log.py under CPython and under MicroPython: both outputs, and the seconds."""
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, str(MISSION)], cwd=REPO_ROOT, capture_output=True,
                        text=True, timeout=MISSION_TIMEOUT_S)
    mounts, paths = upy.repo_mounts()
    mp = upy.run(MISSION, mounts=mounts, paths=paths, capture=True, timeout=MISSION_TIMEOUT_S)
    return cp, mp, time.monotonic() - t0


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _differing_lines(a: list[str], b: list[str]) -> list[int]:
    """Indexes where two logs' lines differ (a line missing on one side differs)."""
    return [i for i in range(max(len(a), len(b))) if (a[i] if i < len(a) else None) != (b[i] if i < len(b) else None)]


def _show_lines(differ: list[int], *sides: tuple[str, list[str]]) -> None:
    """Print the first SHOW_DIFFS differing lines, each side under its label."""
    for i in differ[:SHOW_DIFFS]:
        _say(f"  line {i + 1}:")
        for label, lines in sides:
            _say(f"    {label} {lines[i] if i < len(lines) else '<missing>'}")
    if len(differ) > SHOW_DIFFS:
        _say(f"  ... and {len(differ) - SHOW_DIFFS} more")


def compare_missions(cp: subprocess.CompletedProcess, mp: subprocess.CompletedProcess,
                     seconds: float = 0.0, out_dir: Path = OUT, expected: Path | None = None) -> Result:
    """Write both logs to out_dir, print where they differ; ok if both ran and match byte for byte,
    and, given `expected`, the CPython log is that file byte for byte too."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, proc in (("cpython", cp), ("micropython", mp)):
        files[name] = out_dir / f"mission_{name}.jsonl"
        files[name].write_text(proc.stdout, encoding="utf-8")
        if proc.returncode != 0:
            _say(f"mission under {name} failed (exit {proc.returncode}):")
            _say(proc.stderr.rstrip())
    a, b = cp.stdout.splitlines(), mp.stdout.splitlines()
    differ = _differing_lines(a, b)
    _say(f"mission log: {len(a)} lines under CPython, {len(b)} under MicroPython, "
         f"{len(differ)} differ  ({_shown(files['cpython'])}, {_shown(files['micropython'])})")
    _show_lines(differ, ("cpython:    ", a), ("micropython:", b))
    ran = cp.returncode == 0 and mp.returncode == 0 and bool(a)
    counts = f"{len(a)} lines, {len(differ)} differ"
    if not ran:
        counts += " (a run failed or printed nothing)"
    same_as_expected = True
    if expected is not None:
        want = expected.read_text(encoding="utf-8") if expected.is_file() else None
        if want is None:
            same_as_expected = False
            _say(f"mission log: {_shown(expected)} is missing")
        elif want != cp.stdout:
            same_as_expected = False
            w = want.splitlines()
            moved = _differing_lines(a, w)
            _say(f"mission log: {len(moved)} lines differ from {_shown(expected)} (the behaviour changed; "
                 f"regenerate it only for a change made on purpose)")
            _show_lines(moved, ("expected:", w), ("now:     ", a))
            counts += f", {len(moved)} differ from the committed log"
    return Result("mission log", ran and not differ and cp.stdout == mp.stdout and same_as_expected, counts, seconds)


# --- all of it -----------------------------------------------------------------------------------

def main(args=None) -> int:
    """Run the selected tiers (args.tier, default all; -k skips the mission unless asked for)."""
    k = getattr(args, "k", None)
    tiers = getattr(args, "tier", None) or [t for t in TIERS if not (k and t == "mission")]
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        # The mission, and the MicroPython tier when pytest runs too, run meanwhile (one core
        # each): their output is captured and shown in their own sections afterwards.
        mission = pool.submit(mission_logs) if "mission" in tiers else None
        upy_out = io.StringIO() if "cpython" in tiers else None
        upy_tier = pool.submit(run_micropython, k, upy_out) if "micropython" in tiers and upy_out else None
        if "cpython" in tiers:
            _banner("CPython tier: pytest tests/")
            results.append(run_pytest(k))
        if "micropython" in tiers:
            _banner("MicroPython tier: tests/firmware under the WebAssembly port")
            if upy_tier is not None:
                result = upy_tier.result()
                sys.stdout.write(upy_out.getvalue())
                results.append(result)
            else:
                results.append(run_micropython(k))
        if mission is not None:
            _banner("mission log: tests/mission_log.py under CPython and MicroPython")
            try:
                results.append(compare_missions(*mission.result(), expected=MISSION_EXPECTED))
            except (upy.UpyUnavailable, subprocess.TimeoutExpired) as e:
                _say(f"mission: {e}")
                results.append(Result("mission log", False, "not run"))

    _banner("summary")
    if k and not getattr(args, "tier", None):
        _say("(mission log skipped: -k given; add --tier mission to run it)")
    width = max(len(r.tier) for r in results) + 1
    for r in results:
        _say(f"{r.tier + ':':<{width}} {r.counts:<45} {'ok' if r.ok else 'FAILED':<6} {r.seconds:6.1f} s")
    ok = all(r.ok for r in results)
    _say("railbot test: " + ("all tiers passed" if ok else "FAILED"))
    _say(total_line(results))  # last: the plain closing line CI reads
    return 0 if ok else 1


def total_line(results: list[Result]) -> str:
    """`total: N passed, N failed, N skipped` over the tiers; the mission log counts as one test,
    and a tier that failed without a failed test (a crash) counts one failure."""
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for r in results:
        nums = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped)\b", r.counts)}
        if not nums:
            nums = {"passed": 1} if r.ok else {"failed": 1}
        if not r.ok and not nums.get("failed"):
            nums["failed"] = 1
        for word in total:
            total[word] += nums.get(word, 0)
    return f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped"
