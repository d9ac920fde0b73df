"""`make firmware`: the cache key, the build's command lines, the build id module and `railbot status`'s build line, with the build faked."""

import os
import shutil
from pathlib import Path

import pytest

from railbot_host import cli, firmware_build as fb, robotcli

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "boards" / "PICO" / "manifest.py"


def _tree(tmp_path, main="print('hi')\n"):
    """A small firmware tree with its manifest, like boards/PICO's."""
    fw = tmp_path / "fw"
    (fw / "railbot").mkdir(parents=True)
    (fw / "railbot" / "__init__.py").write_text("VERSION = '0'\n")
    (fw / "railbot" / "robot.py").write_text("X = 1\n")
    (fw / "main.py").write_text(main)
    man = tmp_path / "manifest.py"
    man.write_text('include("$(PORT_DIR)/boards/manifest.py")\npackage("railbot", base_path="fw")\n'
                   'module("main.py", base_path="fw")\n')
    return fw, man


def _key(man, image="frozen", src="sha256:x"):
    return fb.cache_key(src, "PICO", image, fb.frozen_files(man) if image == "frozen" else None, man)


def test_cache_key_follows_every_input_and_nothing_else(tmp_path):
    fw, man = _tree(tmp_path)
    k = _key(man)
    assert _key(man) == k
    os.utime(fw / "main.py", (1, 1))  # a touched file with the same content is the same build
    assert _key(man) == k
    (fw / "railbot" / "robot.py").write_text("X = 2\n")
    k2 = _key(man)
    assert k2 != k
    man.write_text(man.read_text() + "# a comment\n")
    assert _key(man) != k2
    assert _key(man, src="git:v1.28.0") != _key(man)
    stock = _key(man, "stock")
    (fw / "main.py").write_text("print('changed')\n")
    assert _key(man, "stock") == stock  # a stock image freezes none of the tree
    assert stock != _key(man)


def test_frozen_files_and_tree_hash_of_the_pico_manifest():
    files = fb.frozen_files(MANIFEST)
    assert "railbot/robot.py" in files and "main.py" in files and fb.BUILD_ID_MODULE not in files
    assert fb.tree_hash(files) == fb.host_source_tree("PICO") == fb.host_source_tree("SIM")
    assert len(fb.tree_hash(files)) == 64


def test_build_commands_are_micropythons_own_without_picotool(tmp_path):
    upy, bdir, wrap, uf2 = tmp_path / "upy", tmp_path / "b", tmp_path / "m.py", tmp_path / "f.uf2"
    make, conv = fb.build_commands(upy, "PICO", bdir, wrap, uf2)
    # CMAKE_ARGS in the environment: on make's command line it would drop the port's own
    # -DMICROPY_FROZEN_MANIFEST and build a stock image (it did, once)
    assert make[:3] == ["env", "CMAKE_ARGS=-DPICO_NO_PICOTOOL=1", "make"]
    assert make[make.index("-C") + 1] == str(upy / "ports" / "rp2")
    assert "BOARD=RPI_PICO" in make and f"BUILD={bdir}" in make and f"FROZEN_MANIFEST={wrap}" in make
    assert conv[1] == str(upy / "tools" / "uf2conv.py")
    assert conv[2:] == ["-c", "-b", "0x10000000", "-f", "RP2040", "-o", str(uf2), str(bdir / "firmware.bin")]
    stock, _ = fb.build_commands(upy, "PICO", bdir, None, uf2)
    assert not any(a.startswith("FROZEN_MANIFEST") for a in stock)


# the lines of v1.28.0's tools/mpy-tool.py the armv6m alignment fix changes
UPSTREAM_MPY_TOOL = """        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
            MP_NATIVE_ARCH_XTENSA,
            MP_NATIVE_ARCH_XTENSAWIN,
        ):
            # ARMV6 or Xtensa -- four byte align.
"""


def test_the_mpy_tool_fix_puts_armv6m_with_the_four_byte_aligned(tmp_path):
    (tmp_path / "tools").mkdir()
    tool = tmp_path / "tools" / "mpy-tool.py"
    tool.write_text(UPSTREAM_MPY_TOOL)
    assert fb.fix_mpy_tool(tmp_path) and not fb.fix_mpy_tool(tmp_path)  # once
    fixed = tool.read_text()
    assert fixed.index("MP_NATIVE_ARCH_ARMV6M,") < fixed.index("four byte align")
    tool.write_text("something else\n")
    with pytest.raises(fb.SourceError, match="alignment fix"):
        fb.fix_mpy_tool(tmp_path)
    assert tool.read_text() == "something else\n"


