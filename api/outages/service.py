"""Planned-outage rules: which notices concern an area, a feeder or a district, now and soon."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.core.errors import Invalid
from api.core.ids import DISTRICT_NAMES, normalize_text
from api.outages.models import PlannedOutage
from api.outages.schemas import PlannedOutageRead


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


def running(*, notice: PlannedOutage, now: datetime) -> bool:
    """True while the planned outage is in progress."""
    return notice.start_at <= now < notice.end_at


def notice_read(*, notice: PlannedOutage, now: datetime, feeder=None, area=None) -> PlannedOutageRead:
    """The API view of a notice, with the names of the feeder or area it names, and whether it is running."""
    on = running(notice=notice, now=now)
    return PlannedOutageRead(
        notice_no=notice.notice_no, district=notice.district,
        feeder_code=feeder.code if feeder else None, feeder_name=feeder.name if feeder else None,
        transformer_area_code=area.code if area else None, transformer_area_name=area.name if area else None,
        scope=notice.scope, reason=notice.reason, start_at=notice.start_at, end_at=notice.end_at,
        status="in_progress" if on else "upcoming", status_text="正在停电" if on else "即将停电",
    )


def district_named(value: str) -> str:
    """The district a customer named (原州区 or just 原州); Invalid when it is not one of 固原市's."""
    text = normalize_text(value)
    for name in DISTRICT_NAMES:
        if text in (name, name[:-1]):
            return name
    raise Invalid("unknown_district", f"{text} 不是固原市的区县（原州区、西吉县、隆德县、泾源县、彭阳县）")
