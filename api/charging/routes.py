"""HTTP and WebSocket of charging: the OCPP 1.6-J endpoint chargers connect to, stations and sessions to read,
and the stations' queues (join, see, cancel; the bot joins on a customer's behalf with the service token).

`/ocpp/{charge_point_id}`: subprotocol `ocpp1.6`, HTTP Basic auth (OCPP 1.6 security profile 1: the user
name is the charge point id, the password its secret), checked before the socket is accepted; an unknown
charger or a wrong password gets 403 and no socket.
"""
from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from api.charging import orderly, queue, service
from api.charging.ocpp_server import SUBPROTOCOL, CentralSystem, ConnectionClosed
from api.charging.schemas import (AccountCharging, ChargingWish, QueueEntryRead, QueueJoin, StationRead,
                                  TransactionRead)
from api.core.deps import NowDep, RowId, SessionDep, app_part, require_roles
from api.core.errors import Invalid
from api.core.ids import ACCOUNT_NO_PATTERN

log = logging.getLogger(__name__)
Central = Annotated[CentralSystem | None, app_part("ocpp")]  # built by the lifespan (api/main.py)
READERS = require_roles("agent", "supervisor", allow_service=True)
AccountNo = Annotated[str, Path(pattern=ACCOUNT_NO_PATTERN, description="户号 (10 digits)")]
POLICY_VIOLATION = 1008  # closing before accept: the server answers the handshake with 403

ocpp_router = APIRouter(tags=["charging"])
charging_router = APIRouter(prefix="/api/charging", tags=["charging"], dependencies=[Depends(READERS)])


