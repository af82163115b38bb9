"""The diagnosis reads the meter and its area the way a dispatcher would."""
from datetime import datetime, timedelta, timezone

import pytest

from api.tickets.diagnosis import diagnose

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def reading(hours_ago: int, volts: float = 221.0, kw: float = 0.8) -> dict:
    return {"ts": (NOW - timedelta(hours=hours_ago)).isoformat(), "kwh": kw, "kw": kw,
            "voltage_a": volts, "current_a": kw * 1000 / max(volts, 1), "voltage_b": None,
            "voltage_c": None}


def snapshot(readings=None, events=(), share=0.0, lost=0, total=40) -> dict:
    return {"readings": readings if readings is not None else [reading(2), reading(1)],
            "events": list(events),
            "area_state": {"area_name": "文化街1号台区", "share": share,
                           "meters_lost_voltage_last_hour": lost, "meters_total": total}}


def run(kind, snap):
    return diagnose(kind, snap, now=NOW, area_outage_share=0.5, low_voltage_volts=198.0)


def test_hazard_is_classified_first_whatever_the_meter_says():
    assert run("hazard", snapshot(share=0.9)).code == "hazard"


def test_most_of_the_area_without_voltage_is_an_area_outage():
    result = run("outage", snapshot(share=0.85, lost=34, total=40))
    assert result.code == "area_outage"
    assert "34/40" in result.crew_note
    assert "不是您家里的问题" in result.summary


def test_only_this_meter_lost_voltage_is_a_household_outage():
    events = [{"ts": (NOW - timedelta(minutes=20)).isoformat(), "kind": "失压", "phase": "A"}]
    assert run("outage", snapshot(events=events, share=0.02, lost=1)).code == "household_outage"


def test_dead_voltage_reading_without_event_is_a_household_outage():
    assert run("outage", snapshot(readings=[reading(1, volts=0.0, kw=0.0)])).code == "household_outage"


def test_old_loss_event_does_not_count():
    events = [{"ts": (NOW - timedelta(hours=5)).isoformat(), "kind": "停电", "phase": None}]
    assert run("outage", snapshot(events=events)).code == "no_anomaly"


def test_silent_meter_is_a_meter_fault():
    assert run("outage", snapshot(readings=[reading(6)])).code == "meter_fault"
    assert run("outage", snapshot(readings=[])).code == "meter_fault"


def test_low_voltage():
    result = run("outage", snapshot(readings=[reading(1, volts=184.0)]))
    assert result.code == "low_voltage"
    assert "184" in result.summary


def test_voltage_present_but_no_load_points_behind_the_meter():
    assert run("outage", snapshot(readings=[reading(1, kw=0.0)])).code == "behind_meter"


def test_no_meter_data_at_all():
    assert run("outage", None).code == "unknown"


@pytest.mark.parametrize("share,expected", [(0.49, "no_anomaly"), (0.5, "area_outage")])
def test_area_threshold_is_inclusive(share, expected):
    assert run("outage", snapshot(share=share)).code == expected
