"""The rail as one OCPP 1.6J charge point (the `ocpp` library over `websockets`): connector 0 the robot, 1..44 the bays.

One connection at a time; BootNotification first, and nothing else until it is Accepted. Every
call goes out one at a time (the library's call lock; and the gateway awaits each). Transaction
messages (Start/StopTransaction, MeterValues) come from the durable outbox (store.Store) in order
and leave it only when the CSMS has answered them; a message that was sent and not answered is
sent again after a reconnect with the same message id, so the CSMS can tell a retry from a new
message. A lost connection is tried again after a jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import json
import random

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as _ChargePoint
from ocpp.v16 import call
from ocpp.v16.enums import (Action, AvailabilityStatus, ConfigurationStatus, RegistrationStatus,
                            RemoteStartStopStatus, ResetStatus, TriggerMessageStatus)
from ocpp.v16 import call_result

BACKOFF_FIRST_MS = 5_000
BACKOFF_MAX_MS = 300_000


class GatewayKilled(BaseException):
    """Raised at an armed crash point: the test's way to kill the gateway at a chosen instant."""


class RailChargePoint(_ChargePoint):
    """The library's charge point with the CSMS's requests passed to the gateway."""

    def __init__(self, cp_id, connection, gateway):
        super().__init__(cp_id, connection, response_timeout=10)
        self.gw = gateway

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **_):
        ok = connector_id is not None and self.gw.remote_start(int(connector_id), id_tag, "csms")
        return call_result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **_):
        ok = self.gw.remote_stop(int(transaction_id))
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **_):
        return call_result.ChangeAvailability(status=AvailabilityStatus(self.gw.change_availability(connector_id, type)))

    @on(Action.reset)
    def on_reset(self, type, **_):
        self.gw.ocpp.reset_requested = type
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.trigger_message)
    def on_trigger(self, requested_message, connector_id=None, **_):
        if requested_message not in ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues"):
            return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)
        if connector_id is not None and not 0 <= connector_id <= self.gw.bays:
            return call_result.TriggerMessage(status=TriggerMessageStatus.rejected)
        self.gw.ocpp.triggers.append((requested_message, connector_id))
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **_):
        known, unknown = self.gw.config.get_many(key)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **_):
        return call_result.ChangeConfiguration(status=ConfigurationStatus(self.gw.config.change(key, value)))


