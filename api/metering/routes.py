"""HTTP for metering: a transformer area's state and the areas in outage now."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.core.deps import NowDep, SessionDep, SettingsDep, require_service
from api.metering import service
from api.metering.schemas import AreaOutagesRead, AreaState

router = APIRouter(prefix="/api/metering", tags=["metering"], dependencies=[Depends(require_service)])


@router.get("/areas/{code}", response_model=AreaState)
def get_area_state(code: str, session: SessionDep, now: NowDep) -> AreaState:
    """A transformer area over the last hour: meters without voltage, load against capacity."""
    area = service.require_area_by_code(session=session, code=code)
    return service.area_state(session=session, transformer_area_id=area.id, now=now)


@router.get("/outages", response_model=AreaOutagesRead)
def get_area_outages(session: SessionDep, settings: SettingsDep, now: NowDep,
                     min_share: float | None = Query(None, ge=0.0, le=1.0)) -> AreaOutagesRead:
    """Areas where at least `min_share` (default: settings.area_outage_share) of meters lost voltage."""
    share = settings.area_outage_share if min_share is None else min_share
    return AreaOutagesRead(as_of=now, min_share=share,
                           areas=service.list_area_outages(session=session, now=now, min_share=share))
