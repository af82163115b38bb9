"""HTTP of ticket work that crosses domains: open (dispatched at once), move through the lifecycle, reassign."""
from __future__ import annotations

from fastapi import APIRouter, Depends, status

from api.core.deps import NowDep, SessionDep, SettingsDep, actor_name, app_part, require_roles
from api.dispatch.schemas import ReassignCreate
from api.flows import dispatching, ticket_intake, ticket_work
from api.tickets import service as tickets
from api.tickets.schemas import FaultReportCreate, TicketCreate, TicketRead, TransitionCreate

# Opening a ticket dispatches it at once: the bot (service token), hotline agents and supervisors
# open tickets; crews and auditors do not (audit tasks have their own workflow). Reading tickets is
# api/tickets/routes.py.
tickets_router = APIRouter(prefix="/api/tickets", tags=["tickets"])
OPENERS = require_roles("agent", "supervisor", allow_service=True)
WORKERS = require_roles("agent", "supervisor", "crew", allow_service=True)
SUPERVISOR = require_roles("supervisor", allow_service=True)


@tickets_router.post("/faults", response_model=TicketRead, status_code=status.HTTP_201_CREATED,
                     dependencies=[Depends(OPENERS)])
def create_fault_ticket(report: FaultReportCreate, session: SessionDep, settings: SettingsDep, now: NowDep,
                        parser=app_part("address_parser")) -> TicketRead:
    """Open a fault or hazard ticket; the same idempotency_key returns the same ticket."""
    return ticket_intake.create_fault_ticket(session=session, report=report, settings=settings,
                                             parser=parser(), now=now)


@tickets_router.post("", response_model=TicketRead, status_code=status.HTTP_201_CREATED,
                     dependencies=[Depends(OPENERS)])
def create_ticket(data: TicketCreate, session: SessionDep, now: NowDep,
                  parser=app_part("address_parser")) -> TicketRead:
    """Open a 投诉 / 业务办理 / 咨询回访 / 充电设施故障 ticket and give it to a crew at once."""
    return ticket_intake.create_ticket(session=session, data=data, parser=parser(), now=now)


@tickets_router.post("/{number}/transitions", response_model=TicketRead)
def transition(number: str, body: TransitionCreate, session: SessionDep, now: NowDep,
               caller=Depends(WORKERS)) -> TicketRead:
    """Move a ticket through its lifecycle; an action not allowed from its status is a 409.

    A crew account may act only on its own crew's tickets, and only with the crew's steps.
    """
    return ticket_work.transition(session=session, number=number, body=body, caller=caller, now=now)


@tickets_router.post("/{number}/reassign", response_model=TicketRead)
def reassign(number: str, body: ReassignCreate, session: SessionDep, now: NowDep,
             caller=Depends(SUPERVISOR)) -> TicketRead:
    """A supervisor gives the ticket to another crew; the reason goes on the timeline."""
    dispatching.reassign(session=session, number=number, crew_id=body.crew_id, reason=body.reason,
                         actor=actor_name(caller), now=now)
    return tickets.get_by_number(session=session, number=number)

