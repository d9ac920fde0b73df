"""The gateway's decisions, one tick at a time: requests to the robot, sessions from the units' meters,
connector statuses, OCPP messages into the outbox, events to whoever listens.

Everything the gateway decides is committed to the store before it acts on it, and everything it
does is found again from the robot's own record when its own record is older (a kill between
the act and the record): `charge B` answered "already has a request" means the robot has it;
`release B` answered "no unit serving" means it was done.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from railbot_host.gateway.chargepoint import GatewayKilled, OcppConnection
from railbot_host.gateway.clock import iso
from railbot_host.gateway.eta import EtaModel
from railbot_host.gateway.ocppconfig import SAMPLED_DATA, OcppConfig

METER_POLL_MS = 2_000
CHARGING_POLL_MS = 10_000
CHARGE_RETRY_MS = 10_000
_BAY = re.compile(r"\bbay=(\d+)")


class Gateway:
    def __init__(self, store, robot, meters, clock, *, csms_url: str | None = None, cp_id: str = "railbot",
                 seed: int = 0, auto_home: bool = False, bays: int = 44):
        self.store = store
        self.robot = robot  # gateway.robot.RobotLink
        self.meters = meters  # gateway.meters.MeterClient or None
        self.clock = clock
        self.bays = bays
        self.auto_home = auto_home
        self.config = OcppConfig(store, bays)
        self.ocpp = OcppConnection(self, csms_url, cp_id, seed)
        self.readings: dict[int, object] = {}  # bay -> the latest MeterReading of its unit
        self.next_meter_ms = 0
        self.retry_ms: dict[int, int] = {}
        self.armed: set[str] = set()
        self.listeners: list[asyncio.Queue] = []
        self.eta: EtaModel | None = None
        self.started = False
        self._unavailable: set[int] | None = None
        self.next_read_ms: dict[int, int] = {}
        self.pending_disable: set[int] = set()
        self.orphan_since: dict[int, int] = {}

    # --- life ---
    async def start(self) -> None:
        """Say hello to the robot and read its board data (the robot's record is the truth from here)."""
        hello = await self.robot.astart()
        self._robot_events()
        self.eta = EtaModel(self.robot.site, self.robot.x_cfg)
        self.eta.handling_s = float(self.store.setting("eta.handling_s", str(self.eta.handling_s)))
        self.eta.busy_s = float(self.store.setting("eta.busy_s", str(self.eta.busy_s)))
        self.eta.learned = int(self.store.setting("eta.learned", "0"))
        self.started = True
        self.note("gateway", f"started; the robot answered {hello!r}")

    def kill(self) -> None:
        """Stop at once, as a kill would: nothing more is written, the CSMS connection is cut."""
        self.ocpp.drop()
        if self.meters is not None:
            self.meters.close()
        self.store.close()

    def crash_point(self, name: str) -> None:
        if name in self.armed:
            self.armed.discard(name)
            raise GatewayKilled(name)

    def now(self) -> int:
        return self.clock.now_ms()

    def iso(self, t_ms: int) -> str:
        return iso(self.clock, t_ms)

    # --- events ---
    def note(self, kind: str, text: str, bay: int | None = None) -> None:
        t = self.now()
        eid = self.store.event(t, kind, text, bay)
        for q in list(self.listeners):
            q.put_nowait({"id": eid, "t_ms": t, "kind": kind, "bay": bay, "text": text})

    def _robot_events(self) -> None:
        for text in self.robot.events():
            m = _BAY.search(text)
            self.note("robot", text, int(m.group(1)) if m else None)

    async def ask(self, line: str) -> str:
        """One robot command; the events it caused recorded."""
        reply = await self.robot.ask(line)
        self._robot_events()
        return reply

    # --- requests (from the CSMS or the owners' API) ---
    def remote_start(self, bay: int, id_tag: str, source: str) -> bool:
        """A charge request for a bay, stored before it is answered; a repeat of an open one is
        accepted again, not added (a CSMS retrying a call it got no answer to)."""
        if not 1 <= bay <= self.bays or self.unavailable(bay):
            return False
        if self.store.open_request(bay) is not None:
            return self.store.open_request(bay)["id_tag"] == id_tag
        st = self.robot.state
        at = st.unit_at_bay(bay)
        if at is not None and at[1] != "free":
            return False  # the last session's unit still serves it: a request once it is released
        queued = [r["bay"] for r in self.store.open_requests() if r["state"] in ("accepted", "queued")]
        free = [p for _, p in st.free_units()]
        busy = []
        for r in self.store.all("SELECT * FROM requests WHERE state='delivered'"):
            busy.append(((r["delivered_ms"] - self.now()) / 1000 + self.eta.busy_s if self.eta else 0, f"B{r['bay']}"))
        eta_s = round(self.eta.estimate(st.x_mm, free, busy, queued, bay)) if self.eta else None
        free_unit = int(not queued and st.jobs == 0 and bool(free) and st.state == "IDLE")
        rid = self.store.run("INSERT INTO requests(bay, id_tag, source, state, created_ms, eta_s, free_unit) "
                             "VALUES(?, ?, ?, 'accepted', ?, ?, ?)", bay, id_tag, source, self.now(), eta_s, free_unit)
        self.note("request", f"request {rid} for bay {bay} from {source}, eta {eta_s} s", bay)
        return True

    async def cancel(self, bay: int) -> str:
        """An owner takes back a request the robot has not begun: `ok` or why not."""
        r = self.store.open_request(bay)
        if r is None:
            return "no request for this bay"
        if r["state"] == "delivered":
            return "the unit is already there"
        if r["state"] in ("accepted", "queued"):  # accepted: the robot may have it (a kill before our record)
            reply = await self.ask(f"cancel {bay}")
            if not reply.startswith("ok") and "no request" not in reply:
                return reply.removeprefix("error: ")
        self.store.set_request(r["id"], state="cancelled", ended_ms=self.now())
        self.note("request", f"request {r['id']} for bay {bay} cancelled", bay)
        return "ok"

    def remote_stop(self, tx_id: int) -> bool:
        s = self.store.one("SELECT * FROM sessions WHERE tx_id=? AND state='open'", tx_id)
        if s is None:
            return False
        self.store.set_session(s["id"], stop_reason="Remote")
        self.pending_disable.add(s["unit"])  # the EVSE stops offering current at the next poll
        return True

    def change_availability(self, conn: int, kind: str) -> str:
        if not 0 <= conn <= self.bays:
            return "Rejected"
        busy = conn and self.store.open_session(conn) is not None
        self.store.set_setting(f"unavailable.{conn}", "1" if kind == "Inoperative" else "0")
        self._unavailable = None
        return "Scheduled" if busy and kind == "Inoperative" else "Accepted"

    def unavailable(self, conn: int) -> bool:
        if self._unavailable is None:  # read once per change: asked for every connector every tick
            self._unavailable = {int(r["key"].split(".")[1]) for r in
                                 self.store.all("SELECT key FROM settings WHERE key LIKE 'unavailable.%' AND value='1'")}
        return conn in self._unavailable or 0 in self._unavailable

    # --- the tick ---
    async def tick(self) -> None:
        now = self.now()
        st = await self.robot.apoll()
        self._robot_events()
        if self.auto_home and st.online and not st.homed and not st.alarm and st.state == "IDLE":
            reply = await self.ask("home")
            self.note("robot", f"home: {reply}")
        if st.online:
            await self._requests(now, st)
            await self._meters(now, st)
            await self._sessions(now, st)
        await self.ocpp.flush(now)

    async def _requests(self, now: int, st) -> None:
        await self._orphans(now, st)
        for r in self.store.open_requests():
            bay = r["bay"]
            if r["state"] == "accepted" and now >= self.retry_ms.get(bay, 0):
                reply = await self.ask(f"charge {bay}")
                self.crash_point("after_charge")  # a kill here: the robot has it, our record not yet
                if reply.startswith("ok") or "already has" in reply:
                    self.store.set_request(r["id"], state="queued", queued_ms=now)
                    self.note("request", f"request {r['id']} for bay {bay}: {reply}", bay)
                else:
                    self.retry_ms[bay] = now + CHARGE_RETRY_MS
                    self.note("request", f"request {r['id']} for bay {bay} refused for now: {reply}", bay)
            elif r["state"] == "queued":
                at = st.unit_at_bay(bay)
                if at is not None and at[1] in ("serving", "in-use"):
                    self.store.set_request(r["id"], state="delivered", delivered_ms=now, unit=at[0])
                    self.note("delivered", f"unit {at[0]} at bay {bay}", bay)
                    if r["free_unit"] and r["eta_s"] is not None and self.eta is not None:
                        self.eta.learn(r["eta_s"], (now - r["created_ms"]) / 1000)
                        self.store.set_setting("eta.handling_s", f"{self.eta.handling_s:.3f}")
                        self.store.set_setting("eta.learned", str(self.eta.learned))
            elif r["state"] == "delivered" and self.store.open_session(bay) is None:
                waited_s = (now - r["delivered_ms"]) / 1000
                if waited_s > self.config.int("ConnectionTimeOut"):
                    reply = await self.ask(f"release {bay}")
                    if reply.startswith("ok") or "no unit serving" in reply:
                        self.store.set_request(r["id"], state="timed_out", ended_ms=now)
                        self.note("request", f"request {r['id']}: no car plugged in within "
                                             f"{self.config.int('ConnectionTimeOut')} s, unit released", bay)

    async def _orphans(self, now: int, st) -> None:
        """A unit the robot says serves a bay that has no request or session here (our record lost
        it, or never had it): released after ConnectionTimeOut, as a unit nobody plugged into."""
        bays = {r["bay"] for r in self.store.open_requests()} | {
            r["bay"] for r in self.store.all("SELECT bay FROM sessions WHERE state IN ('open','stopped')")}
        for uid, (port, state) in st.units.items():
            bay = int(port[1:]) if port.startswith("B") else 0
            if not bay or state != "serving" or bay in bays:
                self.orphan_since.pop(bay, None)
                continue
            since = self.orphan_since.setdefault(bay, now)
            if now - since > self.config.int("ConnectionTimeOut") * 1000:
                reply = await self.ask(f"release {bay}")
                self.note("robot", f"unit {uid} at bay {bay} served no request of ours: release: {reply}", bay)
                self.orphan_since.pop(bay, None)

    async def _meters(self, now: int, st) -> None:
        if self.meters is None or now < self.next_meter_ms:
            return
        self.next_meter_ms = now + METER_POLL_MS
        for unit in sorted(self.pending_disable):
            if await self.meters.enable(unit, False):
                self.pending_disable.discard(unit)
        # a bay's unit while it serves, and while the bay has a session not yet closed (a unit the
        # robot freed before a kill let the gateway record it)
        unfinished = {r["bay"] for r in self.store.all("SELECT bay FROM sessions WHERE state IN ('open','stopped')")}
        for uid, (port, state) in st.units.items():
            if port.startswith("B") and (state in ("serving", "in-use") or int(port[1:]) in unfinished) \
                    and now >= self.next_read_ms.get(uid, 0):
                reading = await self.meters.read(uid)
                if reading is not None:
                    self.readings[int(port[1:])] = reading
                    # while a car charges nothing is decided until it stops: a slower poll will do
                    # (the energy at start and stop is read while no current flows, so it is exact)
                    self.next_read_ms[uid] = now + (CHARGING_POLL_MS if reading.pilot == "C" else 0)

    async def _sessions(self, now: int, st) -> None:
        for bay, reading in list(self.readings.items()):
            at = st.unit_at_bay(bay)
            s = self.store.open_session(bay)
            if at is None or at[0] != reading.unit:
                if s is None:
                    del self.readings[bay]
                continue
            plugged = reading.pilot in "BCD"
            if s is None and plugged:
                r = self.store.open_request(bay)
                tag = r["id_tag"] if r is not None else "LOCAL"
                with self.store.tx() as db:  # the session and its StartTransaction, together
                    sid = db.execute("INSERT INTO sessions(bay, unit, request_id, id_tag, state, start_ms, "
                                     "meter_start_wh, last_sample_ms) VALUES(?, ?, ?, ?, 'open', ?, ?, ?)",
                                     (bay, reading.unit, r["id"] if r else None, tag, now, reading.energy_wh,
                                      now)).lastrowid
                    self._queue(db, "StartTransaction", {"connector_id": bay, "id_tag": tag,
                                                         "meter_start": reading.energy_wh,
                                                         "timestamp": self.iso(now)}, sid, now)
                self.note("session", f"session {sid} started at bay {bay}, unit {reading.unit}, "
                                     f"meter {reading.energy_wh} Wh", bay)
                continue
            if s is None:
                continue
            if s["state"] == "open":
                ended = reading.holstered and reading.pilot == "A"
                if ended or s["stop_reason"] is not None:  # Remote, DeAuthorized: set before the stop
                    reason = s["stop_reason"] or "EVDisconnected"
                    with self.store.tx() as db:
                        db.execute("UPDATE sessions SET state='stopped', stop_ms=?, meter_stop_wh=?, stop_reason=? "
                                   "WHERE id=?", (now, reading.energy_wh, reason, s["id"]))
                        self._queue(db, "StopTransaction", {"meter_stop": reading.energy_wh,
                                                            "timestamp": self.iso(now), "reason": reason,
                                                            "transaction_id": 0}, s["id"], now)
                    self.note("session", f"session {s['id']} at bay {bay} stopped ({reason}): "
                                         f"{reading.energy_wh - s['meter_start_wh']} Wh", bay)
                    continue
                if now - s["last_sample_ms"] >= self.config.int("MeterValueSampleInterval") * 1000:
                    with self.store.tx() as db:  # a reading kept at each sample, not every poll
                        db.execute("UPDATE sessions SET last_sample_ms=? WHERE id=?", (now, s["id"]))
                        db.execute("INSERT INTO meter_readings(session_id, t_ms, wh, pilot) VALUES(?, ?, ?, ?)",
                                   (s["id"], now, reading.energy_wh, reading.pilot))
                        self._queue(db, "MeterValues", self._meter_value(bay, reading.energy_wh, now), s["id"], now)
            if s["state"] == "stopped" and reading.holstered and reading.pilot == "A":
                reply = await self.ask(f"release {bay}")
                self.crash_point("after_release")  # a kill here: the unit is free, our record not yet
                if reply.startswith("ok") or "no unit serving" in reply:
                    r = self.store.open_request(bay)
                    if r is not None and r["delivered_ms"] is not None and self.eta is not None:
                        self.eta.learn_busy((now - r["delivered_ms"]) / 1000)
                        self.store.set_setting("eta.busy_s", f"{self.eta.busy_s:.1f}")
                    with self.store.tx() as db:
                        db.execute("UPDATE sessions SET state='released' WHERE id=?", (s["id"],))
                        db.execute("UPDATE requests SET state='done', ended_ms=? WHERE bay=? AND state='delivered'",
                                   (now, bay))
                    if self.meters is not None:
                        await self.meters.enable(reading.unit, True)
                    self.note("session", f"unit {reading.unit} released at bay {bay}", bay)

    def _meter_value(self, bay: int, wh: int, now: int) -> dict:
        return {"connector_id": bay, "transaction_id": 0, "meter_value": [
            {"timestamp": self.iso(now), "sampledValue": [
                {"value": str(wh), "context": "Sample.Periodic", "measurand": SAMPLED_DATA, "unit": "Wh"}]}]}

    def _queue(self, db, action: str, payload: dict, session_id: int | None, now: int) -> None:
        db.execute("INSERT INTO outbox(unique_id, action, payload, session_id, created_ms) VALUES(?, ?, ?, ?, ?)",
                   (str(uuid.uuid4()), action, json.dumps(payload), session_id, now))

    # --- what the OCPP connection asks ---
    def tx_id_of(self, session_id: int) -> int:
        row = self.store.one("SELECT tx_id FROM sessions WHERE id=?", session_id)
        return row["tx_id"] if row and row["tx_id"] is not None else 0

    def acknowledged(self, row, result, now: int) -> None:
        with self.store.tx() as db:
            db.execute("UPDATE outbox SET acked_ms=? WHERE seq=?", (now, row["seq"]))
            if row["action"] == "StartTransaction" and result is not None:
                db.execute("UPDATE sessions SET tx_id=? WHERE id=?", (result.transaction_id, row["session_id"]))
                status = (result.id_tag_info or {}).get("status", "Accepted")
                if status != "Accepted":  # the CSMS refused the idTag: the EVSE stops, the transaction ends
                    db.execute("UPDATE sessions SET stop_reason='DeAuthorized' WHERE id=?", (row["session_id"],))
                    unit = db.execute("SELECT unit FROM sessions WHERE id=?", (row["session_id"],)).fetchone()
                    self.pending_disable.add(unit["unit"])

    def meter_values_now(self, conn: int | None, now: int) -> list[dict]:
        out = []
        for bay, reading in sorted(self.readings.items()):
            s = self.store.open_session(bay)
            if (conn is None or conn == bay) and s is not None and s["state"] == "open" and s["tx_id"] is not None:
                mv = self._meter_value(bay, reading.energy_wh, now)
                mv["transaction_id"] = s["tx_id"]
                mv["meter_value"][0]["sampledValue"][0]["context"] = "Trigger"
                out.append(mv)
        return out

    def connector_statuses(self) -> dict[int, str]:
        st = self.robot.state
        out = {0: "Faulted" if st.alarm else "Unavailable" if not st.online or self.unavailable(0) else "Available"}
        open_req = {r["bay"]: r for r in self.store.open_requests()}
        sessions = {r["bay"]: r for r in self.store.all("SELECT * FROM sessions WHERE state IN ('open','stopped')")}
        for bay in range(1, self.bays + 1):
            reading = self.readings.get(bay)
            s = sessions.get(bay)
            if reading is not None and reading.fault:
                out[bay] = "Faulted"
            elif s is not None and s["state"] == "open" and reading is not None:
                if reading.pilot == "C":
                    out[bay] = "Charging" if reading.current_deci_a else "SuspendedEVSE"
                else:
                    out[bay] = "SuspendedEV" if reading.current_deci_a else "SuspendedEVSE"
            elif s is not None:
                out[bay] = "Finishing"
            elif self.unavailable(bay):
                out[bay] = "Unavailable"
            elif bay in open_req:
                out[bay] = "Preparing"
            else:
                out[bay] = "Available"
        return out

    # --- what the API shows ---
    def bay_view(self, bay: int) -> dict:
        r = self.store.open_request(bay) or self.store.one("SELECT * FROM requests WHERE bay=? ORDER BY id DESC LIMIT 1", bay)
        s = self.store.one("SELECT * FROM sessions WHERE bay=? ORDER BY id DESC LIMIT 1", bay)
        waiting = [q["bay"] for q in self.store.open_requests() if q["state"] in ("accepted", "queued")]
        out = {"bay": bay, "status": self.connector_statuses()[bay], "request": None, "session": None}
        if r is not None:
            eta_at = r["created_ms"] + r["eta_s"] * 1000 if r["eta_s"] is not None else None
            out["request"] = {"id": r["id"], "state": r["state"],
                              "queue_position": waiting.index(bay) + 1 if bay in waiting else 0,
                              "eta_s": max(0, round((eta_at - self.now()) / 1000)) if eta_at is not None
                              and r["state"] in ("accepted", "queued") else 0,
                              "unit": r["unit"]}
        if s is not None:
            reading = self.readings.get(bay)
            last = s["meter_stop_wh"] if s["meter_stop_wh"] is not None else (
                reading.energy_wh if reading is not None and reading.unit == s["unit"] else s["meter_start_wh"])
            out["session"] = {"id": s["id"], "state": s["state"], "unit": s["unit"],
                              "energy_wh": last - s["meter_start_wh"], "started": self.iso(s["start_ms"]),
                              "stopped": self.iso(s["stop_ms"]) if s["stop_ms"] is not None else None}
        return out

    def rail_view(self) -> dict:
        st = self.robot.state
        statuses = self.connector_statuses()
        return {"robot": {"online": st.online, "state": st.state, "x_mm": st.x_mm, "z_mm": st.z_mm,
                          "carry": st.carry, "alarm": st.alarm,
                          "homed": st.homed, "jobs": st.jobs, "status": statuses[0]},
                "units": [{"unit": u, "port": p, "state": s} for u, (p, s) in sorted(st.units.items())],
                "queue": [{"bay": r["bay"], "request": r["id"], "state": r["state"]}
                          for r in self.store.open_requests()],
                "connectors": {str(k): v for k, v in statuses.items()},
                "ocpp": {"connected": self.ocpp.connected, "booted": self.ocpp.booted,
                         "unacknowledged": self.store.unacked_calls()}}
