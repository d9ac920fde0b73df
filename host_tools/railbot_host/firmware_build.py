"""`make firmware BOARD=PICO`: build the Pico UF2 images from pinned MicroPython source, cached outside the clone.

Two images, each built by MicroPython's own rp2 port build (cmake + arm-none-eabi-gcc) with
`PICO_NO_PICOTOOL=1` (pico-sdk would download picotool) and converted by MicroPython's own
`tools/uf2conv.py` (the same bytes picotool makes):
- `frozen`: railbot frozen in (boards/PICO/manifest.py) plus a generated `railbot/build_id.py`
  (TREE: the sha256 of the frozen source tree, COMMIT: the git commit that tree was first built at);
- `stock`: MicroPython alone, for the flash-then-`railbot deploy` path.
The source is the tarball in ../shared/upstream (checked against its pinned sha256) where it exists,
else `git clone --branch v1.28.0` of the official repository with the port's submodules. It is
extracted into the cache, never into the clone.

Cache: $RAILBOT_CACHE or $XDG_CACHE_HOME/railbot or ~/.cache/railbot, then firmware/<key>/, where
the key hashes the source id, the board, the build flags and (frozen image) the manifest and every
frozen file's content. A hit copies the UF2 in well under a second and needs no toolchain.
The commit is not in the key (a host-only commit must not force a 2-minute rebuild): a cached image
names the commit its tree was first built at, and the tree hash is what identifies it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host.upy import REPO_ROOT
from railbot_host import native

UPY_VERSION = "1.28.0"
UPY_TAG = "v" + UPY_VERSION
UPY_GIT = "https://github.com/micropython/micropython"
TARBALL = f"micropython-{UPY_VERSION}-rp2.tar.xz"
TARBALL_SHA256 = "57a1a8154f554ecf05d1339b6bfd5a0fd6336e42c74d0a85167ce2ad0368a630"
UPSTREAM = Path(os.environ.get("RAILBOT_UPSTREAM", REPO_ROOT.parent / "shared" / "upstream"))
OUT_ROOT = REPO_ROOT / "build" / "firmware"

#: Our board name -> MicroPython's BOARD.
UPY_BOARDS = {"PICO": "RPI_PICO"}
IMAGES = ("frozen", "stock")
CMAKE_ARGS = "-DPICO_NO_PICOTOOL=1"
FLASH_BASE = "0x10000000"
UF2_FAMILY = "RP2040"
APT = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi"
TOOLS = ("arm-none-eabi-gcc", "cmake", "make")
BUILD_ID_MODULE = "railbot/build_id.py"

# Exit status of `railbot firmware` (also in the README): 0 built (or copied from the cache),
# 1 the manifest check failed, 2 usage (bad --board), 5 a step of the build failed (its log is
# named), 6 a tool is missing (the line says how to install it), 7 the pinned source cannot be had.
EXIT_BUILD, EXIT_TOOL, EXIT_SOURCE = 5, 6, 7


class BuildError(Exception):
    code = EXIT_BUILD


class ToolMissing(BuildError):
    code = EXIT_TOOL


class SourceError(BuildError):
    code = EXIT_SOURCE


def cache_root() -> Path:
    if os.environ.get("RAILBOT_CACHE"):
        return Path(os.environ["RAILBOT_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "railbot"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- what is frozen, and its identity ---------------------------------------------------------------
def frozen_files(manifest: Path) -> dict[str, Path]:
    """{target path in the image: source file} of what the manifest freezes from this clone."""
    from railbot_host.firmware_image import read_manifest

    m = read_manifest(manifest)
    out: dict[str, Path] = {}
    for name, basep in m.packages:
        for f in sorted((basep / name).rglob("*.py")):
            out[f.relative_to(basep).as_posix()] = f
    for name, basep in m.modules:
        out[name] = basep / name
    out.pop(BUILD_ID_MODULE, None)  # generated per build, never taken from the tree
    return out


def hash_tree(h, contents: dict[str, bytes]) -> None:
    """Feed hasher h each file's path and the sha256 of its content, in path order: a tree's identity,
    the same on any machine and any checkout (railbot deploy's TREE, a frozen image's, the cache key)."""
    for path in sorted(contents):
        h.update(path.encode() + b"\0" + hashlib.sha256(contents[path]).digest())


def _contents(files: dict[str, Path]) -> dict[str, bytes]:
    return {target: Path(files[target]).read_bytes() for target in files}


def tree_hash(files: dict[str, Path]) -> str:
    """sha256 of the frozen files (target path -> file) as hash_tree feeds it."""
    h = hashlib.sha256()
    hash_tree(h, _contents(files))
    return h.hexdigest()


def short_commit(c: str) -> str:
    """A commit as shown: 12 hex digits, and +dirty if the tree had changes."""
    return c[:12] + ("+dirty" if c.endswith("+dirty") else "")


def host_source_tree(board: str = "PICO") -> str:
    """This clone's firmware tree hash, as a frozen image of it carries it (SIM: PICO's manifest)."""
    b = board if (REPO_ROOT / "boards" / board / "manifest.py").is_file() else "PICO"
    return tree_hash(frozen_files(REPO_ROOT / "boards" / b / "manifest.py"))


def git_commit(repo: Path = REPO_ROOT) -> str:
    """HEAD's hash, with `+dirty` if tracked firmware files differ from it; `unknown` outside git."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "firmware", "boards"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def build_id_source(tree: str, commit: str, board: str) -> str:
    """The frozen `railbot/build_id.py`: the names `railbot deploy` writes (TREE, BOARD) plus
    COMMIT and IMAGE, so the board's `build` command answers the same way for both paths."""
    return (f"# Generated by `railbot firmware`: what is frozen in this image.\nTREE = {tree!r}\n"
            f"COMMIT = {commit!r}\nBOARD = {board!r}\nIMAGE = 'frozen'\n")


