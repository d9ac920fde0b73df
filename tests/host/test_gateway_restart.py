"""The gateway killed at chosen instants and restarted from its store, and a robot that resets under it: nothing lost, nothing repeated."""
import asyncio

from railbot_host.gateway.harness import Harness


def run(coro):
    return asyncio.run(coro)


async def _charge(h, bay, minutes):
    assert await h.until(lambda: h.gw.store.open_request(bay)["state"] == "delivered")
    h.plug(bay)
    await h.run(4_000)
    h.pilot(bay, "C")
    await h.run(minutes * 60_000)


def test_killed_after_the_robot_took_a_request_before_it_was_recorded():
    async def go():
        h = await Harness().start()
        try:
            await h.homed()
            assert await h.until(lambda: h.csms.connected)
            h.gw.armed.add("after_charge")
            assert await h.csms.remote_start(9, "T9") == "Accepted"
            await h.step()
            assert h.gw is None and h.killed == 1
            assert h.robot_events("request bay=") == ["request bay=9"]  # the robot has it ...
            await h.new_gateway()
            assert h.gw.store.open_request(9)["state"] == "accepted"  # ... our record does not yet
            await h.step()
            assert h.gw.store.open_request(9)["state"] == "queued"  # the robot's record taken as the truth
            assert await h.csms.remote_start(9, "T9") == "Accepted"  # the CSMS's retry: the same request
            assert await h.until(lambda: h.gw.store.open_request(9)["state"] == "delivered")
            assert h.robot_events("request bay=") == ["request bay=9"] and len(h.robot_events("delivered bay=9")) == 1
            assert h.gw.store.one("SELECT COUNT(*) AS n FROM requests")["n"] == 1
        finally:
            await h.close()
    run(go())


def test_killed_between_sending_a_call_and_storing_its_answer():
    async def go():
        h = await Harness().start()
        try:
            await h.homed()
            assert await h.until(lambda: h.csms.connected)
            h.gw.remote_start(12, "T12", "csms")
            assert await h.until(lambda: h.gw.store.open_request(12)["state"] == "delivered")
            h.gw.armed.add("after_send")
            h.plug(12)
            assert await h.until(lambda: h.gw is None, 10_000)  # StartTransaction sent, answered, not stored
            rec = h.csms.record
            assert len(rec.transactions) == 1
            await h.run(30_000)
            await h.new_gateway()
            assert await h.until(lambda: h.gw.store.unacked_calls() == 0 and h.csms.connected)
            (tx,) = rec.transactions.values()
            assert rec.retransmits == 1 and rec.duplicates == []  # the same message id again: answered, not redone
            assert h.gw.store.open_session(12)["tx_id"] == tx.tx_id
            h.pilot(12, "C")
            await h.run(1_200_000)
            h.unplug(12)
            assert await h.until(lambda: tx.stop_ts is not None, 30_000)
            assert 2295 <= tx.meter_stop - tx.meter_start <= 2301  # 20 min at 6.9 kW
            assert rec.order_errors == [] and rec.schema_errors == []
        finally:
            await h.close()
    run(go())


def test_killed_mid_session_and_offline_the_session_goes_on_from_the_store():
    async def go():
        h = await Harness().start()
        try:
            await h.homed()
            h.gw.remote_start(30, "T30", "csms")
            await _charge(h, 30, 15)
            h.kill()
            await h.run(600_000)  # ten minutes with no gateway: the car charges on
            h.pilot(30, "B")
            await h.new_gateway()
            await h.run(60_000)
            h.unplug(30)
            assert await h.until(lambda: h.robot_events("released bay=30"), 60_000)
            (tx,) = h.csms.record.transactions.values()
            plant_wh = h.meters.meters[h.gw.store.one("SELECT unit FROM sessions")["unit"]].energy_mwh / 1000
            assert abs((tx.meter_stop - tx.meter_start) - plant_wh) <= 1
            assert h.csms.record.boots == 2 and h.csms.record.duplicates == []
            assert len(h.robot_events("released bay=30")) == 1
        finally:
            await h.close()
    run(go())


def test_a_robot_reset_is_met_with_a_new_hello_and_its_own_record():
    async def go():
        h = await Harness().start()
        try:
            await h.homed()
            h.gw.remote_start(3, "T3", "csms")
            await _charge(h, 3, 5)
            hellos = h.gw.robot.hellos
            last_event = h.gw.store.one("SELECT MAX(id) AS n FROM events")["n"]
            h.sim.reset()  # the unit stays latched at bay 3; the robot forgets its RAM and link session
            await h.step()
            assert h.gw.robot.hellos == hellos + 1
            await h.homed()  # auto-homed again (a simulated board boots unhomed)
            assert h.gw.robot.state.unit_at_bay(3)[1] in ("serving", "in-use")  # from the robot's flash
            await h.step()
            # its events reach us again (a robot sends them only in a session that began with a hello)
            assert h.gw.store.all("SELECT * FROM events WHERE id > ? AND kind='robot' AND text LIKE 'homed%'",
                                  last_event)
            h.unplug(3)
            assert await h.until(lambda: h.robot_events("released bay=3"), 60_000)
            assert len(h.csms.record.transactions) == 1
        finally:
            await h.close()
    run(go())


def test_killed_after_the_robot_released_a_unit_before_it_was_recorded():
    async def go():
        h = await Harness().start()
        try:
            await h.homed()
            h.gw.remote_start(16, "T16", "csms")
            await _charge(h, 16, 10)
            h.gw.armed.add("after_release")
            h.unplug(16)
            assert await h.until(lambda: h.gw is None, 10_000)
            assert len(h.robot_events("released bay=16 ")) == 1
            await h.new_gateway()
            assert h.gw.store.open_session(16)["state"] == "stopped"
            await h.run(10_000)
            assert h.gw.store.open_session(16) is None and h.gw.store.open_request(16) is None
            assert len(h.robot_events("released bay=16 ")) == 1  # not released twice
            assert h.gw.remote_start(16, "T16b", "csms")  # the bay takes the next car
        finally:
            await h.close()
    run(go())


def test_a_unit_serving_a_bay_the_gateway_knows_nothing_of_is_released_after_the_timeout():
    async def go():
        h = await Harness(csms=False).start()
        try:
            await h.homed()
            assert h.gw.robot.request("charge 21").startswith("ok")  # behind the gateway's back
            assert await h.until(lambda: h.robot_events("delivered bay=21"), 300_000)
            delivered = h.now()
            assert await h.until(lambda: h.robot_events("released bay=21"), 3_000_000)
            assert 1_800_000 < h.now() - delivered <= 1_800_000 + 10_000  # ConnectionTimeOut
            assert h.gw.store.open_request(21) is None
        finally:
            await h.close()
    run(go())
