"""HTTP for metering: a transformer area's state and the areas in outage now."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from api.auth import require_service
from api.clock import request_now
from api.db import get_session
from api.metering import service
from api.metering.schemas import AreaOutagesRead, AreaState

router = APIRouter(prefix="/api/metering", tags=["metering"], dependencies=[Depends(require_service)])


@router.get("/areas/{code}", response_model=AreaState)
def get_area_state(code: str, request: Request, session: Session = Depends(get_session)) -> AreaState:
    """A transformer area over the last hour: meters without voltage, load against capacity."""
    area = service.get_area_by_code(session=session, code=code)
    if area is None:
        raise HTTPException(status_code=404, detail={
            "code": "area_not_found", "message": f"未找到台区 {code}"})
    return service.area_state(session=session, transformer_area_id=area.id, now=request_now(request))


@router.get("/outages", response_model=AreaOutagesRead)
def get_area_outages(request: Request, min_share: float | None = Query(None, ge=0.0, le=1.0),
                     session: Session = Depends(get_session)) -> AreaOutagesRead:
    """Areas where at least `min_share` (default: settings.area_outage_share) of meters lost voltage."""
    share = request.app.state.settings.area_outage_share if min_share is None else min_share
    now = request_now(request)
    return AreaOutagesRead(as_of=now, min_share=share,
                           areas=service.list_area_outages(session=session, now=now, min_share=share))
