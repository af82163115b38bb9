"""HTTP of the tickets domain alone: list, read, and a crew's own queue.

Opening a ticket (dispatch at once), moving it through its lifecycle (crews, staff, the crew's
SMS) and reassigning it cross domains: they are in api/flows/routes.py.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.core.deps import SERVICE, SessionDep, require_roles, require_service
from api.core.errors import Forbidden
from api.core.ids import ACCOUNT_NO_PATTERN, MOBILE_PATTERN
from api.tickets import service
from api.tickets.schemas import CrewTicketRead, OwnedTicketRead, TicketList, TicketRead, UnownedTicketRead

READERS = require_roles("agent", "supervisor", "crew", "auditor", allow_service=True)
router = APIRouter(prefix="/api/tickets", tags=["tickets"])


def crew_scope(caller=Depends(READERS)) -> str | None:
    """A crew account reads its own crew's tickets only (None: every ticket)."""
    if caller != SERVICE and caller.role == "crew":
        return caller.crew_id or ""  # a crew account without a crew sees nothing
    return None


CrewScope = Annotated[str | None, Depends(crew_scope)]


@router.get("", response_model=TicketList)
def list_tickets(
    session: SessionDep,
    crew: CrewScope,
    caller=Depends(READERS),
    account_no: str | None = Query(default=None, pattern=ACCOUNT_NO_PATTERN),
    phone: str | None = Query(default=None, pattern=MOBILE_PATTERN),
    status_: str | None = Query(default=None, alias="status", max_length=8),
    type_: str | None = Query(default=None, alias="type", max_length=8),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> TicketList:
    """Tickets newest first (the bot, answering customers, never sees an audit of their premises)."""
    items, total = service.list(session=session, account_no=account_no, phone=phone, status=status_,
                                type=type_, crew_id=crew, limit=limit, offset=offset, for_customers=caller == SERVICE)
    return TicketList(items=items, total=total)


@router.get("/crew", response_model=list[CrewTicketRead])
def crew_tickets(session: SessionDep,
                 caller=Depends(require_roles("agent", "supervisor", "crew", "auditor"))) -> list[CrewTicketRead]:
    """A crew's open tickets (offered, accepted, on site), most urgent first."""
    if caller.role != "crew" or not caller.crew_id:
        raise Forbidden("forbidden", "只有抢修班组账号可以查看班组工单")
    return service.crew_tickets(session=session, crew_id=caller.crew_id)


@router.get("/{number}/for-customer", response_model=OwnedTicketRead | UnownedTicketRead,
            dependencies=[Depends(require_service)])
def ticket_for_customer(
    number: str, session: SessionDep,
    conversation_id: str | None = Query(default=None, max_length=64),
    account_no: str | None = Query(default=None, pattern=ACCOUNT_NO_PATTERN),
) -> OwnedTicketRead | UnownedTicketRead:
    """What the bot may tell a chat about a ticket: everything if it is that customer's (the reporting
    conversation, or the account the bot verified), else only that the number exists."""
    return service.for_customer(session=session, number=number, conversation_id=conversation_id,
                                account_no=account_no)


@router.get("/{number}", response_model=TicketRead)
def get_ticket(number: str, session: SessionDep, crew: CrewScope) -> TicketRead:
    """One ticket with its timeline."""
    return service.get_by_number(session=session, number=number, crew_id=crew)
