"""`make demo`: the gateway on the simulated robot and units with a day of cars asking through the owners' API, at 60x on 127.0.0.1; prints the operator's page and one owner's page.

The cars are `simboard.day.plan_day(seed)`'s, from --start-hour on (the morning, so the first comes
at once); each asks for a charge with its bay's token (POST /api/bay/{token}/request, as an owner's
phone does; a bay still busy asks again a minute later), and the simulated cars of `--sim-bus`
plug into each delivered unit, charge and put the gun back (`simcars.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from railbot_host.gateway import accounts, service
from railbot_host.gateway.clock import SIM_EPOCH
from railbot_host.gateway.store import Store
from railbot_host.upy import REPO_ROOT

OPERATOR = "operator"
PASSWORD = "railbot-demo"
RETRY_MS = 60_000
HOUR_MS = 3_600_000


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m railbot_host.gateway.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--http", default="127.0.0.1:8480", help="where the pages are served (default 127.0.0.1:8480)")
    ap.add_argument("--speed", type=int, default=60, help="simulated seconds per wall second (default 60)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start-hour", type=int, default=7, help="the hour of the day the demo starts at (default 7)")
    ap.add_argument("--db", default=str(REPO_ROOT / "build" / "demo" / "gateway.db"),
                    help="the store, made afresh (default build/demo/gateway.db)")
    a = ap.parse_args(argv)
    if not 0 <= a.start_hour <= 23:
        ap.error(f"--start-hour {a.start_hour}: 0..23")
    if not 1 <= a.speed <= 1000:
        ap.error(f"--speed {a.speed}: 1..1000")
    return a


def _fresh_store(db: Path) -> dict[int, str]:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = Store(db)
    accounts.add_user(store, OPERATOR, PASSWORD)
    tokens = {bay: accounts.new_bay_token(store, bay) for bay in range(1, 45)}
    store.close()
    return tokens


async def _cars(svc, a, tokens, base: str, shown_bay: int) -> None:
    """The day's cars ask through the owners' API at their time on the robot's clock."""
    import aiohttp
    from simboard.day import plan_day

    while svc.gateway is None:
        await asyncio.sleep(0.1)
    gw = svc.gateway
    gw.clock.epoch = SIM_EPOCH + dt.timedelta(hours=a.start_hour)  # the gateway's t = 0 is that hour
    t0 = a.start_hour * HOUR_MS
    due = sorted((c.arrive_ms + c.ask_ms - t0, c.bay) for c in plan_day(a.seed, hours=24) if c.arrive_ms >= t0)
    print(f"railbot demo: {len(due)} cars from {a.start_hour:02d}:00, at {a.speed}x "
          f"(a simulated hour is {3600 / a.speed:.0f} s)\n"
          f"  operator's page: {base}/operator   (name {OPERATOR}, password {PASSWORD})\n"
          f"  owner of bay {shown_bay}: {base}/bay/{tokens[shown_bay]}\n"
          f"  Ctrl-C stops it.", flush=True)
    async with aiohttp.ClientSession() as http:
        while due and not svc.stop.is_set():
            now = gw.now()
            while due and due[0][0] <= now:
                t, bay = due.pop(0)
                async with http.post(f"{base}/api/bay/{tokens[bay]}/request", json={}) as resp:
                    if resp.status == 409:  # the last car's unit is still there: ask again later
                        due.append((now + RETRY_MS, bay))
                        due.sort()
            await asyncio.sleep(0.2)


async def _run(a) -> int:
    tokens = _fresh_store(Path(a.db))
    args = service.build_parser().parse_args(["--db", a.db, "--sim", "--sim-bus", "--speed", str(a.speed),
                                              "--seed", str(a.seed), "--http", a.http])
    svc = service.Service(args)
    host, port = service._host_port(a.http)
    from railbot_host import sim

    sim._install()  # the SIM board's day plan
    from simboard.day import plan_day

    t0 = a.start_hour * HOUR_MS
    first = next(c.bay for c in plan_day(a.seed, hours=24) if c.arrive_ms >= t0)
    cars = asyncio.create_task(_cars(svc, a, tokens, f"http://{host}:{port}", first))
    try:
        return await svc.run()
    finally:
        cars.cancel()


def main(argv: list[str] | None = None) -> int:
    a = _args(sys.argv[1:] if argv is None else argv)
    try:
        service._host_port(a.http)
        return asyncio.run(_run(a))
    except OSError as e:
        print(f"railbot demo: cannot serve on {a.http}: {e} (another demo running? make demo DEMO_HTTP=127.0.0.1:8481)",
              file=sys.stderr)
        return 3
    except ValueError as e:
        print(f"railbot demo: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