# --- the source -------------------------------------------------------------------------------------
@dataclass
class Source:
    ident: str  # goes into the cache key: "sha256:<tarball>" or "git:<tag>"
    tarball: Path | None = None


def _src_name(ident: str) -> str:
    return f"micropython-{UPY_VERSION}-{ident.replace(':', '-')[:19]}"


def pick_source(upstream: Path = UPSTREAM, cache: Path | None = None) -> Source:
    """The tarball where it is; else the tarball's tree already in the cache (a clone elsewhere on
    this machine extracted it: same pinned bytes); else the official repository at the tag."""
    tb = upstream / TARBALL
    ident = "sha256:" + TARBALL_SHA256
    if tb.is_file():
        return Source(ident, tb)
    if cache is not None and (cache / "src" / _src_name(ident) / ".railbot-ready").is_file():
        return Source(ident)
    return Source("git:" + UPY_TAG)


def source_dir(src: Source, cache: Path, run) -> Path:
    """MicroPython's tree in the cache, made once (tarball checked first), mpy-cross built in it."""
    name = _src_name(src.ident)
    root = cache / "src" / name
    done = root / ".railbot-ready"
    if done.is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / (name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if src.tarball is not None:
        got = sha256_file(src.tarball)
        if got != TARBALL_SHA256:
            raise SourceError(f"{src.tarball}: sha256 {got}, expected {TARBALL_SHA256} (see its README)")
        tmp.mkdir()
        with tarfile.open(src.tarball) as tf:
            tf.extractall(tmp, filter="data")
        top = tmp / f"micropython-{UPY_VERSION}"
    else:
        if shutil.which("git") is None:
            raise ToolMissing("git is missing (needed to fetch MicroPython without the tarball): apt-get install -y git")
        top = tmp / f"micropython-{UPY_VERSION}"
        top.parent.mkdir()
        run(["git", "clone", "--depth", "1", "--branch", UPY_TAG, UPY_GIT, str(top)],
            f"clone (no {TARBALL} in {UPSTREAM}: set RAILBOT_UPSTREAM to its folder offline)", src_err=True)
        run(["make", "-C", str(top / "ports" / "rp2"), "BOARD=RPI_PICO", "submodules"], "submodules", src_err=True)
    shutil.rmtree(root, ignore_errors=True)
    top.rename(root)
    shutil.rmtree(tmp, ignore_errors=True)
    run(["make", f"-j{jobs()}", "-C", str(root / "mpy-cross")], "mpy-cross")
    done.write_text(src.ident + "\n")
    return root


# MicroPython v1.28's tools/mpy-tool.py aligns frozen armv6m native code to 2 bytes, but the viper
# code it freezes loads every 32-bit constant (and makes every jump over 2 KB) through a word-aligned
# pc-relative literal, which asmthumb.c lays out for code that starts on 4 bytes: frozen at 2 mod 4
# such a load reads the wrong word (docs/silicon.md, "Native code"). The fix puts armv6m with the
# architectures mpy-tool aligns to 4; the build applies it to its copy of the tree.
_MPY_TOOL = "tools/mpy-tool.py"
_MPY_TOOL_ALIGN = ("        if config.native_arch in (\n            MP_NATIVE_ARCH_ARMV6,\n",
                   "        if config.native_arch in (\n            MP_NATIVE_ARCH_ARMV6,\n"
                   "            MP_NATIVE_ARCH_ARMV6M,  # railbot: its literal loads need 4-byte alignment\n")


def fix_mpy_tool(root: Path) -> bool:
    """Apply the armv6m alignment fix to root's mpy-tool.py (once); True if it changed the file."""
    tool = Path(root) / _MPY_TOOL
    text = tool.read_text()
    if _MPY_TOOL_ALIGN[1] in text:
        return False
    if text.count(_MPY_TOOL_ALIGN[0]) != 1:
        raise SourceError(f"{tool}: not the v{UPY_VERSION} code the armv6m alignment fix was written for")
    tool.write_text(text.replace(_MPY_TOOL_ALIGN[0], _MPY_TOOL_ALIGN[1]))
    return True


def jobs() -> int:
    return int(os.environ.get("RAILBOT_JOBS", "0")) or (os.cpu_count() or 1)


# --- the key and the command lines -------------------------------------------------------------------
def cache_key(src_ident: str, board: str, image: str, frozen: dict[str, Path] | None,
              manifest: Path | None) -> str:
    """sha256 of every input of a build: the source, the board, the flags, and for a frozen image
    the manifest's and every frozen file's content (by target path)."""
    h = hashlib.sha256()
    for part in (src_ident, board, UPY_BOARDS[board], image, CMAKE_ARGS, FLASH_BASE, UF2_FAMILY):
        h.update(part.encode() + b"\0")
    if image == "frozen":
        h.update(b"manifest\0" + Path(manifest).read_bytes() + b"\0")
        hash_tree(h, _contents(frozen))
        h.update(b"native\0" + " ".join([*native.args(board), *native.MODULES, *_MPY_TOOL_ALIGN]).encode() + b"\0")
    return h.hexdigest()


def build_commands(upy: Path, board: str, build_dir: Path, manifest: Path | None, uf2: Path) -> list[list[str]]:
    """The port build and the UF2 conversion, as MicroPython's README gives them. CMAKE_ARGS goes
    in the environment: on make's command line it would override the port Makefile's own
    `CMAKE_ARGS += -DMICROPY_BOARD=... -DMICROPY_FROZEN_MANIFEST=...` (a stock image, silently)."""
    make = ["env", f"CMAKE_ARGS={CMAKE_ARGS}", "make", f"-j{jobs()}", "-C", str(upy / "ports" / "rp2"),
            f"BOARD={UPY_BOARDS[board]}", f"BUILD={build_dir}"]
    if manifest is not None:
        make.append(f"FROZEN_MANIFEST={manifest}")
    conv = ["python3", str(upy / "tools" / "uf2conv.py"), "-c", "-b", FLASH_BASE, "-f", UF2_FAMILY,
            "-o", str(uf2), str(build_dir / "firmware.bin")]
    return [make, conv]


def wrapper_manifest(board_manifest: Path, gen_dir: Path, native_modules=()) -> str:
    """The manifest the build uses: the board's own, plus the generated build id module and the
    native modules (railbot_host.native) compiled into gen_dir, frozen as they are."""
    return (f"# Generated by `railbot firmware`: {board_manifest.name} plus the build id and native modules.\n"
            f"include({str(board_manifest.resolve())!r})\n"
            f"module({BUILD_ID_MODULE!r}, base_path={str(gen_dir)!r})\n"
            + "".join(f"freeze_mpy({str(gen_dir)!r}, {m!r})\n" for m in native_modules))


def missing_tools(which=shutil.which) -> list[str]:
    return [t for t in TOOLS if which(t) is None]


# --- one build --------------------------------------------------------------------------------------
@dataclass
class Result:
    image: str
    uf2: Path
    key: str
    cached: bool
    seconds: float
    bytes: int
    tree: str = ""
    commit: str = ""
    log: Path | None = None
    info: dict = field(default_factory=dict)


class Runner:
    """Runs the build's commands with their output in one log file; a failure names the log."""

    def __init__(self, log: Path, env: dict | None = None):
        self.log = log
        self.env = env

    def __call__(self, argv: list[str], what: str, src_err: bool = False) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as f:
            f.write(f"$ {' '.join(argv)}\n")
            f.flush()
            rc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, env=self.env).returncode
        if rc != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            err = SourceError if src_err else BuildError
            raise err(f"{what} failed (exit {rc}); last lines of {self.log}:\n" + "\n".join(tail))