def test_build_id_module_and_wrapper_manifest(tmp_path):
    ns: dict = {}
    exec(fb.build_id_source("ab" * 32, "c0ffee" * 6 + "1234", "PICO"), ns)
    assert (ns["TREE"], ns["BOARD"], ns["IMAGE"]) == ("ab" * 32, "PICO", "frozen")
    assert ns["COMMIT"] == "c0ffee" * 6 + "1234"
    wrap = fb.wrapper_manifest(MANIFEST, tmp_path / "gen")
    assert f"include({str(MANIFEST)!r})" in wrap
    assert f"module('railbot/build_id.py', base_path={str(tmp_path / 'gen')!r})" in wrap


class FakeRunner:
    """Stands in for make, git and uf2conv: makes the files each step would make."""

    calls: list = []

    def __init__(self, log):
        self.log = log

    def __call__(self, argv, what, src_err=False):
        FakeRunner.calls.append((what, argv))
        if what.startswith("clone"):
            Path(argv[-1]).mkdir(parents=True)
            (Path(argv[-1]) / "tools").mkdir()
            (Path(argv[-1]) / "tools" / "mpy-tool.py").write_text(UPSTREAM_MPY_TOOL)
        elif what == "port build":
            bdir = Path(next(a for a in argv if a.startswith("BUILD="))[6:])
            bdir.mkdir(parents=True, exist_ok=True)
            (bdir / "firmware.bin").write_bytes(b"\0" * 1000)
            (bdir / "firmware.elf").write_bytes(b"ELF")
            man = [a for a in argv if a.startswith("FROZEN_MANIFEST=")]
            if man:  # what the build would freeze: the generated build id is there
                gen = Path(man[0][16:]).parent / "gen" / fb.BUILD_ID_MODULE
                assert "TREE = " in gen.read_text()
                assert "'railbot/plan_native.mpy')" in Path(man[0][16:]).read_text()
        elif what.startswith("mpy-cross for the native"):
            Path(argv[argv.index("-o") + 1]).write_bytes(b"M\x06\x0b\x1f")
        elif what == "uf2conv":
            Path(argv[argv.index("-o") + 1]).write_bytes(b"UF2\n" * 512)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    FakeRunner.calls = []
    upstream = tmp_path / "upstream"  # no tarball: the git route, faked
    upstream.mkdir()
    return dict(cache=tmp_path / "cache", out_root=tmp_path / "clone" / "build" / "firmware",
                upstream=upstream, runner_cls=FakeRunner, which=lambda t: "/usr/bin/" + t, commit="abc123")


def test_first_build_then_cache_hit_without_running_anything(fake):
    r = fb.build("PICO", "frozen", **fake)
    assert not r.cached and r.uf2 == fake["out_root"] / "PICO" / "firmware.uf2" and r.bytes == 2048
    whats = [w.split(" (")[0] for w, _ in FakeRunner.calls]
    assert whats == ["clone", "submodules", "mpy-cross", "mpy-cross for the native railbot/plan_native.mpy",
                     "port build", "uf2conv"]
    native = FakeRunner.calls[3][1]  # the planner's word loop for the RP2040's native emitter, frozen beside plan.py
    assert native[0].endswith("/mpy-cross/build/mpy-cross") and native[1:4] == ["-march=armv6m", "-X", "emit=viper"]
    assert native[-1].endswith("firmware/railbot/plan.py") and r.info["native"] == ["railbot/plan_native.mpy"]
    assert FakeRunner.calls[0][1][:5] == ["git", "clone", "--depth", "1", "--branch"] and "v1.28.0" in FakeRunner.calls[0][1]
    assert r.tree == fb.host_source_tree() and r.commit == "abc123"
    entry = fake["cache"] / "firmware" / r.key
    assert (entry / "firmware.uf2").is_file() and (entry / "firmware.elf").is_file()
    assert not fake["cache"].is_relative_to(fake["out_root"].parent.parent)  # outside the clone
    FakeRunner.calls = []
    r.uf2.unlink()
    fake2 = dict(fake, which=lambda t: None)  # a hit needs no toolchain
    again = fb.build("PICO", "frozen", **fake2)
    assert again.cached and FakeRunner.calls == [] and again.uf2.read_bytes() == b"UF2\n" * 512
    assert again.key == r.key and again.commit == "abc123"
    stock = fb.build("PICO", "stock", **fake)  # the source is extracted once, mpy-cross built once
    assert [w for w, _ in FakeRunner.calls] == ["port build", "uf2conv"]
    assert stock.uf2.name == "stock.uf2" and stock.key != r.key and stock.tree == ""


def test_a_clone_elsewhere_takes_the_tarballs_tree_from_the_cache(tmp_path):
    cache, upstream = tmp_path / "cache", tmp_path / "nowhere"
    assert fb.pick_source(upstream, cache).ident == "git:v1.28.0"
    ready = cache / "src" / "micropython-1.28.0-sha256-57a1a8154f55" / ".railbot-ready"
    ready.parent.mkdir(parents=True)
    ready.write_text("sha256:...\n")  # another clone, beside ../shared/upstream, extracted it
    src = fb.pick_source(upstream, cache)
    assert src.ident == "sha256:" + fb.TARBALL_SHA256 and src.tarball is None


