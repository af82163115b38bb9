"""A small hand-built charging history for the analytics tests (and the /charging page's test): two stations in
their own district (测试区) under one transformer area, 14 local days 2025-03-01 … 2025-03-14, five customers with
a 户号 and one card without, queue waits, a fault stop, a connector Faulted now and a session still running.

Every figure the tests assert is worked out by hand in EXPECTED from the sessions below.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from api.charging import service
from api.charging.models import QueueEntry, Station
from api.charging.service import Sample
from api.core.time import LOCAL_TZ, UTC
from api.metering.models import TransformerArea

DISTRICT = "测试区"
START, END = date(2025, 3, 1), date(2025, 3, 14)
NOW = datetime(2025, 3, 20, 4, 0, tzinfo=UTC)  # after the range: every slot of it counts
STATION_A, STATION_B = "TSTAN1", "TSTAN2"
DC_A, AC_A, AC_B = "TSTAN-DC-01", "TSTAN-AC-01", "TSTAN-AC-02"
SECRET = "test-charger-secret-0123456789"
TAGS = {  # card → 户号 (None: a card nobody registered)
    "TAG-NIGHT": "6400000001", "TAG-DAYDC": "6400000002", "TAG-EVE": "6400000003", "TAG-ONCE": "6400000004",
    "TAG-MORNING": "6400000005", "TAG-ANON": None}


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """An instant given in Beijing time (2025), as UTC."""
    return datetime(2025, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


# (charger, connector, card, start, stop or None while running, kWh, stop reason)
SESSIONS = (
    (AC_A, 1, "TAG-NIGHT", local(3, 23), local(4, 5), 30, "EVDisconnected"),
    (AC_A, 1, "TAG-NIGHT", local(5, 23), local(6, 5), 30, "EVDisconnected"),
    (DC_A, 1, "TAG-DAYDC", local(4, 10), local(4, 11), 40, "EVDisconnected"),
    (DC_A, 1, "TAG-DAYDC", local(6, 14), local(6, 14, 30), 20, "Local"),
    (DC_A, 1, "TAG-ONCE", local(9, 12), local(9, 12, 30), 25, "Other"),  # the charger faulted mid-session
    (AC_A, 2, "TAG-ANON", local(2, 8), local(2, 10), 10, "EVDisconnected"),
    (AC_A, 1, "TAG-MORNING", local(10, 6), local(10, 10), 20, "EVDisconnected"),  # half of it in the valley
    (AC_A, 1, "TAG-MORNING", local(12, 6), local(12, 10), 20, "EVDisconnected"),
    (AC_B, 1, "TAG-EVE", local(7, 18), local(7, 21), 21, "EVDisconnected"),
    (AC_B, 1, "TAG-EVE", local(8, 19), local(8, 21), 14, "EVDisconnected"),
    (AC_B, 1, "TAG-NIGHT", local(28, 23, month=2), local(1, 1), 14, "EVDisconnected"),  # began before the range
    (AC_B, 1, "TAG-EVE", local(14, 22), None, 3, None),  # still running: 3 kWh so far
)
# queue waits at station A in minutes (joined in the range, then called), and one entry that was never called
WAITS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 120)


@dataclass(frozen=True)
class Built:
    area_id: int


def build(session) -> Built:
    """Write the stations, chargers, cards, sessions and queue entries; connector 2 of AC_A is Faulted now."""
    area_id = session.scalar(select(TransformerArea.id).order_by(TransformerArea.id).limit(1))
    for code, name, energy, fee in ((STATION_A, "测试甲充电站", "80.00", "40.00"), (STATION_B, "测试乙充电站", "50.00", "50.00")):
        service.create_station(session=session, code=code, name=name, district=DISTRICT, address=f"{DISTRICT}测试路",
                               lat=36.0, lon=106.2, energy_fen_per_kwh=Decimal(energy),
                               service_fen_per_kwh=Decimal(fee), transformer_area_id=area_id)
    service.create_charge_point(session=session, station_code=STATION_A, charge_point_id=DC_A, secret=SECRET,
                                connectors=[("DC", 60)], salt=b"\0" * 16)
    service.create_charge_point(session=session, station_code=STATION_A, charge_point_id=AC_A, secret=SECRET,
                                connectors=[("AC", 7), ("AC", 7)], salt=b"\0" * 16)
    service.create_charge_point(session=session, station_code=STATION_B, charge_point_id=AC_B, secret=SECRET,
                                connectors=[("AC", 7)], salt=b"\0" * 16)
    for tag, account in TAGS.items():
        service.create_id_tag(session=session, id_tag=tag, account_no=account)
    meter = 1_000_000
    for charger, connector, tag, start, stop, kwh, reason in SESSIONS:
        started = service.start_transaction(session=session, charge_point_id=charger, connector_no=connector,
                                            id_tag=tag, meter_start=meter, started_at=start, now=start)
        if stop is None:
            service.store_meter_values(session=session, charge_point_id=charger, transaction_id=started.transaction_id,
                                       samples=[Sample(start + timedelta(hours=1), service.ENERGY,
                                                       Decimal(meter + kwh * 1000), "Wh")])
        else:
            service.stop_transaction(session=session, charge_point_id=charger, transaction_id=started.transaction_id,
                                     meter_stop=meter + kwh * 1000, stopped_at=stop, reason=reason)
        meter += 100_000
    service.record_status(session=session, charge_point_id=AC_A, connector_no=2, status="Faulted",
                          error_code="GroundFailure", at=local(13, 9))
    station_a = session.scalar(select(Station.id).where(Station.code == STATION_A))
    for i, minutes in enumerate(WAITS):
        joined = local(1 + i, 9)
        session.add(QueueEntry(station_id=station_a, id_tag="TAG-NIGHT", kind=None, status="done", joined_at=joined,
                               called_at=joined + timedelta(minutes=minutes),
                               window_until=joined + timedelta(minutes=minutes + 15), ended_at=joined + timedelta(hours=1)))
    session.add(QueueEntry(station_id=station_a, id_tag="TAG-ONCE", kind="DC", status="cancelled", joined_at=local(11, 9),
                           ended_at=local(11, 9, 20)))
    session.commit()
    session.expunge_all()
    return Built(area_id=area_id)


def share(hours: float, connectors: int, days: int = 14) -> float:
    """Occupied hours over connector-hours, rounded as the analytics round."""
    return round(hours / (connectors * days * 24), 4)


def by_hour(occupied: dict[int, float], connectors: int) -> list[float]:
    return [round(occupied.get(h, 0) / (connectors * 14), 4) for h in range(24)]


# Worked out from SESSIONS (local hours occupied; A has 3 connectors, B one):
A_HOURS = {23: 2, 0: 2, 1: 2, 2: 2, 3: 2, 4: 2, 10: 1, 14: 0.5, 12: 0.5, 8: 3, 9: 3, 6: 2, 7: 2}  # 24 h
B_HOURS = {18: 1, 19: 2, 20: 2, 22: 1, 23: 1, 0: 1}  # 8 h (the running one to the range's end, the early one from it)
EXPECTED = {
    STATION_A: {"connectors": 3, "sessions": 8, "energy_kwh": Decimal("195.000"), "revenue_fen": 195 * 120,
                "utilisation": share(24, 3), "utilisation_by_hour": by_hour(A_HOURS, 3), "queued": 11, "waits": 10,
                "wait_avg_minutes": 34.5, "wait_p90_minutes": 45.0, "faulted_now": 1, "fault_stops": 1},
    STATION_B: {"connectors": 1, "sessions": 3, "energy_kwh": Decimal("38.000"), "revenue_fen": 38 * 100,
                "utilisation": share(8, 1), "utilisation_by_hour": by_hour(B_HOURS, 1), "queued": 0, "waits": 0,
                "wait_avg_minutes": None, "wait_p90_minutes": None, "faulted_now": 0, "fault_stops": 0},
}
AREA = {"connectors": 4, "sessions": 11, "energy_kwh": Decimal("233.000"), "revenue_fen": 195 * 120 + 3800,
        "utilisation": share(32, 4), "queued": 11, "waits": 10, "wait_avg_minutes": 34.5, "wait_p90_minutes": 45.0,
        "faulted_now": 1, "fault_stops": 1}
# 户号 → (segment, main station, usual band, sessions, per week, average kWh, total kWh, valley share, DC share)
HABITS = {
    "6400000001": ("夜间谷段常充", STATION_A, "夜间谷段", 2, 1.0, Decimal("30.00"), Decimal("60.000"), 1.0, 0.0),
    "6400000002": ("白天快充", STATION_A, "白天", 2, 1.0, Decimal("30.00"), Decimal("60.000"), 0.0, 1.0),
    "6400000003": ("晚高峰充电", STATION_B, "晚高峰", 2, 1.0, Decimal("17.50"), Decimal("35.000"), 0.0, 0.0),
    "6400000005": ("白天慢充", STATION_A, "夜间谷段", 2, 1.0, Decimal("20.00"), Decimal("40.000"), 0.5, 0.0),
    "6400000004": ("偶尔充电", STATION_A, "白天", 1, 0.5, Decimal("25.00"), Decimal("25.000"), 0.0, 1.0),
}
