"""HTTP of the staff charging page's live views (/charging): the board (stations, connectors, queues, faults)
and each transformer area's power against its limit with the scheduler's allocation (agents and supervisors
read them; the flows are in api/flows/charging_board.py); and customers' charger fault reports (the bot).
"""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, status

from api.charging.board import BoardRead
from api.core.deps import NowDep, SessionDep, app_part, require_roles, require_service
from api.flows import charging_board
from api.flows.charging import NearbyStations, customer_charger_report, stations_near_place
from api.flows.charging_board import AreaLoad
from api.tickets.schemas import ChargerReportCreate, TicketRead

STAFF = require_roles("agent", "supervisor")
District = Query(default=None, max_length=16)

charging_board_router = APIRouter(prefix="/api/charging", tags=["charging"], dependencies=[Depends(STAFF)])
charger_reports_router = APIRouter(prefix="/api/charging", tags=["charging"], dependencies=[Depends(require_service)])
nearby_router = APIRouter(prefix="/api/charging", tags=["charging"],
                          dependencies=[Depends(require_roles("agent", "supervisor", allow_service=True))])


@charging_board_router.get("/board", response_model=BoardRead)
def board(session: SessionDep, now: NowDep, district: str | None = District) -> BoardRead:
    """Every station's connectors with their state now, the running sessions, each station's queue, the faults."""
    return charging_board.staff_board(session=session, now=now, district=district or None)


@charging_board_router.get("/areas", response_model=list[AreaLoad])
def areas(session: SessionDep, now: NowDep, district: str | None = District) -> list[AreaLoad]:
    """Each area feeding a station: capacity, measured and assumed base load, charging now, the allocation."""
    return charging_board.area_loads(session=session, now=now, district=district or None)


@nearby_router.get("/nearby", response_model=NearbyStations)
def nearby(session: SessionDep, now: NowDep, place: str = Query(min_length=1, max_length=100),
           kind: Literal["AC", "DC"] | None = None, free_only: bool = False,
           parser=app_part("address_parser")) -> NearbyStations:
    """Stations nearest to a place in the customer's words (e.g. "文化街附近"), with distance, free connectors,
    price and the expected wait; 422 `place_not_found` when the place is not one of 固原's roads, towns or
    districts."""
    return stations_near_place(session=session, place=place, kind=kind, free_only=free_only, parser=parser(),
                               now=now)


@charger_reports_router.post("/stations/{code}/fault-reports", response_model=TicketRead,
                             status_code=status.HTTP_201_CREATED)
def report_charger_fault(body: ChargerReportCreate, session: SessionDep, now: NowDep,
                         code: str = Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")) -> TicketRead:
    """A customer's report of a broken charger (the bot files it): a 充电设施故障 ticket at the station, merged with
    the station's open repair ticket when there is one (`attached_to_existing`, `parent`), else dispatched.
    Idempotent by `idempotency_key`."""
    return customer_charger_report(session=session, station_code=code, report=body, now=now)