def build(board: str, image: str, *, cache: Path | None = None, out_root: Path = OUT_ROOT,
          upstream: Path = UPSTREAM, manifest: Path | None = None, runner_cls=Runner,
          which=shutil.which, commit: str | None = None) -> Result:
    """Build (or copy from the cache) one image into out_root/BOARD/{firmware,stock}.uf2."""
    if board not in UPY_BOARDS:
        raise BuildError(f"no UF2 build for board {board!r}: expected one of {', '.join(UPY_BOARDS)}")
    t0 = time.monotonic()
    cache = cache or cache_root()
    src = pick_source(upstream, cache)
    manifest = manifest or REPO_ROOT / "boards" / board / "manifest.py"
    frozen = frozen_files(manifest) if image == "frozen" else None
    key = cache_key(src.ident, board, image, frozen, manifest)
    entry = cache / "firmware" / key
    out = Path(out_root) / board / ("firmware.uf2" if image == "frozen" else "stock.uf2")
    out.parent.mkdir(parents=True, exist_ok=True)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(cache / "firmware" / ".lock", "w") as lock:  # two builds at once share one source tree
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = (entry / "firmware.uf2").is_file() and (entry / "build.json").is_file()
        if not cached:
            out.unlink(missing_ok=True)  # a failed build must not leave the last image to be flashed
            _build_into(entry, src, board, image, frozen, manifest, cache, runner_cls, which, commit)
        shutil.copyfile(entry / "firmware.uf2", out)
        info = json.loads((entry / "build.json").read_text())
    (out.with_suffix(".json")).write_text(json.dumps(info, indent=1) + "\n")
    return Result(image, out, key, cached, time.monotonic() - t0, out.stat().st_size,
                  info.get("tree", ""), info.get("commit", ""), entry / "build.log", info)


