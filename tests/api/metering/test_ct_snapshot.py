"""A CT-metered meter stores the secondary amps it reads; the snapshot staff see gives the line's amps."""
from __future__ import annotations

from sqlalchemy import select

from api.metering import service
from api.metering.models import Meter, Reading
from tests.api.conftest import DEMO_NOW


def test_snapshot_currents_are_primary_amps_for_ct_metered_meters(demo_session):
    meter = demo_session.scalar(select(Meter).where(Meter.ct_ratio.is_not(None)).order_by(Meter.id))
    assert meter is not None, "the demo meters its large customers through CTs"
    snap = service.meter_snapshot(session=demo_session, meter_id=meter.id, now=DEMO_NOW)
    assert snap.ct_ratio == meter.ct_ratio and snap.readings
    last = snap.readings[-1]
    stored = demo_session.scalar(select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.ts.desc())
                                 .where(Reading.ts <= DEMO_NOW))
    assert last.current_a == round(float(stored.current_a) * meter.ct_ratio, 2)
    assert last.voltage_a == float(stored.voltage_a)  # low-voltage metering: volts as read
