"""HTTP for tickets; rules live in api.tickets.service."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from api.auth import actor_name, require_roles
from api.clock import request_now
from api.db import get_session
from api.dispatch import service as dispatch
from api.dispatch.schemas import ReassignCreate
from api.tickets import flows, lifecycle, service
from api.tickets.schemas import (
    CrewTicketRead, FaultReportCreate, TicketCreate, TicketList, TicketRead, TransitionCreate,
)

STAFF = require_roles("agent", "supervisor", "crew", "auditor", allow_service=True)
router = APIRouter(prefix="/api/tickets", tags=["tickets"], dependencies=[Depends(STAFF)])


@router.post("/faults", response_model=TicketRead, status_code=status.HTTP_201_CREATED)
def create_fault_ticket(report: FaultReportCreate, request: Request,
                        session: Session = Depends(get_session)) -> TicketRead:
    """Open a fault or hazard ticket; the same idempotency_key returns the same ticket."""
    now = request_now(request)
    created = service.create_fault_ticket(
        session=session, report=report, settings=request.app.state.settings,
        parser=request.app.state.address_parser(), now=now,
    )
    if created.status == "新建" and not created.attached_to_existing:
        flows.dispatch_new(session=session, number=created.number, now=now)
        created = service.get_by_number(session=session, number=created.number)
    return created


@router.post("", response_model=TicketRead, status_code=status.HTTP_201_CREATED)
def create_ticket(data: TicketCreate, request: Request, session: Session = Depends(get_session)) -> TicketRead:
    """Open a 投诉 / 业务办理 / 咨询回访 / 充电设施故障 ticket and give it to a crew at once."""
    now = request_now(request)
    created = service.create_ticket(session=session, data=data, parser=request.app.state.address_parser(), now=now)
    if created.status == "新建":
        flows.dispatch_new(session=session, number=created.number, now=now)
        created = service.get_by_number(session=session, number=created.number)
    return created


@router.get("", response_model=TicketList)
def list_tickets(
    session: Session = Depends(get_session),
    account_no: str | None = Query(default=None, pattern=r"^\d{10}$"),
    phone: str | None = Query(default=None, pattern=r"^1[3-9]\d{9}$"),
    status_: str | None = Query(default=None, alias="status", max_length=8),
    type_: str | None = Query(default=None, alias="type", max_length=8),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> TicketList:
    """Tickets newest first."""
    items, total = service.list(session=session, account_no=account_no, phone=phone,
                                status=status_, type=type_, limit=limit, offset=offset)
    return TicketList(items=items, total=total)


@router.get("/crew", response_model=list[CrewTicketRead])
def crew_tickets(session: Session = Depends(get_session),
                 caller=Depends(require_roles("agent", "supervisor", "crew", "auditor"))) -> list[CrewTicketRead]:
    """A crew's open tickets (offered, accepted, on site), most urgent first."""
    if caller.role != "crew" or not caller.crew_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail={"code": "forbidden", "message": "只有抢修班组账号可以查看班组工单"})
    return service.crew_tickets(session=session, crew_id=caller.crew_id)


@router.get("/{number}", response_model=TicketRead)
def get_ticket(number: str, session: Session = Depends(get_session)) -> TicketRead:
    """One ticket with its timeline."""
    try:
        return service.get_by_number(session=session, number=number)
    except service.TicketNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "ticket_not_found", "message": f"没有找到工单 {number}"})


def _locked(session: Session, number: str):
    try:
        return service.get_for_update(session=session, number=number)
    except service.TicketNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "ticket_not_found", "message": f"没有找到工单 {number}"})


def _conflict(exc: lifecycle.InvalidTransition) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail={"code": exc.code, "message": exc.message})


@router.post("/{number}/transitions", response_model=TicketRead)
def transition(number: str, body: TransitionCreate, request: Request, session: Session = Depends(get_session),
               caller=Depends(require_roles("agent", "supervisor", "crew", allow_service=True))) -> TicketRead:
    """Move a ticket through its lifecycle; an action not allowed from its status is a 409.

    A crew account may act only on its own crew's tickets, and only with the crew's steps.
    """
    ticket = _locked(session, number)
    now = request_now(request)
    if caller != "service":
        if caller.role == "crew" and (ticket.crew_id != caller.crew_id
                                      or body.action not in ("accept", "arrive", "resolve", "reject")):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail={"code": "forbidden", "message": "只能处理派给本班组的工单"})
        body = body.model_copy(update={"actor": actor_name(caller)})
    try:
        if body.action in ("accept", "arrive", "resolve", "reject") and ticket.crew is not None:
            flows.apply_crew_action(session=session, ticket=ticket, crew=ticket.crew, action=body.action,
                                    note=body.note or "", now=now, actor=body.actor)
        elif body.action == "dispatch":
            lifecycle.target("dispatch", status=ticket.status, ticket_type=ticket.type)
            if not dispatch.dispatch(session=session, ticket=ticket, now=now, actor=body.actor):
                raise lifecycle.InvalidTransition("no_crew", "当前没有可以接单的班组，工单已进入待派队列")
        else:
            flows.change_by_staff(session=session, ticket=ticket, action=body.action, actor=body.actor, now=now,
                                  note=body.note)
    except lifecycle.InvalidTransition as exc:
        session.rollback()
        raise _conflict(exc)
    session.commit()
    return service.get_by_number(session=session, number=number)


@router.post("/{number}/reassign", response_model=TicketRead)
def reassign(number: str, body: ReassignCreate, request: Request, session: Session = Depends(get_session),
             caller=Depends(require_roles("supervisor", allow_service=True))) -> TicketRead:
    """A supervisor gives the ticket to another crew; the reason goes on the timeline."""
    ticket = _locked(session, number)
    try:
        dispatch.reassign(session=session, ticket=ticket, crew_id=body.crew_id, reason=body.reason,
                          actor=actor_name(caller), now=request_now(request))
    except dispatch.NoSuchCrew:
        session.rollback()
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "crew_not_found", "message": f"没有找到班组 {body.crew_id}"})
    except lifecycle.InvalidTransition as exc:
        session.rollback()
        raise _conflict(exc)
    return service.get_by_number(session=session, number=number)
