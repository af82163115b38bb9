"""HTTP of dispatch: crews with their load, the open work, re-planning, taking a crew out and bringing it back."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.core.deps import NowDep, SessionDep, actor_name, require_roles
from api.core.errors import Forbidden
from api.dispatch import service as dispatch
from api.dispatch.schemas import AvailableCreate, CrewDutyRead, CrewRead, OpenTicketRead, ReasonCreate, ReplanRead
from api.flows import dispatching

dispatch_router = APIRouter(prefix="/api/dispatch", tags=["dispatch"])
SUPERVISOR = require_roles("supervisor", allow_service=True)


@dispatch_router.get("/crews", response_model=list[CrewRead], dependencies=[Depends(SUPERVISOR)])
def list_crews(session: SessionDep, now: NowDep,
               include_inactive: bool = Query(default=False)) -> list[CrewRead]:
    """Active crews (include_inactive: also those taken out): skills, coverage, on shift now, open tickets."""
    return dispatching.list_crews(session=session, now=now, include_inactive=include_inactive)


@dispatch_router.get("/tickets", response_model=list[OpenTicketRead], dependencies=[Depends(SUPERVISOR)])
def open_tickets(session: SessionDep, now: NowDep) -> list[OpenTicketRead]:
    """The open work tickets with their crew, the skill they need, where they are and the arrival deadline."""
    return dispatching.open_tickets(session=session, now=now)


@dispatch_router.get("/crews/me", response_model=CrewDutyRead)
def my_duty(session: SessionDep, now: NowDep, caller=Depends(require_roles("crew"))) -> CrewDutyRead:
    """The signed-in crew's duty: on shift or not, and when that changes (its mobile page says why it is empty)."""
    if not getattr(caller, "crew_id", None):
        raise Forbidden("forbidden", "只有抢修班组账号可以查看班组值班")
    return dispatch.duty(session=session, crew_id=caller.crew_id, now=now)


@dispatch_router.post("/replan", response_model=ReplanRead)
def replan(body: ReasonCreate, session: SessionDep, now: NowDep, caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Re-optimise open work after an emergency; tickets already accepted or on site stay pinned."""
    return dispatching.replan(session=session, now=now, reason=body.reason, actor=actor_name(caller))


@dispatch_router.post("/crews/{crew_id}/unavailable", response_model=ReplanRead)
def crew_unavailable(crew_id: str, body: ReasonCreate, session: SessionDep, now: NowDep,
                     caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Take a crew out of dispatch; its tickets not yet on site go to other crews."""
    return dispatching.crew_unavailable(session=session, crew_id=crew_id, reason=body.reason, now=now,
                                        actor=actor_name(caller))


@dispatch_router.post("/crews/{crew_id}/available", response_model=ReplanRead)
def crew_available(crew_id: str, body: AvailableCreate, session: SessionDep, now: NowDep,
                   caller=Depends(SUPERVISOR)) -> ReplanRead:
    """Bring a crew back to dispatch, or put it on call for `hours` from now; the waiting tickets are planned again."""
    return dispatching.crew_available(session=session, crew_id=crew_id, reason=body.reason, hours=body.hours,
                                      now=now, actor=actor_name(caller))

