"""HTTP of dispatch: the crews and their load (staff pages use it; staff sign-in is a later issue)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.auth import actor_name, require_roles
from api.clock import request_now
from api.db import get_session
from api.dispatch import service
from api.dispatch.schemas import CrewRead, ReasonCreate, ReplanRead

SUPERVISOR = require_roles("supervisor", allow_service=True)
router = APIRouter(prefix="/api/dispatch", tags=["dispatch"])


@router.get("/crews", response_model=list[CrewRead], dependencies=[Depends(SUPERVISOR)])
def list_crews(request: Request, session: Session = Depends(get_session)) -> list[CrewRead]:
    """Active crews: skills, coverage, on shift now, open tickets."""
    return service.list_crews(session=session, now=request_now(request))


@router.post("/replan", response_model=ReplanRead)
def replan(body: ReasonCreate, request: Request, session: Session = Depends(get_session),
           caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Re-optimise open work after an emergency; tickets already accepted or on site stay pinned."""
    return ReplanRead(moved=service.replan(session=session, now=request_now(request), reason=body.reason,
                                           actor=actor_name(caller)))


@router.post("/crews/{crew_id}/unavailable", response_model=ReplanRead)
def crew_unavailable(crew_id: str, body: ReasonCreate, request: Request,
                     session: Session = Depends(get_session), caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Take a crew out of dispatch; its tickets not yet on site go to other crews."""
    try:
        moved = service.crew_unavailable(session=session, crew_id=crew_id, reason=body.reason,
                                         now=request_now(request), actor=actor_name(caller))
    except service.NoSuchCrew:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "crew_not_found", "message": f"没有找到班组 {crew_id}"})
    return ReplanRead(moved=moved)