class StarletteConnection:
    """A Starlette WebSocket as the `ocpp` package's connection: recv() and send(text)."""

    def __init__(self, websocket: WebSocket):
        self.websocket = websocket

    async def recv(self) -> str:
        try:
            return await self.websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError) as gone:  # RuntimeError: receive after a close
            raise ConnectionClosed() from gone

    async def send(self, message: str) -> None:
        try:
            await self.websocket.send_text(message)
        except (WebSocketDisconnect, RuntimeError) as gone:
            raise ConnectionClosed() from gone

    async def close(self) -> None:
        try:
            await self.websocket.close()
        except RuntimeError:  # already closed
            pass


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic …` header, or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


@ocpp_router.websocket("/ocpp/{charge_point_id}")
async def ocpp_socket(websocket: WebSocket, charge_point_id: str, central: Central):
    """A charger's OCPP 1.6-J connection (its own credentials; no staff or service token)."""
    credentials = basic_credentials(websocket.headers.get("authorization"))
    allowed = (central is not None and SUBPROTOCOL in websocket.scope.get("subprotocols", [])
               and credentials is not None and credentials[0] == charge_point_id
               and await central.authenticate(charge_point_id, credentials[1]))
    if not allowed:
        log.warning("OCPP connection refused for charger %r", charge_point_id[:48])
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept(subprotocol=SUBPROTOCOL)
    await central.serve(charge_point_id, StarletteConnection(websocket))


@charging_router.get("/stations", response_model=list[StationRead])
def list_stations(session: SessionDep, now: NowDep, district: str | None = Query(default=None, max_length=16),
                  free_only: bool = False, kind: Literal["AC", "DC"] | None = None,
                  lat: float | None = Query(default=None, ge=-90, le=90),
                  lon: float | None = Query(default=None, ge=-180, le=180)) -> list[StationRead]:
    """Stations (of a district) with their connectors' live status and the expected wait for a connector (of
    `kind`) now; `free_only`: a free connector now; with `lat` and `lon`: nearest first, with the distance."""
    if (lat is None) != (lon is None):
        raise Invalid("lat_lon_together", "经纬度须同时给出（lat 和 lon）")
    return queue.stations_now(session=session, district=district, free_only=free_only, kind=kind,
                              near=(lat, lon) if lat is not None else None, now=now)


@charging_router.get("/stations/{code}", response_model=StationRead)
def get_station(code: str, session: SessionDep, now: NowDep) -> StationRead:
    """One station with its connectors' live status."""
    return service.get_station(session=session, code=code, now=now)


@charging_router.get("/transactions/{transaction_id}", response_model=TransactionRead)
def get_transaction(transaction_id: RowId, session: SessionDep) -> TransactionRead:
    """A charging session: energy and cost (so far), power and state of charge while it runs."""
    return service.get_transaction(session=session, transaction_id=transaction_id)



@charging_router.post("/transactions/{transaction_id}/wish", response_model=TransactionRead)
async def set_wish(transaction_id: RowId, body: ChargingWish, session: SessionDep, now: NowDep,
                   central: Central) -> TransactionRead:
    """The owner's departure and energy for orderly charging; the area is re-planned at once."""
    read = await run_in_threadpool(orderly.set_wish, session=session, transaction_id=transaction_id,
                                   departure_at=body.departure_at, kwh_requested=body.kwh_requested,
                                   allow_delay=body.allow_delay, now=now)
    if central is not None and central.on_session_change is not None:
        await central.on_session_change(read.charge_point_id)
    return read


@charging_router.post("/stations/{code}/queue", response_model=QueueEntryRead)
async def join_queue(code: str, body: QueueJoin, session: SessionDep, now: NowDep, central: Central) -> QueueEntryRead:
    """Join a station's queue (the same entry when already in it), now or booked for `arrive_at`. With a connector
    free and nobody ahead, the customer is called at once: the connector is reserved for them (ReserveNow) for the
    arrival window; a booking is called the same way when its time comes."""
    entry = await run_in_threadpool(queue.join, session=session, station_code=code, id_tag=body.id_tag,
                                    kind=body.kind, now=now, conversation_id=body.conversation_id,
                                    arrive_at=body.arrive_at)
    if central is not None and entry.status == "waiting" and entry.position is not None:  # not a later booking
        station_id = await run_in_threadpool(queue.station_id_of, session=session, station_code=code)
        await central.join_answered(station_id, entry.entry_id)  # called now: this answer tells them
    return await run_in_threadpool(_fresh_read, session, entry.entry_id, now)


@charging_router.get("/stations/{code}/queue", response_model=list[QueueEntryRead])
def station_queue(code: str, session: SessionDep, now: NowDep) -> list[QueueEntryRead]:
    """Who waits or is called at a station, in order."""
    return queue.station_queue(session=session, station_code=code, now=now)


@charging_router.get("/accounts/{account_no}", response_model=AccountCharging)
def account_charging(account_no: AccountNo, session: SessionDep, now: NowDep) -> AccountCharging:
    """A customer's usable charging cards, sessions running now (energy, cost, state of charge, estimated
    finish) and places in queues: what the bot reads back to a verified customer."""
    return queue.account_charging(session=session, account_no=account_no, now=now)


@charging_router.get("/queue/{entry_id}", response_model=QueueEntryRead)
def queue_entry(entry_id: RowId, session: SessionDep, now: NowDep) -> QueueEntryRead:
    """A place in a queue: position and expected wait, or the connector held and the time to arrive by."""
    return queue.read(session=session, entry_id=entry_id, now=now)


@charging_router.post("/queue/{entry_id}/cancel", response_model=QueueEntryRead)
async def cancel_queue_entry(entry_id: RowId, session: SessionDep, now: NowDep, central: Central) -> QueueEntryRead:
    """Leave the queue; a connector held for the customer is released and the next in line called."""
    entry, release = await run_in_threadpool(queue.cancel, session=session, entry_id=entry_id, now=now)
    if central is not None and release is not None:
        await central.release(release)
        await central.serve_queue(release.station_id)
    return entry


def _fresh_read(session, entry_id: int, now) -> QueueEntryRead:
    session.expire_all()  # the central system changed the entry through its own session
    return queue.read(session=session, entry_id=entry_id, now=now)