def _build_into(entry: Path, src: Source, board: str, image: str, frozen, manifest: Path, cache: Path,
                runner_cls, which, commit: str | None) -> None:
    missing = missing_tools(which)
    if missing:
        raise ToolMissing(f"{', '.join(missing)} not found: install the toolchain with `{APT}` "
                          f"(Debian/Ubuntu, as root; about 1 min and 2.8 GB)")
    shutil.rmtree(entry, ignore_errors=True)
    work = entry.parent / (entry.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run = runner_cls(work / "build.log")
    t0 = time.monotonic()
    upy = source_dir(src, cache, run)
    fix_mpy_tool(upy)
    info = {"board": board, "upy_board": UPY_BOARDS[board], "image": image, "source": src.ident,
            "micropython": UPY_TAG, "cmake_args": CMAKE_ARGS, "key": entry.name}
    # One build folder per (source, board, image), kept: a changed firmware tree only refreezes and
    # relinks. The port's cmake is configured once, so the manifest's path must not change.
    flags = hashlib.sha256(f"{CMAKE_ARGS}\0{UPY_BOARDS[board]}".encode()).hexdigest()[:8]
    bdir = cache / "build" / f"{src.ident.replace(':', '-')[:19]}-{board}-{image}-{flags}"
    bdir.mkdir(parents=True, exist_ok=True)
    wrap = None
    if image == "frozen":
        gen = bdir / "gen"
        (gen / "railbot").mkdir(parents=True, exist_ok=True)
        frozen = frozen_files(manifest)  # as the build reads them
        info["tree"] = tree_hash(frozen)
        info["commit"] = commit if commit is not None else git_commit()
        (gen / BUILD_ID_MODULE).write_text(build_id_source(info["tree"], info["commit"], board))
        compiled = native.commands([str(upy / "mpy-cross" / "build" / "mpy-cross")], board, REPO_ROOT / "firmware", gen)
        for target, argv in compiled.items():  # plan.py for the native emitter (railbot_host.native)
            run(argv, f"mpy-cross for the native {target}")
        info["native"] = sorted(compiled)
        wrap = bdir / "manifest.py"
        wrap.write_text(wrapper_manifest(manifest, gen, sorted(compiled)))
    uf2 = work / "firmware.uf2"
    for argv, what in zip(build_commands(upy, board, bdir / "port", wrap, uf2), ("port build", "uf2conv")):
        run(argv, what)
    if not uf2.is_file():
        raise BuildError(f"uf2conv wrote no {uf2}; see {work / 'build.log'}")
    if image == "frozen" and cache_key(src.ident, board, image, frozen_files(manifest), manifest) != entry.name:
        raise BuildError("the firmware tree changed during the build: run `make firmware` again "
                         "(nothing was cached)")
    for name in ("firmware.elf", "firmware.bin"):
        shutil.copyfile(bdir / "port" / name, work / name)
    info["bin_bytes"] = (work / "firmware.bin").stat().st_size
    info["uf2_bytes"] = uf2.stat().st_size
    info["build_s"] = round(time.monotonic() - t0, 1)
    (work / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    work.rename(entry)
