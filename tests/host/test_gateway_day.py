"""A day of the car park through the gateway (railbot_host.gateway.day): the simulated robot, the units' bus,
the gateway and a test CSMS on one virtual clock, with seeded gateway kills and an hour's CSMS outage.
The figures are counts, Wh and simulated seconds, so they are the same on any machine."""
import asyncio

import pytest

from railbot_host import bench
from railbot_host.gateway.day import DayPlan, run_day


@pytest.fixture(scope="module")
def day():
    return asyncio.run(run_day(DayPlan(seed=1)))


def test_every_car_is_one_transaction_at_the_csms(day):
    f = day.figures
    assert f["ocpp_day_cars"] >= 40 and f["ocpp_day_sessions"] == f["ocpp_day_cars"]
    assert f["ocpp_schema_errors"] == 0 and f["ocpp_order_errors"] == 0
    assert f["ocpp_messages_lost"] == 0 and f["ocpp_messages_duplicated"] == 0
    assert f["ocpp_outbox_unacked_at_end"] == 0 and f["plant_violations"] == 0
    assert f["ocpp_calls_in_flight_max"] == 1  # one outstanding call at a time


def test_the_kills_and_the_outage_happened_and_cost_nothing(day):
    f = day.figures
    assert f["gateway_kills"] == 7 and f["gateway_kills_after_send"] == 1 and f["gateway_kills_after_charge"] == 1
    assert f["gateway_kills_after_release"] == 1
    assert f["ocpp_retransmits"] >= 1  # the call sent before the kill went again under its own id
    assert f["csms_connections_refused"] > 0 and f["ocpp_boots"] == 1 + 7 + 1
    assert any("CSMS down" in n for n in day.notes) and any("CSMS back" in n for n in day.notes)
    assert f["gateway_restart_requests_lost"] == 0 and f["gateway_restart_requests_repeated"] == 0


def test_energy_and_eta(day):
    f = day.figures
    assert 0 <= f["session_energy_error_wh_max"] <= 1
    assert f["eta_unit_free_requests"] >= 20 and 0 <= f["eta_error_p90_s_unit_free"] <= 30
    assert f["eta_error_p90_s"] >= f["eta_error_p90_s_unit_free"]
    charged = [c.energy_mwh for c in day.cars if c.energy_mwh > 0]
    assert len(charged) == f["ocpp_day_sessions"] and min(charged) > 1_000_000  # every car got energy


def test_the_bench_bounds_hold_for_the_day(day):
    assert [n for n in bench.GATEWAY_BOUNDS if not bench.check(n, day.figures.get(n))] == []
