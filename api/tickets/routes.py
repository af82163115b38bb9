"""HTTP for tickets; rules live in api.tickets.service."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from api.auth import require_service
from api.clock import request_now
from api.db import get_session
from api.tickets import service
from api.tickets.schemas import FaultReportCreate, TicketList, TicketRead

router = APIRouter(prefix="/api/tickets", tags=["tickets"], dependencies=[Depends(require_service)])


@router.post("/faults", response_model=TicketRead, status_code=status.HTTP_201_CREATED)
def create_fault_ticket(report: FaultReportCreate, request: Request,
                        session: Session = Depends(get_session)) -> TicketRead:
    """Open a fault or hazard ticket; the same idempotency_key returns the same ticket."""
    return service.create_fault_ticket(
        session=session, report=report, settings=request.app.state.settings,
        parser=request.app.state.address_parser(), now=request_now(request),
    )


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


@router.get("/{number}", response_model=TicketRead)
def get_ticket(number: str, session: Session = Depends(get_session)) -> TicketRead:
    """One ticket with its timeline."""
    try:
        return service.get_by_number(session=session, number=number)
    except service.TicketNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "ticket_not_found", "message": f"没有找到工单 {number}"})
