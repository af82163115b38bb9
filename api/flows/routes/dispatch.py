"""HTTP of dispatch: crews with their load, re-planning, taking a crew out."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from api.core.deps import NowDep, SessionDep, actor_name, require_roles
from api.dispatch.schemas import CrewRead, ReasonCreate, ReplanRead
from api.flows import dispatching

dispatch_router = APIRouter(prefix="/api/dispatch", tags=["dispatch"])
SUPERVISOR = require_roles("supervisor", allow_service=True)


@dispatch_router.get("/crews", response_model=list[CrewRead], dependencies=[Depends(SUPERVISOR)])
def list_crews(session: SessionDep, now: NowDep) -> list[CrewRead]:
    """Active crews: skills, coverage, on shift now, open tickets."""
    return dispatching.list_crews(session=session, now=now)


@dispatch_router.post("/replan", response_model=ReplanRead)
def replan(body: ReasonCreate, session: SessionDep, now: NowDep, caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Re-optimise open work after an emergency; tickets already accepted or on site stay pinned."""
    return ReplanRead(moved=dispatching.replan(session=session, now=now, reason=body.reason,
                                               actor=actor_name(caller)))


@dispatch_router.post("/crews/{crew_id}/unavailable", response_model=ReplanRead)
def crew_unavailable(crew_id: str, body: ReasonCreate, session: SessionDep, now: NowDep,
                     caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Take a crew out of dispatch; its tickets not yet on site go to other crews."""
    return ReplanRead(moved=dispatching.crew_unavailable(session=session, crew_id=crew_id, reason=body.reason,
                                                         now=now, actor=actor_name(caller)))

