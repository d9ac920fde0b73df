"""The silicon tier's host side without booting a chip: where the stock image and the bootrom come from, the file system image, and the harness's answers to bad arguments."""

import hashlib
import http.server
import subprocess
import threading

import pytest

from railbot_host import silicon, upy

UF2 = b"UF2\n" + bytes(508)  # one block is enough for the download's checks


@pytest.fixture()
def downloads(tmp_path):
    """A stand-in for micropython.org on 127.0.0.1: its RPI_PICO page and one image."""
    files = {"/download/RPI_PICO/": b'<a href="/resources/firmware/RPI_PICO-20260401-v1.28.0.uf2">v1.28.0</a>',
             "/resources/firmware/RPI_PICO-20260401-v1.28.0.uf2": UF2}
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", files, hits
    srv.shutdown()


def test_the_stock_image_is_downloaded_once_and_pinned_by_its_first_hash(tmp_path, downloads):
    base, files, hits = downloads
    got = silicon.stock_uf2(upstream=tmp_path / "none", cache=tmp_path, downloads=base)
    assert got.read_bytes() == UF2
    pin = got.with_name(got.name + ".sha256").read_text().strip()
    assert pin == hashlib.sha256(UF2).hexdigest()
    n = len(hits)
    assert silicon.stock_uf2(upstream=tmp_path / "none", cache=tmp_path, downloads=base) == got
    assert len(hits) == n  # from the cache
    got.write_bytes(UF2 + bytes(512))  # the cached file changed under us
    with pytest.raises(silicon.SiliconUnavailable, match="differs from the one recorded"):
        silicon.stock_uf2(upstream=tmp_path / "none", cache=tmp_path, downloads=base)


def test_a_download_page_without_the_image_is_named(tmp_path, downloads):
    base, files, _ = downloads
    files["/download/RPI_PICO/"] = b"<html>nothing here</html>"
    with pytest.raises(silicon.SiliconUnavailable, match="lists no RPI_PICO v1.28.0"):
        silicon.stock_uf2(upstream=tmp_path / "none", cache=tmp_path, downloads=base)


def test_no_network_says_where_the_image_goes(tmp_path):
    with pytest.raises(silicon.SiliconUnavailable, match="RPI_PICO-v1.28.0.uf2 is missing"):
        silicon.stock_uf2(upstream=tmp_path / "none", cache=tmp_path, downloads="http://127.0.0.1:9")


def test_a_missing_bootrom_says_where_to_put_it(tmp_path):
    with pytest.raises(silicon.SiliconUnavailable, match=r"put rp2040-bootrom-B1.bin .* in "):
        silicon.bootrom(tmp_path)
    (tmp_path / silicon.BOOTROM).write_bytes(bytes(16384))
    with pytest.raises(silicon.SiliconUnavailable, match="sha256 differs"):
        silicon.bootrom(tmp_path)


def test_the_file_system_image_is_littlefs_with_the_files():
    from littlefs import LittleFS

    img = silicon.fs_image({"robot.json": b"{}", "sub/x.txt": b"x"})
    assert len(img) == silicon.FS_BLOCK * silicon.FS_BLOCKS
    fs = LittleFS(block_size=silicon.FS_BLOCK, block_count=silicon.FS_BLOCKS, mount=False)
    fs.context.buffer[:] = img
    fs.mount()
    assert sorted(fs.listdir("/")) == ["robot.json", "sub"] and fs.open("sub/x.txt").read() == "x"


@pytest.mark.skipif(upy.node_path() is None, reason="node is not installed")
@pytest.mark.parametrize("args, message", [
    ([], "--uf2 IMAGE or --flash-in FILE is required"),
    (["--uf2", "x.uf2"], "--bootrom FILE is required"),
    (["--uf2", "x.uf2", "--bootrom", "nope.bin"], "bootrom nope.bin: no such file"),
    (["--uf2", "x.uf2", "--bootrom", "b.bin", "--no-fix", "warp"], "--no-fix warp: no such fix"),
    (["--uf2", "x.uf2", "--bootrom", "b.bin", "--speed", "-1"], "--speed must be a number >= 0"),
    (["--uf2", "bad.uf2", "--bootrom", "b.bin"], "bad.uf2: UF2: 100 bytes is not a whole number"),
])
def test_the_harness_refuses_bad_arguments_by_name(tmp_path, args, message):
    silicon.ensure_npm()
    (tmp_path / "b.bin").write_bytes(bytes(16384))
    (tmp_path / "bad.uf2").write_bytes(bytes(100))
    p = subprocess.run([upy.node_path(), str(silicon.RUNNER), *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and message in p.stderr, p.stderr
