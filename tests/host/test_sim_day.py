"""The default simulated day (seed 1, 24 h, 6 units, rate 1.0): every request served, no alarm, an evening peak."""
import json

import pytest

from railbot_host import sim

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def day():
    return sim.run_day(track_ms=0)  # the figures of `make sim`, without the timeline's samples


def test_every_request_served_without_alarm_or_violation(day):
    s = day.summary
    assert s["requests"] >= 40
    assert s["served"] == s["requests"]
    assert s["abandoned"] == 0 and s["pending"] == 0
    assert s["alarms"] == 0
    assert s["violations"] == 0 and day.violations == []
    assert day.failures == []


def test_evening_peak(day):
    asked = sorted(e["t_ms"] for e in map(json.loads, day.events) if e["ev"] == "request")
    evening = [t for t in asked if 16 * HOUR_MS <= t < 23 * HOUR_MS]
    busiest = max(sum(1 for u in evening if t <= u < t + 2 * HOUR_MS) for t in evening)
    assert busiest >= 10


def test_event_log_is_consistent(day):
    events = [json.loads(line) for line in day.events]
    times = [e["t_ms"] for e in events]
    assert times == sorted(times)
    kinds = [e["ev"] for e in events]
    assert kinds.count("request") == day.summary["requests"]
    assert kinds.count("delivered") == kinds.count("served") == day.summary["served"]
    assert kinds.count("job") == kinds.count("pick") == kinds.count("place") == day.summary["jobs"]
    assert day.summary["travel_m"] > 0
