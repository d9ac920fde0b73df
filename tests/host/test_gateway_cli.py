"""`railbot gateway` on the command line: accounts, bay tokens, bad arguments, the port lock other commands respect, `console --gateway`, and the service itself with --sim."""
import asyncio
import io
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from railbot_host import cli
from railbot_host.gateway import accounts, console, portlock
from railbot_host.gateway.api import Api
from railbot_host.gateway.harness import Harness
from railbot_host.gateway.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lockdir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILBOT_LOCK_DIR", str(tmp_path))
    return tmp_path


def test_user_add_and_bay_tokens(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "g.db")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["gateway", "--db", db, "user", "add", "alice", "--password-stdin"]) == 0
    for name, pw, why in (("Alice!", "a long enough password", "user name 'Alice!'"),
                          ("bob", "short", "password of 5 characters")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(pw + "\n"))
        assert cli.main(["gateway", "--db", db, "user", "add", name, "--password-stdin"]) == 2
        assert why in capsys.readouterr().err
    assert cli.main(["gateway", "--db", db, "token", "--bay", "45"]) == 2
    assert cli.main(["gateway", "token", "--bay", "3", "--db", db]) == 0  # --db after the action too
    token = capsys.readouterr().out.split()[-1]
    store = Store(db)
    assert accounts.check_user(store, "alice", "a long enough password")
    assert not accounts.check_user(store, "alice", "a long enough passwore") and not accounts.check_user(store, "bob", "x")
    assert accounts.bay_of_token(store, token) == 3 and accounts.bay_of_token(store, token[::-1]) is None


@pytest.mark.parametrize("args, why", [
    ([], "give the robot: --port PORT or --sim"),
    (["--port", "/dev/null", "--sim"], "not allowed with argument"),
    (["--port", "/dev/null", "--sim-bus"], "--sim-bus simulates the units of the simulated robot"),
    (["--sim", "--speed", "0"], "--speed 0"),
    (["--sim", "--csms", "http://x"], "a ws:// or wss:// URL"),
])
def test_bad_arguments_are_refused(args, why, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["gateway"] + args)
    assert e.value.code == 2 and why in capsys.readouterr().err


def test_bad_http_address(capsys):
    assert cli.main(["gateway", "--sim", "--http", "localhost"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_no_robot_at_the_port(lockdir, tmp_path, capsys):
    assert cli.main(["gateway", "--db", str(tmp_path / "g.db"), "--port", str(tmp_path / "ttyNONE")]) == 3
    assert f"no robot at {tmp_path / 'ttyNONE'}" in capsys.readouterr().err


def test_the_port_lock_one_host_per_port(lockdir, capsys):
    assert portlock.held_by("/dev/ttyACM0") is None
    held = portlock.acquire("/dev/ttyACM0", "127.0.0.1:8480")
    try:
        with pytest.raises(portlock.PortHeld, match="holds /dev/ttyACM0"):
            portlock.acquire("/dev/ttyACM0", "127.0.0.1:9999")
        assert portlock.held_by("/dev/ttyACM0")["pid"] == os.getpid()
        assert portlock.held_by("/dev/ttyACM1") is None
        for argv in (["status", "--port", "/dev/ttyACM0"], ["deploy", "--port", "/dev/ttyACM0"],
                     ["console", "--port", "/dev/ttyACM0"]):
            assert cli.main(argv) == 3
            err = capsys.readouterr().err
            assert "the gateway (pid" in err and "railbot console --gateway http://127.0.0.1:8480" in err
    finally:
        held.close()
    assert portlock.held_by("/dev/ttyACM0") is None  # released when the gateway ends, even by a kill


def test_console_through_the_gateway(monkeypatch):
    started = threading.Event()
    box = {}

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def up():
            h = await Harness(csms=False, meters=False).start()
            accounts.add_user(h.gw.store, "tech", "a long enough password")
            runner = web.AppRunner(Api(lambda: h.gw).app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box.update(h=h, runner=runner, port=site._server.sockets[0].getsockname()[1], loop=loop)

        loop.run_until_complete(up())
        started.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())
        loop.run_until_complete(box["h"].close())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert started.wait(60)
    try:
        url = f"http://127.0.0.1:{box['port']}"
        monkeypatch.setenv("RAILBOT_GATEWAY_USER", "tech")
        monkeypatch.setenv("RAILBOT_GATEWAY_PASSWORD", "a long enough password")
        out = io.StringIO()
        ns = cli.build_parser().parse_args(["console", "--gateway", url])
        assert console.main(ns, io.StringIO("status\nbogus\nquit\nstatus\n"), out) == 1  # bogus: an error reply
        text = out.getvalue()
        assert "> status\nok <" in text and "error: unknown command 'bogus'" in text and text.count("> ") == 2
        monkeypatch.setenv("RAILBOT_GATEWAY_PASSWORD", "not the password")
        assert console.main(ns, io.StringIO("status\n"), io.StringIO()) == 3
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        t.join(30)


def test_the_service_runs_with_the_simulator(tmp_path):
    db = tmp_path / "g.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "host_tools"))
    subprocess.run([sys.executable, "-m", "railbot_host.cli", "gateway", "--db", str(db), "user", "add", "op",
                    "--password-stdin"], input="a long enough password\n", text=True, env=env, check=True,
                   capture_output=True)
    p = subprocess.Popen([sys.executable, "-m", "railbot_host.cli", "gateway", "--sim", "--sim-bus", "--db", str(db),
                          "--http", "127.0.0.1:0", "--speed", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        line = p.stdout.readline()
        assert "railbot gateway: robot simulated, units' bus simulated, CSMS none, API http://127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        import base64
        import json
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/rail", headers={
            "Authorization": "Basic " + base64.b64encode(b"op:a long enough password").decode()})
        rail = json.loads(urllib.request.urlopen(req, timeout=30).read())
        assert rail["robot"]["online"] and len(rail["units"]) == 6
        # an owner's request, served; a simulated car plugs in and charges (the clock at 50x)
        store = Store(db)
        token = accounts.new_bay_token(store, 9)
        store.close()
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/bay/{token}/request",
                                                      method="POST"), timeout=30)
        for _ in range(600):
            bay = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/bay/{token}", timeout=30).read())
            if bay["session"] and bay["session"]["energy_wh"] > 0:
                break
            time.sleep(0.1)
        assert bay["status"] == "Charging" and bay["session"]["state"] == "open"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0, p.stderr.read()


