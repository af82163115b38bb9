"""Planned-outage rules: which notices concern an area, a feeder or a district, now and soon."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.customers.models import Customer
from api.metering import service as metering
from api.outages.models import PlannedOutage
from api.outages.schemas import OutagesRead, PlannedOutageRead


def list_notices(
    *, session: Session, now: datetime, district: str | None = None, transformer_area_id: int | None = None,
    feeder_id: int | None = None, days_ahead: int = 7,
) -> list[PlannedOutage]:
    """Notices running at `now` or starting within `days_ahead` days that name the area or feeder."""
    # A notice names either one area or one feeder; a feeder notice covers every area on it, so
    # a customer's notices are those of its area OR of its area's feeder.
    query = select(PlannedOutage).where(
        PlannedOutage.end_at > now, PlannedOutage.start_at <= now + timedelta(days=days_ahead))
    if district:
        query = query.where(PlannedOutage.district == district)
    targets = []
    if transformer_area_id is not None:
        targets.append(PlannedOutage.transformer_area_id == transformer_area_id)
    if feeder_id is not None:
        targets.append(PlannedOutage.feeder_id == feeder_id)
    if targets:
        query = query.where(or_(*targets))
    return list(session.scalars(query.order_by(PlannedOutage.start_at, PlannedOutage.id)))


def notice_read(*, session: Session, notice: PlannedOutage, now: datetime) -> PlannedOutageRead:
    """The API view of a notice, with its feeder and area names and whether it is running."""
    feeder = metering.get_feeder(session=session, feeder_id=notice.feeder_id) if notice.feeder_id else None
    area = (metering.get_area(session=session, transformer_area_id=notice.transformer_area_id)
            if notice.transformer_area_id else None)
    running = notice.start_at <= now < notice.end_at
    return PlannedOutageRead(
        notice_no=notice.notice_no, district=notice.district,
        feeder_code=feeder.code if feeder else None, feeder_name=feeder.name if feeder else None,
        transformer_area_code=area.code if area else None, transformer_area_name=area.name if area else None,
        scope=notice.scope, reason=notice.reason, start_at=notice.start_at, end_at=notice.end_at,
        status="in_progress" if running else "upcoming", status_text="正在停电" if running else "即将停电",
    )


def outages_for_customer(
    *, session: Session, customer: Customer, now: datetime, min_share: float, days_ahead: int = 7,
) -> OutagesRead:
    """The customer's area if it is in outage now, and the notices covering its area or feeder."""
    area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
    state = metering.area_state(session=session, transformer_area_id=area.id, now=now)
    notices = list_notices(session=session, now=now, transformer_area_id=area.id, feeder_id=area.feeder_id,
                           days_ahead=days_ahead)
    in_outage = state.meters_total > 0 and state.share >= min_share
    return OutagesRead(
        as_of=now, area_outage=state if in_outage else None,
        area_outage_planned=in_outage and any(n.start_at <= now < n.end_at for n in notices),
        planned=[notice_read(session=session, notice=n, now=now) for n in notices],
    )


def outages_for_district(*, session: Session, now: datetime, district: str | None, days_ahead: int = 7) -> OutagesRead:
    """Planned notices of a district (every district when None); no single area to report on."""
    notices = list_notices(session=session, now=now, district=district, days_ahead=days_ahead)
    return OutagesRead(as_of=now, area_outage=None, area_outage_planned=False,
                       planned=[notice_read(session=session, notice=n, now=now) for n in notices])
