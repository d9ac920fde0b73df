"""The gateway as an OCPP 1.6J charge point against the test CSMS on loopback (railbot_host.gateway.csms), on the virtual clock."""
import asyncio
import json

from ocpp.v16 import call

from railbot_host.gateway.csms import CsmsChargePoint, CsmsRecord
from railbot_host.gateway.harness import Harness


def run(coro):
    return asyncio.run(coro)


async def _booted(h):
    await h.homed()
    assert await h.until(lambda: h.csms.connected)


def test_boot_first_then_status_of_every_connector():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            await h.step()
            rec = h.csms.record
            assert rec.boots == 1 and rec.order_errors == [] and rec.schema_errors == []
            assert {c for c, _ in rec.statuses} == set(range(0, 45))
            assert dict(rec.statuses)[0] == "Available" and dict(rec.statuses)[7] == "Available"
        finally:
            await h.close()
    run(go())


def test_a_session_from_remote_start_to_release():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            assert await h.csms.remote_start(7, "TAG7") == "Accepted"
            assert await h.csms.remote_start(45, "TAG45") == "Rejected"
            assert await h.until(lambda: h.gw.store.open_request(7)["state"] == "delivered")
            await h.step()
            assert h.csms.record.statuses[-1] == (7, "Preparing")
            assert h.robot_events("request bay=") == ["request bay=7"]
            h.plug(7, duty_pct=50)  # 30 A offered
            await h.run(4_000)
            h.pilot(7, "C")
            await h.run(3_600_000)  # an hour of charging at 30 A x 230 V = 6900 Wh
            h.pilot(7, "B")
            await h.run(60_000)
            h.unplug(7)
            assert await h.until(lambda: h.plant.unit_at(h.plant.port_index("B7")) is None
                                 or h.gw.store.open_session(7) is None, 120_000)
            rec = h.csms.record
            (tx,) = rec.transactions.values()
            assert tx.connector == 7 and tx.id_tag == "TAG7"
            assert 6899 <= tx.meter_stop - tx.meter_start <= 6901
            assert len(tx.meter_values) == 6  # every MeterValueSampleInterval (600 s) of the hour
            seen = [s for c, s in rec.statuses if c == 7]
            for a, b in (("Preparing", "SuspendedEV"), ("SuspendedEV", "Charging"), ("Charging", "SuspendedEV"),
                         ("SuspendedEV", "Finishing")):
                assert seen.index(b, seen.index(a)) > seen.index(a)
            assert await h.until(lambda: h.robot_events("released bay=7"), 60_000)
            await h.step()
            assert [s for c, s in rec.statuses if c == 7][-2:] == ["Finishing", "Available"]
            assert rec.schema_errors == [] and rec.order_errors == [] and rec.duplicates == []
            assert h.gw.store.unacked_calls() == 0
        finally:
            await h.close()
    run(go())


def test_configuration_availability_trigger_and_reset():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            r = await h.csms.send(call.GetConfiguration())
            keys = {k["key"]: k for k in r.configuration_key}
            assert keys["ConnectionTimeOut"]["value"] == "1800" and keys["NumberOfConnectors"]["readonly"]
            r = await h.csms.send(call.GetConfiguration(key=["ConnectionTimeOut", "Nope"]))
            assert [k["key"] for k in r.configuration_key] == ["ConnectionTimeOut"] and r.unknown_key == ["Nope"]
            for key, value, status in (("ConnectionTimeOut", "120", "Accepted"), ("ConnectionTimeOut", "x", "Rejected"),
                                       ("ConnectionTimeOut", "5", "Rejected"), ("NumberOfConnectors", "2", "Rejected"),
                                       ("Nope", "1", "NotSupported")):
                assert (await h.csms.send(call.ChangeConfiguration(key=key, value=value))).status == status
            assert h.gw.config.int("ConnectionTimeOut") == 120
            r = await h.csms.send(call.ChangeAvailability(connector_id=3, type="Inoperative"))
            assert r.status == "Accepted"
            await h.step()
            assert h.csms.record.statuses[-1] == (3, "Unavailable")
            assert await h.csms.remote_start(3, "T") == "Rejected"
            await h.csms.send(call.ChangeAvailability(connector_id=3, type="Operative"))
            await h.step()
            assert h.csms.record.statuses[-1] == (3, "Available")
            n = len(h.csms.record.statuses)
            assert (await h.csms.send(call.TriggerMessage(requested_message="StatusNotification",
                                                          connector_id=9))).status == "Accepted"
            await h.step()
            assert h.csms.record.statuses[n:] == [(9, "Available")]
            assert (await h.csms.send(call.TriggerMessage(requested_message="FirmwareStatusNotification"))
                    ).status == "NotImplemented"
            assert (await h.csms.send(call.Reset(type="Soft"))).status == "Accepted"
            await h.step()
            assert await h.until(lambda: h.csms.record.boots == 2 and h.csms.connected)
            # ConnectionTimeOut: a delivered unit nobody plugs into is released after it
            assert await h.csms.remote_start(11, "T11") == "Accepted"
            assert await h.until(lambda: h.gw.store.open_request(11)["state"] == "delivered")
            assert await h.until(lambda: h.gw.store.open_request(11) is None, 200_000)
            r = h.gw.store.one("SELECT * FROM requests WHERE bay=11")
            assert r["state"] == "timed_out" and h.robot_events("released bay=11")
            assert 120_000 < r["ended_ms"] - r["delivered_ms"] <= 124_000
            assert h.csms.record.schema_errors == [] and h.csms.record.order_errors == []
        finally:
            await h.close()
    run(go())