class OcppConnection:
    """The websocket to the CSMS, the boot, heartbeats, status notifications and the outbox."""

    def __init__(self, gateway, url: str | None, cp_id: str = "railbot", seed: int = 0):
        self.gw = gateway
        self.url = url
        self.cp_id = cp_id
        self.rng = random.Random(seed)
        self.ws = None
        self.cp: RailChargePoint | None = None
        self.reader: asyncio.Task | None = None
        self.booted = False
        self.next_try_ms = 0
        self.failures = 0
        self.next_heartbeat_ms = 0
        self.next_boot_ms = 0
        self.sent_status: dict[int, str] = {}
        self.triggers: list[tuple[str, int | None]] = []
        self.reset_requested: str | None = None
        self.calls = 0
        self.connects = 0
        self.in_flight = 0  # our calls sent and not yet answered: never more than one (OCPP-J)
        self.in_flight_max = 0
        self.attempts: dict[int, int] = {}  # outbox seq -> CallErrors so far
        self.retry_at_ms: dict[int, int] = {}

    @property
    def connected(self) -> bool:
        return self.ws is not None and self.reader is not None and not self.reader.done()

    def _backoff(self, now_ms: int) -> None:
        self.failures += 1
        cap = min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS << min(self.failures - 1, 8))
        self.next_try_ms = now_ms + cap // 2 + self.rng.randrange(cap // 2 + 1)  # jitter: half to all of it
        self.drop()

    def drop(self) -> None:
        """Forget the connection at once (no closing handshake: as a kill or a cut cable would)."""
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            transport = getattr(self.ws, "transport", None)
            if transport is not None:
                transport.abort()
        self.ws = self.cp = self.reader = None
        self.booted = False
        self.next_boot_ms = 0
        self.sent_status = {}

    async def _call(self, payload, unique_id: str | None = None):
        self.calls += 1
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)
        try:
            return await self.cp.call(payload, suppress=False, unique_id=unique_id)
        finally:
            self.in_flight -= 1

    async def connect(self, now_ms: int) -> bool:
        if self.url is None or now_ms < self.next_try_ms:
            return False
        try:
            self.ws = await websockets.connect(f"{self.url.rstrip('/')}/{self.cp_id}", subprotocols=["ocpp1.6"],
                                               open_timeout=5, ping_interval=None)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
            self._backoff(now_ms)
            return False
        self.connects += 1
        self.cp = RailChargePoint(self.cp_id, self.ws, self.gw)
        self.reader = asyncio.create_task(self.cp.start())
        return True

    async def boot(self, now_ms: int) -> bool:
        r = await self._call(call.BootNotification(charge_point_model="railbot rail", charge_point_vendor="railbot",
                                                   firmware_version="gateway-1"))
        if r.status != RegistrationStatus.accepted:  # Pending/Rejected: nothing else; ask again later
            self.next_boot_ms = now_ms + max(10, r.interval) * 1000
            return False
        self.booted = True
        self.failures = 0
        if r.interval > 0:
            self.gw.config.set_heartbeat(r.interval)
        self.next_heartbeat_ms = now_ms + self.gw.config.int("HeartbeatInterval") * 1000
        return True

    async def flush(self, now_ms: int) -> None:
        """Connect and boot if needed; then heartbeat, status notifications, triggered messages and
        the outbox, one call at a time. A failure drops the connection and backs off."""
        if self.reset_requested:
            self.reset_requested = None
            self.drop()  # a reset: a new connection and a new BootNotification
        if not self.connected:
            self.drop()
            if not await self.connect(now_ms):
                return
        try:
            if not self.booted and (now_ms < self.next_boot_ms or not await self.boot(now_ms)):
                return
            while self.triggers:
                what, conn = self.triggers.pop(0)
                await self._triggered(what, conn, now_ms)
            if now_ms >= self.next_heartbeat_ms:
                await self._call(call.Heartbeat())
                self.next_heartbeat_ms = now_ms + self.gw.config.int("HeartbeatInterval") * 1000
            for conn, status in self.gw.connector_statuses().items():
                if self.sent_status.get(conn) != status:
                    await self._status(conn, status, now_ms)
            while True:
                row = self.gw.store.next_call()
                if row is None or now_ms < self.retry_at_ms.get(row["seq"], 0):
                    break
                await self._send_queued(row, now_ms)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException, asyncio.CancelledError) as e:
            if isinstance(e, asyncio.CancelledError) and asyncio.current_task().cancelling():
                raise
            self._backoff(now_ms)
        except Exception as e:  # a CallError or a malformed answer: recorded, the connection kept
            self.gw.note("ocpp_error", f"{type(e).__name__}: {e}")

    async def _status(self, conn: int, status: str, now_ms: int) -> None:
        err = "OtherError" if status == "Faulted" else "NoError"
        await self._call(call.StatusNotification(connector_id=conn, error_code=err, status=status,
                                                 timestamp=self.gw.iso(now_ms)))
        self.sent_status[conn] = status

    async def _triggered(self, what: str, conn: int | None, now_ms: int) -> None:
        if what == "BootNotification":
            self.booted = False
            await self.boot(now_ms)
        elif what == "Heartbeat":
            await self._call(call.Heartbeat())
        elif what == "StatusNotification":
            statuses = self.gw.connector_statuses()
            for c in ([conn] if conn is not None else sorted(statuses)):
                await self._status(c, statuses[c], now_ms)
        elif what == "MeterValues":
            for kw in self.gw.meter_values_now(conn, now_ms):
                await self._call(call.MeterValues(**kw))

    async def _send_queued(self, row, now_ms: int) -> None:
        """One outbox message: sent with its stored id; its answer stored in the same transaction
        that marks it acknowledged."""
        kw = json.loads(row["payload"])
        if row["action"] in ("MeterValues", "StopTransaction"):
            kw["transaction_id"] = self.gw.tx_id_of(row["session_id"])
        payload = getattr(call, row["action"])(**kw)
        try:
            result = await self._call(payload, unique_id=row["unique_id"])
        except OCPPError as e:  # the CSMS refused it: again later, given up after the attempts
            tries = self.attempts[row["seq"]] = self.attempts.get(row["seq"], 0) + 1
            if tries < self.gw.config.int("TransactionMessageAttempts"):
                self.retry_at_ms[row["seq"]] = now_ms + self.gw.config.int("TransactionMessageRetryInterval") * 1000
                raise
            self.gw.note("ocpp_error", f"{row['action']} {row['unique_id']} given up after {tries} CallErrors: {e}")
            result = None
        self.gw.crash_point("after_send")  # a kill here: sent and answered, the answer not stored
        self.gw.acknowledged(row, result, now_ms)

