"""Is the power off, and why: the customer's transformer area now (metering) and the planned
outages naming its area or feeder (outages)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.customers.models import Customer
from api.flows.schemas import OutagesRead
from api.metering import service as metering
from api.outages import service as outages
from api.outages.models import PlannedOutage
from api.outages.schemas import PlannedOutageRead


def notice_read(*, session: Session, notice: PlannedOutage, now: datetime) -> PlannedOutageRead:
    """A notice with the names of the feeder or area it names."""
    feeder = metering.get_feeder(session=session, feeder_id=notice.feeder_id) if notice.feeder_id else None
    area = (metering.get_area(session=session, transformer_area_id=notice.transformer_area_id)
            if notice.transformer_area_id else None)
    return outages.notice_read(notice=notice, now=now, feeder=feeder, area=area)


def for_customer(*, session: Session, customer: Customer, now: datetime, min_share: float,
                 days_ahead: int = 7) -> OutagesRead:
    """The customer's area if it is in outage now, and the notices covering its area or feeder."""
    area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
    state = metering.area_state(session=session, transformer_area_id=area.id, now=now)
    notices = outages.list_notices(session=session, now=now, transformer_area_id=area.id, feeder_id=area.feeder_id,
                                   days_ahead=days_ahead)
    in_outage = state.meters_total > 0 and state.share >= min_share
    return OutagesRead(
        as_of=now, area_outage=state if in_outage else None,
        area_outage_planned=in_outage and any(outages.running(notice=n, now=now) for n in notices),
        planned=[notice_read(session=session, notice=n, now=now) for n in notices],
    )


def for_district(*, session: Session, now: datetime, district: str | None, days_ahead: int = 7) -> OutagesRead:
    """Planned notices of a district (every district when None); no single area to report on."""
    notices = outages.list_notices(session=session, now=now, district=district, days_ahead=days_ahead)
    return OutagesRead(as_of=now, area_outage=None, area_outage_planned=False,
                       planned=[notice_read(session=session, notice=n, now=now) for n in notices])
