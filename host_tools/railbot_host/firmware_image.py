"""`railbot firmware` / `make firmware`: check a board's freeze manifest, then build its UF2 images.

Every import in firmware/railbot and firmware/main.py must be built into MicroPython's port, be a
module of the frozen tree, or come from micropython-lib through `require()` in the manifest. An
import inside `try: ... except ImportError:` is optional (e.g. aiorepl) and always allowed.
The check is the build's first step; the UF2 images are then built (or copied from the cache) by
railbot_host.firmware_build. Exit status: 0 ok, 1 manifest problems, 2 usage, 5 a build step
failed, 6 a tool is missing, 7 the pinned MicroPython source cannot be had.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host.upy import REPO_ROOT

FIRMWARE = REPO_ROOT / "firmware"

#: Modules built into (or frozen by default in) MicroPython's rp2 port, 1.2x.
BUILTIN_RP2 = frozenset("""
    array asyncio binascii bluetooth builtins cmath collections cryptolib deflate errno framebuf gc
    hashlib heapq io json machine math micropython network os platform random re rp2 select socket
    ssl struct sys time uasyncio uctypes vfs _thread _asyncio _onewire onewire ds18x20 dht neopixel
    uarray ubinascii ucollections uerrno uhashlib uheapq uio ujson uos urandom ure uselect usocket
    ustruct usys utime
""".split())

BUILTINS = {"PICO": BUILTIN_RP2, "SIM": BUILTIN_RP2}


@dataclass
class Manifest:
    packages: list[tuple[str, Path]] = field(default_factory=list)  # (name, base path)
    modules: list[tuple[str, Path]] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_manifest(path: Path) -> Manifest:
    """Run a manifest.py with recording stand-ins for MicroPython's manifest functions."""
    m = Manifest()
    here = Path(path).parent

    def base(base_path):
        return (here / base_path).resolve() if base_path else here

    def package(name, files=None, base_path=".", opt=None):
        p = base(base_path) / name
        if not (p / "__init__.py").is_file():
            m.errors.append(f"package({name!r}): no {p}/__init__.py")
        m.packages.append((name, base(base_path)))

    def module(name, base_path=".", opt=None):
        p = base(base_path) / name
        if not p.is_file():
            m.errors.append(f"module({name!r}): no file {p}")
        m.modules.append((name, base(base_path)))

    def require(name, **kw):
        m.requires.append(name)

    def ignore(*a, **kw):
        pass

    env = {"package": package, "module": module, "require": require, "metadata": ignore,
           "include": ignore, "freeze": ignore, "options": type("O", (), {"__getattr__": lambda s, k: None})()}
    exec(compile(Path(path).read_text(encoding="utf-8"), str(path), "exec"), env)
    return m


@dataclass
class Import:
    module: str
    file: Path
    line: int
    optional: bool


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    if t is None:
        return True
    names = [t] if not isinstance(t, ast.Tuple) else list(t.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "Exception", "BaseException")
               for n in names)


def imports_of(path: Path, package: str | None = None) -> list[Import]:
    """The imports of one source file; relative imports are resolved against `package`."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), str(path))
    out: list[Import] = []

    def visit(node, optional):
        for child in ast.iter_child_nodes(node):
            opt = optional
            if isinstance(node, ast.Try) and child in node.body:
                opt = optional or any(_catches_import_error(h) for h in node.handlers)
            if isinstance(child, ast.Import):
                for a in child.names:
                    out.append(Import(a.name, path, child.lineno, opt))
            elif isinstance(child, ast.ImportFrom):
                mod = child.module or ""
                if child.level and package:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    mod = ".".join(parts + ([mod] if mod else []))
                out.append(Import(mod, path, child.lineno, opt))
                for a in child.names:  # `from railbot import config` names a submodule
                    out.append(Import(f"{mod}.{a.name}", path, child.lineno, True))
            visit(child, opt)

    visit(tree, False)
    return out


def tree_modules(m: Manifest) -> set[str]:
    """Dotted names of every module the manifest freezes."""
    names = set()
    for name, basep in m.packages:
        root = basep / name
        for f in root.rglob("*.py"):
            rel = f.relative_to(basep).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.add(".".join(parts))
    for name, _ in m.modules:
        names.add(name[:-3] if name.endswith(".py") else name)
    return names


def check(board: str, manifest: Path | None = None, firmware: Path = FIRMWARE) -> tuple[Manifest, list[str]]:
    """(the manifest, problems); no problems means the frozen build has every import it needs."""
    manifest = manifest or REPO_ROOT / "boards" / board / "manifest.py"
    m = read_manifest(manifest)
    problems = list(m.errors)
    frozen = tree_modules(m)
    builtin = BUILTINS.get(board, BUILTIN_RP2)
    sources = [(firmware / "main.py", None)] if (firmware / "main.py").is_file() else []
    for f in sorted((firmware / "railbot").rglob("*.py")):
        rel = f.relative_to(firmware).with_suffix("")
        pkg = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts[:-1])
        sources.append((f, pkg))
    for f, pkg in sources:
        for imp in imports_of(f, pkg):
            top = imp.module.split(".")[0]
            if imp.optional or not imp.module:
                continue
            if imp.module in frozen or top in builtin or top in m.requires:
                continue
            if top in {n.split(".")[0] for n in frozen}:
                where = "is not in the frozen tree"
            else:
                where = "is neither built into MicroPython, nor in the frozen tree, nor required"
            problems.append(f"{_shown(f)}:{imp.line}: import {imp.module} {where} (add "
                            f"require({top!r}) to {_shown(manifest)}, or import it optionally in "
                            f"try/except ImportError)")
    return m, problems


def _shown(p: Path) -> str:
    p = Path(p).resolve()
    return str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(p)


def main(ns) -> int:
    from rich.console import Console

    from railbot_host import firmware_build as fb

    con = Console(highlight=False, soft_wrap=True)
    err = Console(highlight=False, soft_wrap=True, stderr=True)
    m, problems = check(ns.board)
    if problems:
        for p in problems:
            err.print(f"[red]error:[/] {p}")
        err.print(f"[bold red]railbot firmware: {len(problems)} import problem(s) in the {ns.board} manifest[/]")
        return 1
    con.print(f"[green]boards/{ns.board}/manifest.py:[/] {len(tree_modules(m))} frozen modules; "
              f"require: {', '.join(m.requires) or 'none'}; every firmware import is satisfied")
    if ns.board not in fb.UPY_BOARDS or getattr(ns, "check_only", False):
        if ns.board not in fb.UPY_BOARDS:
            con.print(f"[dim]board {ns.board} has no UF2 image (it runs in this process)[/]")
        return 0
    images = fb.IMAGES if getattr(ns, "image", "both") == "both" else (ns.image,)
    for image in images:
        con.print(f"[dim]{image} image: building or taking it from {fb.cache_root() / 'firmware'} "
                  f"(a first build takes minutes)...[/]")
        try:
            r = fb.build(ns.board, image)
        except fb.BuildError as e:
            err.print(f"railbot firmware: {e}", markup=False)
            return e.code
        ident = f"; tree {r.tree[:12]} commit {fb.short_commit(r.commit)}" if r.tree else ""
        how = "from the cache" if r.cached else "built"
        con.print(f"[green]{_shown(r.uf2)}[/]: {r.bytes} bytes, {how} in {r.seconds:.2f} s{ident}")
    return 0
