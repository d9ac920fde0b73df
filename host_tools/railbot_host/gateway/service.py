"""`railbot gateway`: run the gateway (the robot's link, the units' bus, the CSMS, the HTTP API), add operator accounts, make bay tokens."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import signal
import sys
import time

from railbot_host.cli import SEED_MAX, Parser, path_arg, port_arg, ranged, text, word_arg
from railbot_host.gateway import accounts, portlock
from railbot_host.gateway.store import Store
from railbot_host.link import LinkError

TICK_S = 1.0


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="railbot gateway", description=__doc__ + " With no ACTION it runs the "
                                 "service (--port or --sim). See docs/gateway.md.")
    ap.add_argument("--db", type=path_arg, default="railbot-gateway.db", help="the SQLite store (default railbot-gateway.db)")
    sub = ap.add_subparsers(dest="action", metavar="ACTION")
    db_too = argparse.ArgumentParser(add_help=False)  # --db after the action too; unset: the top one's
    db_too.add_argument("--db", type=path_arg, default=argparse.SUPPRESS, help="the SQLite store")
    user = sub.add_parser("user", help="operator accounts", parents=[db_too])
    user.add_argument("verb", choices=("add",))
    user.add_argument("name", type=text("the name", 200))
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    tok = sub.add_parser("token", help="new owner tokens for bays (printed once: put them on the QR codes)",
                         parents=[db_too])
    g = tok.add_mutually_exclusive_group(required=True)
    g.add_argument("--bay", type=ranged(int, 0, 9999))  # 1..44 checked below
    g.add_argument("--all", action="store_true")
    _run_args(ap)
    return ap


def _run_args(p) -> None:
    robot = p.add_mutually_exclusive_group()
    robot.add_argument("--port", type=port_arg, help="the robot's serial port (or socket://HOST:PORT)")
    robot.add_argument("--sim", action="store_true", help="the simulated robot in this process, paced to the wall clock")
    bus = p.add_mutually_exclusive_group()
    bus.add_argument("--bus", type=port_arg, help="the units' RS-485 Modbus RTU bus (a serial port)")
    bus.add_argument("--sim-bus", action="store_true", help="the simulated units' bus (with --sim)")
    p.add_argument("--csms", type=text("the URL", 1000), help="the central system, ws://... or wss://... (none: run on our own)")
    p.add_argument("--cp-id", type=word_arg, default="railbot", help="the charge point's identity at the CSMS (default railbot)")
    p.add_argument("--http", type=word_arg, default="127.0.0.1:8480", help="where the API listens (default 127.0.0.1:8480)")
    p.add_argument("--speed", type=ranged(int, 0, 999_999), default=1, help="with --sim: simulated seconds per wall second (default 1)")
    p.add_argument("--seed", type=ranged(int, 0, SEED_MAX), default=1, help="with --sim: the simulator's seed")


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise ValueError(f"--http {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8480 (port 0: any free one)")
    return host, int(port)


class NoRobot(RuntimeError):
    pass


class Service:
    """The running gateway: restarts its Gateway object on a robot that stops answering."""

    def __init__(self, args):
        self.args = args
        self.gateway = None
        self.stop = asyncio.Event()

    async def run(self) -> int:
        from aiohttp import web

        from railbot_host.gateway.api import Api
        from railbot_host.gateway.clock import SimClock, WallClock
        from railbot_host.gateway.core import Gateway
        from railbot_host.gateway.meters import BusServer, MeterClient, PlantMeters
        from railbot_host.gateway.robot import RobotLink, SimRobot

        a = self.args
        host, port = _host_port(a.http)
        sim = meters = bus = None
        lock = None
        if a.sim:
            sim = SimRobot(seed=a.seed)
            stream, clock = sim.stream, SimClock(sim.now_ms)
        else:
            import serial

            lock = portlock.acquire(a.port, a.http)
            try:
                stream = serial.serial_for_url(a.port, baudrate=115200, timeout=0.02)
            except (serial.SerialException, ValueError) as e:
                raise NoRobot(f"no robot at {a.port}: {e}") from None
            clock = WallClock()
        client = None
        cars = None
        if a.sim_bus:
            from railbot_host.gateway.simcars import SimCars

            meters = PlantMeters(sim.plant)
            bus = BusServer(meters)
            client = MeterClient(tcp_port=await bus.start())
            cars = SimCars(sim.plant, meters)
        elif a.bus:
            client = MeterClient(serial_port=a.bus)
        gw = Gateway(Store(a.db), RobotLink(stream), client, clock, csms_url=a.csms, cp_id=a.cp_id,
                     auto_home=a.sim)
        try:
            await gw.start()
        except LinkError as e:
            raise NoRobot(f"the robot at {a.port or 'the simulator'} does not answer the link handshake ({e}); "
                          f"is main.py running?") from None
        self.gateway = gw
        runner = web.AppRunner(Api(lambda: self.gateway).app)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # the one chosen, for --http HOST:0
        if lock is not None:
            portlock.say(lock, a.port, f"{host}:{port}")
        print(f"railbot gateway: robot {'simulated' if a.sim else a.port}, units' bus "
              f"{'simulated' if a.sim_bus else a.bus or 'none'}, CSMS {a.csms or 'none'}, API http://{host}:{port}/api/",
              flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        wall0 = time.monotonic()
        try:
            while not self.stop.is_set():
                if sim is not None:
                    t = int((time.monotonic() - wall0) * 1000 * a.speed)
                    sim.run_to(t)
                    if meters is not None:
                        meters.advance(t)
                        cars.step(t)
                await gw.tick()
                try:  # a tick every second of the robot's time, at most 2 s of simulated time
                    await asyncio.wait_for(self.stop.wait(), TICK_S if sim is None else min(TICK_S, 2 / a.speed))
                except asyncio.TimeoutError:
                    pass
        finally:
            await runner.cleanup()
            gw.kill()
            if bus is not None:
                await bus.stop()
            if lock is not None:
                lock.close()
        return 0


def main(argv: list[str]) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    try:
        if a.action == "user":
            if a.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass(f"password for {a.name}: ")
                if getpass.getpass("again: ") != password:
                    print("railbot gateway user add: the passwords differ", file=sys.stderr)
                    return 2
            store = Store(a.db)
            accounts.add_user(store, a.name, password)
            store.close()
            print(f"operator {a.name} saved in {a.db}")
            return 0
        if a.action == "token":
            if not a.all and not 1 <= a.bay <= 44:
                print(f"railbot gateway token: error: bay {a.bay} out of range 1..44", file=sys.stderr)
                return 2
            store = Store(a.db)
            for bay in range(1, 45) if a.all else [a.bay]:
                print(f"bay {bay}: {accounts.new_bay_token(store, bay)}")
            store.close()
            return 0
        if not a.sim and not a.port:
            ap.error("give the robot: --port PORT or --sim")
        if a.sim_bus and not a.sim:
            ap.error("--sim-bus simulates the units of the simulated robot: use it with --sim")
        if not 1 <= a.speed <= 1000:
            ap.error(f"--speed {a.speed}: 1..1000")
        if a.csms and not a.csms.startswith(("ws://", "wss://")):
            ap.error(f"--csms {a.csms!r}: a ws:// or wss:// URL")
        _host_port(a.http)
        return asyncio.run(Service(a).run())
    except accounts.AccountError as e:
        print(f"railbot gateway user add: error: {e}", file=sys.stderr)
        return 2
    except (portlock.PortHeld, NoRobot) as e:
        print(f"railbot gateway: {e}", file=sys.stderr)
        return 3
    except ValueError as e:
        print(f"railbot gateway: error: {e}", file=sys.stderr)
        return 2