class TcpRobot:
    """The simulated robot's link on a loopback TCP port (what `socket://` reaches), its clock paced to
    the wall's in a thread of its own."""

    def __init__(self):
        import socket

        from railbot_host.gateway.robot import SimRobot

        self.sim = SimRobot(seed=2)
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select
        import time

        self.srv.settimeout(30)
        conn, _ = self.srv.accept()
        conn.setblocking(False)
        t0 = time.monotonic()
        self.sim.board.make_current()
        while not self.stop.is_set():
            if select.select([conn], [], [], 0.005)[0]:
                data = conn.recv(4096)
                if not data:
                    break
                self.sim.stream.write(data)
            self.sim.run_to(200 + int((time.monotonic() - t0) * 1000))
            out = self.sim.stream.read(65536)
            if out:
                conn.sendall(out)
        conn.close()


def test_the_service_holds_a_robot_port_and_other_commands_say_so(tmp_path, lockdir, capsys):
    import base64
    import json

    robot = TcpRobot()
    url = f"socket://127.0.0.1:{robot.port}"
    db = tmp_path / "g.db"
    store = Store(db)
    accounts.add_user(store, "op", "a long enough password")
    store.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "host_tools"))
    p = subprocess.Popen([sys.executable, "-m", "railbot_host.cli", "gateway", "--port", url, "--db", str(db),
                          "--http", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        assert f"railbot gateway: robot {url}, units' bus none, CSMS none" in line, p.stderr.read()
        http = line.rsplit("http://", 1)[1].split("/")[0]
        assert cli.main(["status", "--port", url]) == 3
        err = capsys.readouterr().err
        assert f"the gateway (pid {p.pid}) holds {url}" in err
        assert f"railbot console --gateway http://{http}`" in err  # the port it really listens on
        req = urllib.request.Request(f"http://{http}/api/robot/command", data=json.dumps({"line": "status"}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": "Basic "
                                              + base64.b64encode(b"op:a long enough password").decode()})
        reply = json.loads(urllib.request.urlopen(req, timeout=30).read())["reply"]
        assert reply.startswith("ok <IDLE|")  # the robot, through the gateway's link
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0, p.stderr.read()
        robot.stop.set()
        robot.thread.join(10)
    assert portlock.held_by(url) is None