def test_remote_stop_and_an_outage_queue_the_messages_in_order():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            assert await h.csms.remote_start(20, "T20") == "Accepted"
            assert await h.until(lambda: h.gw.store.open_request(20)["state"] == "delivered")
            h.plug(20)
            await h.run(4_000)
            h.pilot(20, "C")
            await h.run(600_000)
            await h.csms.set_down(True)
            tries = []
            while len(tries) < 6:
                before = h.gw.ocpp.next_try_ms
                await h.step()
                if h.gw.ocpp.next_try_ms != before:
                    tries.append(h.now())
            gaps = [b - a for a, b in zip(tries, tries[1:])]
            # the backoff doubles (jittered between half and all of it): 5 s, 10 s, 20 s, 40 s, 80 s at most
            assert all(b >= a - 2_000 for a, b in zip(gaps, gaps[1:])) and gaps[-1] >= 4 * gaps[0]
            assert gaps[-1] <= 80_000 + 2_000
            await h.run(3_000_000)  # charging on, offline
            await h.csms.set_down(False)
            assert h.gw.store.unacked_calls() >= 4  # MeterValues queued durably
            assert await h.until(lambda: h.csms.connected and h.gw.store.unacked_calls() == 0)
            (tx,) = h.csms.record.transactions.values()
            r = await h.csms.send(call.RemoteStopTransaction(transaction_id=tx.tx_id + 1))
            assert r.status == "Rejected"
            r = await h.csms.send(call.RemoteStopTransaction(transaction_id=tx.tx_id))
            assert r.status == "Accepted"
            assert await h.until(lambda: tx.stop_ts is not None, 30_000)
            assert not h.meters.meters[h.gw.store.open_session(20)["unit"]].enabled  # the EVSE stopped offering
            stamps = [ts for ts, _ in tx.meter_values]
            assert stamps == sorted(stamps) and len(stamps) >= 5
            assert h.csms.record.order_errors == [] and h.csms.record.duplicates == []
            h.unplug(20)
            assert await h.until(lambda: h.robot_events("released bay=20"), 60_000)
        finally:
            await h.close()
    run(go())


def test_the_csms_counts_a_frame_against_the_schema():
    """The receiver's check can fail: a StartTransaction without its meterStart and an unknown action."""
    class Conn:
        sent = []

        async def send(self, m):
            self.sent.append(m)

    rec = CsmsRecord()
    cp = CsmsChargePoint("x", Conn(), rec, 60)
    bad = json.dumps([2, "1", "StartTransaction", {"connectorId": 1, "idTag": "T", "timestamp": "2026-12-07T00:00:00Z"}])
    run(cp.route_message(bad))
    run(cp.route_message(json.dumps([2, "2", "Teleport", {}])))
    run(cp.route_message("not json"))
    assert len(rec.schema_errors) == 3 and "meterStart" in rec.schema_errors[0]
    assert any("before BootNotification" in e for e in rec.order_errors)


