"""A day of the car park through the gateway: the simulated robot, the units' bus, the gateway and a test
CSMS on one virtual clock, the gateway killed at seeded instants and the CSMS cut for an hour.

Time: the robot's board clock is the one clock. The driver moves it on a step at a time, lets
the meters integrate, then runs the gateway's tick (which awaits every exchange it starts: link,
Modbus, OCPP) and any RemoteStart the CSMS owes a car; nothing runs on wall-clock timers, so
the day is the same on a fast or a slow machine (the network is loopback, its delays real but
outside the simulated time).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from railbot_host.gateway.chargepoint import GatewayKilled
from railbot_host.gateway.clock import SimClock
from railbot_host.gateway.core import Gateway
from railbot_host.gateway.csms import TestCsms
from railbot_host.gateway.meters import BusServer, MeterClient, PlantMeters
from railbot_host.gateway.robot import RobotLink, SimRobot
from railbot_host.gateway.store import Store

HOUR_MS = 3_600_000
MIN_MS = 60_000
STEP_MS = 2_000
RESTART_MS = 20_000  # a killed gateway is back after this long (its service manager restarts it)


@dataclass
class DayPlan:
    seed: int = 1
    hours: int = 24
    tail_hours: int = 12
    kills: int = 4  # at seeded instants between ticks
    kill_after_send: int = 1  # between sending an OCPP call and storing its answer
    kill_after_charge: int = 1  # between the robot taking a request and the gateway recording it
    kill_after_release: int = 1  # between the robot freeing a unit and the gateway recording it
    outage_h: float = 1.0
    units: int = 6


@dataclass
class CarLog:
    n: int
    bay: int
    ask_ms: int
    accepted_ms: int = -1
    latched_ms: int = -1
    plug_ms: int = -1
    unplug_ms: int = -1
    energy_start_mwh: int = 0
    energy_mwh: int = -1
    unit: int = 0


@dataclass
class DayResult:
    figures: dict
    cars: list[CarLog] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _car_task(plant, meters, car, log: CarLog, asks: list):
    """The car on the board's loop: it asks (the driver has the CSMS send RemoteStart), waits for a
    unit latched at its bay, plugs in, charges, unplugs; it leaves when its parking time is up."""
    from simboard import vasyncio as aio

    async def life():
        clock = plant_clock[0]
        await aio.sleep_ms(car.arrive_ms + car.ask_ms - clock())
        log.ask_ms = clock()
        asks.append(log)
        port = plant.port_index(f"B{car.bay}")
        while clock() < car.leave_ms:
            u = plant.unit_at(port)
            if u is not None and u.latched:
                log.latched_ms = clock()
                break
            await aio.sleep_ms(1000)
        if log.latched_ms < 0:
            return
        await aio.sleep_ms(car.plug_ms)
        u = plant.unit_at(port)
        if u is None:
            return
        m = meters.meters[u.id]
        m.advance(clock())
        log.unit, log.plug_ms, log.energy_start_mwh = u.id, clock(), m.energy_mwh
        u.gun_out, u.cp = True, "B"
        u.cp_duty_pct = plant.cp_rng.between(10, 85)
        await aio.sleep_ms(5000)
        m.advance(clock())
        u.cp = "C"
        await aio.sleep_ms(car.charge_ms)
        m.advance(clock())
        u.cp = "B"
        await aio.sleep_ms(car.return_ms)
        m.advance(clock())
        u.cp, u.gun_out = "A", False
        log.unplug_ms = clock()
        log.energy_mwh = m.energy_mwh - log.energy_start_mwh

    plant_clock = [None]
    return life, plant_clock


async def run_day(plan: DayPlan, db_path: Path | None = None, progress=None) -> DayResult:
    from random import Random

    rng = Random(plan.seed * 104729 + 3)
    sim = SimRobot(seed=plan.seed, units=plan.units)
    from simboard.day import plan_day  # importable once the simulator is installed
    plant = sim.plant
    meters = PlantMeters(plant)
    bus = BusServer(meters)
    bus_port = await bus.start()
    csms = await TestCsms().start()
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory()
        db_path = Path(tmp.name) / "gateway.db"
    clock = SimClock(sim.now_ms)
    end_ms = (plan.hours + plan.tail_hours) * HOUR_MS
    cars = plan_day(plan.seed, hours=plan.hours)
    logs = [CarLog(c.n, c.bay, -1) for c in cars]
    asks: list[CarLog] = []
    sim.board.make_current()
    for car, log in zip(cars, logs):
        life, pc = _car_task(plant, meters, car, log, asks)
        pc[0] = sim.now_ms
        sim.board.loop.create_task(life())

    day_ms = plan.hours * HOUR_MS
    kill_at = sorted(rng.randrange(day_ms // 24, day_ms) for _ in range(plan.kills))
    arm_at = sorted([(rng.randrange(day_ms // 4, day_ms), "after_send") for _ in range(plan.kill_after_send)]
                    + [(rng.randrange(day_ms // 4, day_ms), "after_charge") for _ in range(plan.kill_after_charge)]
                    + [(rng.randrange(day_ms // 4, day_ms), "after_release") for _ in range(plan.kill_after_release)])
    outage_start = rng.randrange(day_ms * 2 // 3, day_ms * 19 // 24)  # into the evening peak
    outage_end = outage_start + int(plan.outage_h * HOUR_MS)
    notes: list[str] = []

    def new_gateway() -> Gateway:
        sim.stream.drop()
        meters_client = MeterClient(tcp_port=bus_port, timeout_s=5.0)  # loopback: only a starved process is late
        return Gateway(Store(db_path), RobotLink(sim.stream, timeout_s=0.2, retries=1), meters_client, clock,
                       csms_url=csms.url, seed=rng.randrange(1 << 30), auto_home=True)

    gw = new_gateway()
    await gw.start()
    restart_ms = -1
    kills = 0
    armed_kills = {"after_send": 0, "after_charge": 0, "after_release": 0}
    in_flight_max = 0
    wall0 = time.perf_counter()
    pending_asks: list[CarLog] = []
    next_ask_try = 0
    t = 0
    while t < end_ms:
        t += STEP_MS
        sim.run_to(t)
        meters.advance(t)
        if csms.down != (outage_start <= t < outage_end):
            await csms.set_down(outage_start <= t < outage_end)
            notes.append(f"{t // 1000} s: CSMS {'down' if csms.down else 'back'}")
        pending_asks += asks
        asks.clear()
        if gw is None and t >= restart_ms:
            gw = new_gateway()
            await gw.start()
            notes.append(f"{t // 1000} s: gateway restarted")
        if gw is not None and kill_at and t >= kill_at[0]:
            kill_at.pop(0)
            gw.kill()
            gw, restart_ms, kills = None, t + RESTART_MS, kills + 1
            notes.append(f"{t // 1000} s: gateway killed")
        if gw is not None and arm_at and t >= arm_at[0][0]:
            gw.armed.add(arm_at.pop(0)[1])
        if gw is not None:
            try:
                await gw.tick()
                in_flight_max = max(in_flight_max, gw.ocpp.in_flight_max)
            except GatewayKilled as e:
                armed_kills[str(e)] += 1
                gw.kill()
                gw, restart_ms, kills = None, t + RESTART_MS, kills + 1
                notes.append(f"{t // 1000} s: gateway killed {e}")
        if pending_asks and t >= next_ask_try and csms.connected:
            still = []
            for log in pending_asks:
                status = await csms.remote_start(log.bay, f"CAR{log.n}")
                if status == "Accepted":
                    log.accepted_ms = t
                elif plant_time_left(cars, log, t):
                    still.append(log)
            pending_asks = still
            next_ask_try = t + MIN_MS  # a refused or unanswered RemoteStart is tried again a minute later
        if progress is not None and t % HOUR_MS == 0:
            progress(t, end_ms)
    wall_s = time.perf_counter() - wall0
    figures = _figures(sim, csms, gw, cars, logs, plan, kills, armed_kills, wall_s, end_ms)
    figures["ocpp_calls_in_flight_max"] = in_flight_max
    if gw is not None:
        gw.kill()
    await csms.stop()
    await bus.stop()
    if tmp is not None:
        tmp.cleanup()
    return DayResult(figures, logs, notes)


def plant_time_left(cars, log, t) -> bool:
    car = cars[log.n - 1]
    return t < car.leave_ms


def _figures(sim, csms, gw, cars, logs, plan, kills, armed_kills, wall_s, end_ms) -> dict:
    rec = csms.record
    # the robot's own record: each `request bay=B` it emitted; a car asks once, so more is a repeat
    robot_requests: dict[int, list[int]] = {}
    for t, text in sim.robot_events:
        if text.startswith("request bay="):
            robot_requests.setdefault(int(text.split("=")[1]), []).append(t)
    accepted = [g for g in logs if g.accepted_ms >= 0]
    lost = repeated = 0
    for g in accepted:
        # the robot's requests for this bay from this car's ask until the next car of the bay asks
        later = [o.ask_ms for o in logs if o.bay == g.bay and o.ask_ms > g.ask_ms]
        until = min(later) if later else end_ms
        times = [t for t in robot_requests.get(g.bay, []) if g.ask_ms <= t < until]
        lost += not times
        repeated += max(0, len(times) - 1)
    # each plugged car is one transaction at the CSMS: its Start and its Stop
    plugged = [g for g in logs if g.plug_ms >= 0 and g.unplug_ms >= 0]
    by_start: dict[tuple, object] = {}
    for tx in rec.transactions.values():
        by_start.setdefault(tx.connector, []).append(tx)
    msgs_lost = 0
    energy_err = []
    complete = 0
    used = set()
    for g in plugged:
        cands = [tx for tx in by_start.get(g.bay, []) if tx.tx_id not in used
                 and _ms(tx.start_ts) >= g.plug_ms and _ms(tx.start_ts) <= g.unplug_ms]
        if not cands:
            msgs_lost += 2
            continue
        tx = cands[0]
        used.add(tx.tx_id)
        if tx.meter_stop is None:
            msgs_lost += 1
            continue
        complete += 1
        energy_err.append(abs((tx.meter_stop - tx.meter_start) - g.energy_mwh / 1000))
    eta_err, eta_err_free = [], []
    if gw is not None:
        for r in gw.store.all("SELECT * FROM requests WHERE delivered_ms IS NOT NULL AND eta_s IS NOT NULL"):
            err = abs((r["delivered_ms"] - r["created_ms"]) / 1000 - r["eta_s"])
            eta_err.append(err)
            if r["free_unit"]:
                eta_err_free.append(err)
    unacked = gw.store.unacked_calls() if gw is not None else -1
    # and every message the gateway ever queued (its outbox is kept) reached the CSMS under its id
    if gw is not None:
        msgs_lost += sum(r["unique_id"] not in rec.answers for r in gw.store.all("SELECT unique_id FROM outbox"))
    return {
        "ocpp_day_cars": len([g for g in logs if g.ask_ms >= 0]),
        "ocpp_day_sessions": complete,
        "ocpp_schema_errors": len(rec.schema_errors),
        "ocpp_order_errors": len(rec.order_errors),
        "ocpp_messages_lost": msgs_lost,
        "ocpp_messages_duplicated": len(rec.duplicates),
        "ocpp_retransmits": rec.retransmits,
        "ocpp_frames_received": rec.frames,
        "ocpp_boots": rec.boots,
        "ocpp_outbox_unacked_at_end": unacked,
        "csms_connections_refused": csms.refused,
        "gateway_kills": kills,
        "gateway_kills_after_send": armed_kills["after_send"],
        "gateway_kills_after_charge": armed_kills["after_charge"],
        "gateway_kills_after_release": armed_kills["after_release"],
        "gateway_restart_requests_lost": lost,
        "gateway_restart_requests_repeated": repeated,
        "session_energy_error_wh_max": round(max(energy_err), 3) if energy_err else -1,
        "eta_error_p90_s": _p90(eta_err),
        "eta_error_p90_s_unit_free": _p90(eta_err_free),
        "eta_unit_free_requests": len(eta_err_free),
        "plant_violations": len(sim.plant.violations),
        "gateway_day_sim_s": end_ms // 1000,
        "gateway_day_wall_s": round(wall_s, 2),
    }


def _ms(ts: str) -> int:
    from datetime import datetime

    from railbot_host.gateway.clock import SIM_EPOCH

    return int((datetime.fromisoformat(ts.replace("Z", "+00:00")) - SIM_EPOCH).total_seconds() * 1000)


def _p90(xs: list[float]) -> float:
    if not xs:
        return -1
    xs = sorted(xs)
    return round(xs[max(0, (9 * len(xs) + 9) // 10 - 1)], 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m railbot_host.gateway.day [--seed N] [--hours H]`: the day's figures as `BENCH name value` lines."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m railbot_host.gateway.day", description=main.__doc__)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--tail", type=int, default=12)
    a = ap.parse_args(argv)
    r = asyncio.run(run_day(DayPlan(seed=a.seed, hours=a.hours, tail_hours=a.tail)))
    for k, v in r.figures.items():
        print(f"BENCH {k} {str(v).lower() if isinstance(v, bool) else v}")
    for n in r.notes:
        print(f"NOTE gateway day: {n}")
    print("BENCH_DONE")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
