"""HTTP of outages for the bot: a customer's area outage and the planned outages around it."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.core.deps import NowDep, SessionDep, SettingsDep, require_service
from api.customers import service as customers
from api.flows import outages
from api.flows.schemas import OutagesRead
from api.outages.service import district_named

outages_router = APIRouter(prefix="/api/outages", tags=["outages"], dependencies=[Depends(require_service)])


@outages_router.get("", response_model=OutagesRead)
def get_outages(session: SessionDep, settings: SettingsDep, now: NowDep, account_no: str | None = None,
                district: str | None = None, days_ahead: int = Query(7, ge=0, le=30)) -> OutagesRead:
    """With account_no: the customer's area outage and notices; else the district's notices."""
    if account_no:
        customer = customers.require_by_account_no(session=session, account_no=account_no)
        return outages.for_customer(session=session, customer=customer, now=now,
                                    min_share=settings.area_outage_share, days_ahead=days_ahead)
    return outages.for_district(session=session, now=now, district=district_named(district) if district else None,
                                days_ahead=days_ahead)
