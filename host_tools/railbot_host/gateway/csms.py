"""A central system (CSMS) for tests and the bench, on 127.0.0.1, built on the `ocpp` library: it checks
every raw frame it receives against the OCPP 1.6J JSON schemas (`jsonschema`), the boot order,
the order of each transaction's messages, and tells a retry (a message id seen before, answered
again from its record) from a duplicate (the same message under a new id).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import jsonschema
import ocpp.v16
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as _ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

SCHEMAS = Path(ocpp.v16.__file__).parent / "schemas"


def _validator(name: str):
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    return jsonschema.Draft4Validator(schema)


@dataclass
class Transaction:
    tx_id: int
    connector: int
    id_tag: str
    meter_start: int
    start_ts: str
    meter_values: list[tuple[str, int]] = field(default_factory=list)
    meter_stop: int | None = None
    stop_ts: str | None = None


class CsmsRecord:
    """What the CSMS received, across every connection."""

    def __init__(self):
        self.frames = 0
        self.schema_errors: list[str] = []
        self.order_errors: list[str] = []
        self.retransmits = 0
        self.duplicates: list[str] = []
        self.answers: dict[str, str] = {}  # message id -> the frame it was answered with
        self.transactions: dict[int, Transaction] = {}
        self.starts: dict[tuple, int] = {}  # (connector, timestamp) -> tx id
        self.boots = 0
        self.statuses: list[tuple[int, str]] = []
        self.next_tx = 1000
        self.id_tag_status = "Accepted"  # what StartTransaction answers about the idTag
        self.refuse_meter_values = 0  # the next N MeterValues are answered with a CallError
        self.boot_status = "Accepted"  # or Pending, Rejected


class CsmsChargePoint(_ChargePoint):
    def __init__(self, cp_id, connection, record: CsmsRecord, interval_s: int):
        super().__init__(cp_id, connection, response_timeout=10)
        self.rec = record
        self.interval_s = interval_s
        self.booted = False
        self.sent_actions: dict[str, str] = {}  # our calls' ids -> action, to check their answers

    async def route_message(self, raw_msg):
        rec = self.rec
        rec.frames += 1
        try:
            msg = json.loads(raw_msg)
            kind, uid = msg[0], msg[1]
        except (ValueError, IndexError, KeyError, TypeError):
            rec.schema_errors.append(f"not an OCPP-J frame: {raw_msg[:80]!r}")
            return
        if kind == 2:
            action, payload = msg[2], msg[3]
            try:
                for err in _validator(action).iter_errors(payload):
                    rec.schema_errors.append(f"{action}: {err.message}")
            except FileNotFoundError:
                rec.schema_errors.append(f"unknown action {action!r}")
            if uid in rec.answers:  # a retry of a message already handled: the same answer again
                rec.retransmits += 1
                await self._connection.send(rec.answers[uid])
                return
            if not self.booted and action != "BootNotification":
                rec.order_errors.append(f"{action} before BootNotification was accepted")
        elif kind in (3, 4):
            action = self.sent_actions.pop(uid, None)
            if kind == 3 and action is not None:
                for err in _validator(action + "Response").iter_errors(msg[2]):
                    rec.schema_errors.append(f"{action}Response: {err.message}")
        await super().route_message(raw_msg)

    async def _send(self, message):
        msg = json.loads(message)
        if msg[0] == 2:
            self.sent_actions[msg[1]] = msg[2]
        elif msg[0] == 3:  # a CallError is not kept: the same message again is handled again
            self.rec.answers[msg[1]] = message
        await super()._send(message)

    @on(Action.boot_notification)
    def on_boot(self, **_):
        self.rec.boots += 1
        status = self.rec.boot_status
        self.booted = status == "Accepted"
        return call_result.BootNotification(current_time="2026-12-07T00:00:00Z", interval=self.interval_s,
                                            status=RegistrationStatus(status))

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time="2026-12-07T00:00:00Z")

    @on(Action.status_notification)
    def on_status(self, connector_id, error_code, status, **_):
        self.rec.statuses.append((connector_id, status))
        return call_result.StatusNotification()

    @on(Action.start_transaction)
    def on_start(self, connector_id, id_tag, meter_start, timestamp, **_):
        rec = self.rec
        key = (connector_id, timestamp)
        if key in rec.starts:
            rec.duplicates.append(f"StartTransaction {key} again under a new message id")
            tx = rec.starts[key]
        else:
            rec.next_tx += 1
            tx = rec.next_tx
            rec.starts[key] = tx
            rec.transactions[tx] = Transaction(tx, connector_id, id_tag, meter_start, timestamp)
        return call_result.StartTransaction(transaction_id=tx, id_tag_info={"status": rec.id_tag_status})

    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, transaction_id=None, **_):
        if self.rec.refuse_meter_values:
            self.rec.refuse_meter_values -= 1
            raise ValueError("refused by the test")  # the library answers it with a CallError
        t = self.rec.transactions.get(transaction_id)
        if t is None:
            self.rec.order_errors.append(f"MeterValues for unknown transaction {transaction_id}")
        else:
            for mv in meter_value:
                sample = (mv["timestamp"], int(float(mv["sampled_value"][0]["value"])))
                if sample in t.meter_values:
                    self.rec.duplicates.append(f"MeterValues {sample} of {transaction_id} again")
                elif t.stop_ts is not None or mv["timestamp"] < t.start_ts or (
                        t.meter_values and mv["timestamp"] < t.meter_values[-1][0]):
                    self.rec.order_errors.append(f"MeterValues of {transaction_id} out of order at {mv['timestamp']}")
                t.meter_values.append(sample)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop(self, meter_stop, timestamp, transaction_id, **_):
        t = self.rec.transactions.get(transaction_id)
        if t is None:
            self.rec.order_errors.append(f"StopTransaction for unknown transaction {transaction_id}")
        elif t.stop_ts is not None:
            self.rec.duplicates.append(f"StopTransaction of {transaction_id} again under a new message id")
        else:
            if timestamp < t.start_ts or meter_stop < t.meter_start:
                self.rec.order_errors.append(f"StopTransaction of {transaction_id} before its start")
            t.meter_stop, t.stop_ts = meter_stop, timestamp
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})


class TestCsms:
    """The server: one charge point connection at a time; `down` refuses connections (an outage)."""

    def __init__(self, interval_s: int = 300):
        self.record = CsmsRecord()
        self.interval_s = interval_s
        self.cp: CsmsChargePoint | None = None
        self.server = None
        self.port = 0
        self.down = False
        self.refused = 0
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> "TestCsms":
        async def process_request(connection, request):
            if self.down:
                self.refused += 1
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "outage\n")
            return None

        self.server = await websockets.serve(self._handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"],
                                             process_request=process_request, ping_interval=None)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handler(self, ws):
        cp = CsmsChargePoint(ws.request.path.strip("/"), ws, self.record, self.interval_s)
        self.cp = cp
        try:
            await cp.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.cp is cp:
                self.cp = None

    async def set_down(self, down: bool) -> None:
        """An outage: the connection is cut and new ones are refused until it is over."""
        self.down = down
        if down and self.cp is not None:
            self.cp._connection.transport.abort()
            self.cp = None

    @property
    def connected(self) -> bool:
        return self.cp is not None and self.cp.booted

    async def send(self, payload):
        """One call to the charge point; None if there is none connected or it does not answer."""
        cp = self.cp
        if cp is None or not cp.booted:
            return None
        try:
            return await cp.call(payload, suppress=False)
        except Exception:
            return None

    async def remote_start(self, bay: int, id_tag: str) -> str | None:
        r = await self.send(call.RemoteStartTransaction(id_tag=id_tag, connector_id=bay))
        return None if r is None else r.status

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
