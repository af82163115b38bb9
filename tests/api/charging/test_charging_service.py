"""Charging rules without a charger: credentials, id tags, a resent start, stale status, energy and cost."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from api.charging import service
from api.charging.models import ChargePoint, Connector, Station
from api.charging.service import Sample
from api.core.time import utcnow
from tests.api.charging.conftest import AC_CHARGER, BLOCKED_TAG, DC_CHARGER, GOOD_TAG, SECRET, STATION


def test_credentials_are_stored_hashed_and_checked(session, charging_station):
    stored = service.hash_secret(SECRET)
    assert SECRET not in stored and stored != service.hash_secret(SECRET)  # salted
    assert service.verify_secret(SECRET, stored) and not service.verify_secret(SECRET[:-1], stored)
    assert not service.verify_secret(SECRET, "garbage")
    assert service.authenticate(session=session, charge_point_id=DC_CHARGER, secret=SECRET)
    assert not service.authenticate(session=session, charge_point_id=DC_CHARGER, secret="wrong-secret-0123456789")
    assert not service.authenticate(session=session, charge_point_id="TEST-NOBODY", secret=SECRET)


def test_id_tags(session, charging_station):
    now = utcnow()
    service.create_id_tag(session=session, id_tag="TAG-OLD-01", expires_at=now - timedelta(days=1))
    assert [service.authorize(session=session, id_tag=tag, now=now)
            for tag in (GOOD_TAG, BLOCKED_TAG, "TAG-OLD-01", "TAG-NOBODY")] == ["Accepted", "Blocked", "Expired",
                                                                               "Invalid"]


def test_a_resent_start_is_the_same_transaction_and_samples_are_stored_once(session, charging_station):
    now = utcnow()
    first = service.start_transaction(session=session, charge_point_id=DC_CHARGER, connector_no=1, id_tag=GOOD_TAG,
                                      meter_start=500, started_at=now, now=now)
    again = service.start_transaction(session=session, charge_point_id=DC_CHARGER, connector_no=1, id_tag=GOOD_TAG,
                                      meter_start=500, started_at=now, now=now)
    assert first == again and first.status == "Accepted"
    samples = [Sample(now + timedelta(minutes=m), service.ENERGY, Decimal(500 + 250 * m), "Wh") for m in (1, 2)]
    assert service.store_meter_values(session=session, charge_point_id=DC_CHARGER,
                                      transaction_id=first.transaction_id, samples=samples) == 2
    assert service.store_meter_values(session=session, charge_point_id=DC_CHARGER,
                                      transaction_id=first.transaction_id, samples=samples[1:] * 2) == 0
    # another charger cannot write into it
    assert service.store_meter_values(session=session, charge_point_id=AC_CHARGER,
                                      transaction_id=first.transaction_id, samples=samples) == 0
    live = service.get_transaction(session=session, transaction_id=first.transaction_id)
    assert live.energy_kwh == Decimal("0.500") and live.cost_fen == 60  # 0.5 × 120.50 = 60.25
    stopped = service.stop_transaction(session=session, charge_point_id=DC_CHARGER,
                                       transaction_id=first.transaction_id, meter_stop=1737,
                                       stopped_at=now + timedelta(minutes=3))
    assert stopped.energy_kwh == Decimal("1.237") and stopped.cost_fen == 149  # 1.237 × 120.50 = 149.06
    again = service.stop_transaction(session=session, charge_point_id=DC_CHARGER,
                                     transaction_id=first.transaction_id, meter_stop=9999, stopped_at=now)
    assert again.meter_stop == 1737  # a second stop changes nothing


def test_cost_rounds_half_up_to_the_fen(session, charging_station):
    station = session.scalar(select(Station).where(Station.code == STATION))
    assert service.cost_fen(Decimal("1.000"), station) == 121  # 120.50 → 121
    assert service.energy_kwh(1000, 900) == Decimal("0.000")


def test_an_older_status_report_does_not_overwrite_a_newer_one(session, charging_station):
    now = utcnow()
    service.record_status(session=session, charge_point_id=AC_CHARGER, connector_no=1, status="Charging",
                          error_code="NoError", at=now)
    service.record_status(session=session, charge_point_id=AC_CHARGER, connector_no=1, status="Available",
                          error_code="NoError", at=now - timedelta(minutes=5))  # queued offline, older
    service.record_status(session=session, charge_point_id=AC_CHARGER, connector_no=0, status="Faulted",
                          error_code="InternalError", at=now)
    connector = session.scalars(select(Connector).join(ChargePoint).where(
        ChargePoint.charge_point_id == AC_CHARGER, Connector.connector_no == 1)).one()
    assert connector.status == "Charging"
    assert connector.charger.status == "Faulted" and connector.charger.error_code == "InternalError"
    stations = service.list_stations(session=session, district="原州区", free_only=True)
    assert STATION not in [s.code for s in stations]  # nothing connected: nothing free