def test_faulted_connectors_the_robot_in_alarm_and_a_unit_with_a_pilot_fault():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            h.gw.remote_start(8, "T8", "csms")
            assert await h.until(lambda: h.gw.store.open_request(8)["state"] == "delivered")
            h.plug(8)
            await h.run(4_000)
            h.pilot(8, "F")  # the EVSE sees a pilot fault
            await h.run(4_000)
            assert dict(h.csms.record.statuses)[8] == "Faulted"
            h.plant.press_estop(True)
            assert await h.until(lambda: h.gw.robot.state.alarm != 0, 10_000)
            await h.step()
            assert h.csms.record.statuses[-1] == (0, "Faulted")
            h.plant.press_estop(False)
            await h.step()
            r = await h.csms.send(call.DataTransfer(vendor_id="railbot"))  # nothing we know: a CallError
            assert r is None
            assert h.gw.robot.request("reset").startswith("ok")
            await h.step()
            assert h.csms.record.statuses[-1] == (0, "Available")
        finally:
            await h.close()
    run(go())


def test_an_id_tag_the_csms_refuses_ends_the_transaction():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            h.csms.record.id_tag_status = "Invalid"
            assert await h.csms.remote_start(14, "STOLEN") == "Accepted"
            assert await h.until(lambda: h.gw.store.open_request(14)["state"] == "delivered")
            h.plug(14)
            await h.run(4_000)
            h.pilot(14, "C")
            assert await h.until(lambda: any(t.stop_ts for t in h.csms.record.transactions.values()), 20_000)
            (tx,) = h.csms.record.transactions.values()
            s = h.gw.store.open_session(14)
            assert s["stop_reason"] == "DeAuthorized" and not h.meters.meters[s["unit"]].enabled
            assert tx.meter_stop - tx.meter_start <= 10  # stopped within a poll or two of charging
        finally:
            await h.close()
    run(go())


def test_a_message_the_csms_refuses_is_tried_again_then_given_up():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            h.gw.remote_start(18, "T18", "csms")
            await _plugged_and_charging(h, 18)
            h.csms.record.refuse_meter_values = 5
            await h.run(600_000 + 2_000)  # the first MeterValues: refused
            assert h.gw.store.unacked_calls() == 1
            await h.run(60_000)  # again after TransactionMessageRetryInterval: refused
            assert h.gw.store.unacked_calls() == 1 and h.gw.ocpp.attempts
            await h.run(60_000)  # the third: given up, the next messages go
            assert h.gw.store.unacked_calls() == 0
            assert h.gw.store.all("SELECT * FROM events WHERE kind='ocpp_error' AND text LIKE 'MeterValues%given up%'")
            assert h.csms.record.refuse_meter_values == 2
        finally:
            await h.close()
    run(go())


async def _plugged_and_charging(h, bay):
    assert await h.until(lambda: h.gw.store.open_request(bay)["state"] == "delivered")
    h.plug(bay)
    await h.run(4_000)
    h.pilot(bay, "C")
    assert await h.until(lambda: h.gw.store.unacked_calls() == 0 and h.csms.record.transactions)


def test_a_pending_boot_is_asked_again_and_nothing_else_is_sent_meanwhile():
    async def go():
        h = await Harness().start()
        try:
            h.csms.record.boot_status = "Pending"
            await h.homed()
            h.gw.remote_start(2, "T2", "csms")  # an app's request: its messages must wait for the boot
            await h.run(400_000)
            rec = h.csms.record
            assert 2 <= rec.boots <= 3 and rec.frames == rec.boots  # every 300 s (the interval given), only boots
            assert h.csms.cp is not None and not h.csms.connected  # connected, not booted
            rec.boot_status = "Accepted"
            assert await h.until(lambda: h.csms.connected, 400_000)
            await h.step()
            assert rec.order_errors == [] and {c for c, _ in rec.statuses} == set(range(45))
        finally:
            await h.close()
    run(go())


def test_trigger_message_meter_values_and_heartbeat():
    async def go():
        h = await Harness().start()
        try:
            await _booted(h)
            h.gw.remote_start(22, "T22", "csms")
            await _plugged_and_charging(h, 22)
            await h.run(60_000)
            (tx,) = h.csms.record.transactions.values()
            assert tx.meter_values == []
            r = await h.csms.send(call.TriggerMessage(requested_message="MeterValues", connector_id=22))
            assert r.status == "Accepted"
            await h.step()
            ((ts, wh),) = tx.meter_values
            assert 100 <= wh - tx.meter_start <= 140  # about a minute at 6.9 kW
            frames = h.csms.record.frames
            r = await h.csms.send(call.TriggerMessage(requested_message="Heartbeat"))
            await h.step()
            assert r.status == "Accepted" and h.csms.record.frames == frames + 2  # its answer, the heartbeat
            r = await h.csms.send(call.TriggerMessage(requested_message="StatusNotification", connector_id=45))
            assert r.status == "Rejected"
        finally:
            await h.close()
    run(go())