def test_missing_toolchain_is_one_line_with_the_apt_command(fake):
    stale = fake["out_root"] / "PICO" / "firmware.uf2"  # from an older tree
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    fake["which"] = lambda t: None if t == "arm-none-eabi-gcc" else "/usr/bin/" + t
    with pytest.raises(fb.ToolMissing) as e:
        fb.build("PICO", "frozen", **fake)
    assert e.value.code == 6 and "\n" not in str(e.value)
    assert not (fake["out_root"] / "PICO" / "firmware.uf2").exists()
    assert "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi" in str(e.value)
    assert FakeRunner.calls == []


def test_a_tarball_with_the_wrong_hash_is_refused(fake):
    (fake["upstream"] / fb.TARBALL).write_bytes(b"not micropython")
    with pytest.raises(fb.SourceError, match="sha256 .*expected 57a1a815") as e:
        fb.build("PICO", "stock", **fake)
    assert e.value.code == 7 and not (fake["cache"] / "src" / "micropython-1.28.0-sha256-57a1a8154f55").exists()


def test_a_failing_step_names_its_log(tmp_path):
    run = fb.Runner(tmp_path / "build.log")
    with pytest.raises(fb.BuildError, match=r"port build failed \(exit 3\); last lines of .*build.log:\n.*\nboom"):
        run(["sh", "-c", "echo boom; exit 3"], "port build")


def test_cli_firmware_exit_codes(monkeypatch, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["firmware", "--board", "NANO"])
    assert e.value.code == 2 and "invalid choice: 'NANO'" in capsys.readouterr().err

    def missing(board, image):
        raise fb.ToolMissing(f"arm-none-eabi-gcc not found: install the toolchain with `{fb.APT}`")

    monkeypatch.setattr(fb, "build", missing)
    assert cli.main(["firmware", "--board", "PICO"]) == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fb.APT in err[0]
    assert cli.main(["firmware", "--board", "SIM"]) == 0  # SIM has no image: the check only


# --- the build id on the board and in `railbot status` ------------------------------------------------
def test_status_shows_the_board_build_beside_the_hosts():
    src = "5" * 64
    reply = f"ok build src={src} tree={'7' * 64} commit={'a' * 40}+dirty board=PICO image=frozen"
    assert robotcli.parse_build(reply)["image"] == "frozen"
    line = robotcli.build_line(reply, src, "b" * 40)
    assert line == (f"board build: src {'5' * 12} commit {'a' * 12}+dirty (frozen, PICO) | "
                    f"host: src {'5' * 12} commit {'b' * 12} | same firmware as the host")
    assert robotcli.build_line(reply, "6" * 64, "b" * 40).endswith("differs from the host: flash or deploy")
    assert "unknown (firmware older" in robotcli.build_line("error: unknown command 'build' (try help)", src, "b")
    assert "none (firmware run from source)" in robotcli.build_line("ok build none (firmware from source)", src, "b")


def test_the_firmware_answers_build_from_its_build_id_module(monkeypatch):
    import sys
    import types

    tr = robotcli.SimTransport()
    assert tr.command("build") == "ok build none (firmware from source)"  # the simulator runs the source
    bid = types.ModuleType("railbot.build_id")
    exec(fb.build_id_source("ab" * 32, "c" * 40, "PICO"), bid.__dict__)
    monkeypatch.setitem(sys.modules, "railbot.build_id", bid)
    import railbot

    monkeypatch.setattr(railbot, "build_id", bid, raising=False)
    b = robotcli.parse_build(tr.command("build"))
    assert b == {"src": "ab" * 32, "tree": "ab" * 32, "commit": "c" * 40, "board": "PICO", "image": "frozen"}


def test_railbot_status_prints_the_build_line(capsys):
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"board build: none (firmware run from source) | host: src {fb.host_source_tree()[:12]}" in out


# --- the real thing, where the toolchain is ----------------------------------------------------------
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                    reason=f"arm-none-eabi-gcc missing: no real firmware build ({fb.APT})")
@pytest.mark.skipif(not os.environ.get("RAILBOT_TEST_FIRMWARE_BUILD"),
                    reason="a real firmware build takes minutes cold: set RAILBOT_TEST_FIRMWARE_BUILD=1")
def test_real_frozen_build_carries_its_build_id(tmp_path):
    r = fb.build("PICO", "frozen", out_root=tmp_path)
    data = r.uf2.read_bytes()
    assert len(data) % 512 == 0 and data[:4] == b"UF2\n" and r.info["bin_bytes"] > 380_000  # stock: 340 KB
    payload = b"".join(data[i + 32:i + 32 + 256] for i in range(0, len(data), 512))
    assert fb.host_source_tree().encode() in payload  # the frozen build_id's TREE string
