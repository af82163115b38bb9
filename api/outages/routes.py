"""HTTP for outages: a customer's area outage and the planned outages around it."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from api.auth import require_service
from api.clock import request_now
from api.customers.routes import lookup_customer
from api.db import get_session
from api.geo.gazetteer import DISTRICTS
from api.outages import service
from api.outages.schemas import OutagesRead
from api.text import normalize_text

router = APIRouter(prefix="/api/outages", tags=["outages"], dependencies=[Depends(require_service)])


def _district(value: str) -> str:
    text = normalize_text(value)
    for name in DISTRICTS:
        if text in (name, name[:-1]):  # 原州区 or 原州
            return name
    raise HTTPException(status_code=422, detail={
        "code": "unknown_district", "message": f"{text} 不是固原市的区县（原州区、西吉县、隆德县、泾源县、彭阳县）"})


@router.get("", response_model=OutagesRead)
def get_outages(
    request: Request, account_no: str | None = None, district: str | None = None,
    days_ahead: int = Query(7, ge=0, le=30), session: Session = Depends(get_session),
) -> OutagesRead:
    """With account_no: the customer's area outage and notices; else the district's notices."""
    now = request_now(request)
    if account_no:
        customer = lookup_customer(session, account_no)
        return service.outages_for_customer(
            session=session, customer=customer, now=now,
            min_share=request.app.state.settings.area_outage_share, days_ahead=days_ahead)
    return service.outages_for_district(
        session=session, now=now, district=_district(district) if district else None, days_ahead=days_ahead)
