"""The charging queue (排队): who waits where, who is called to which connector, and how long the wait is.

These are the rules; the OCPP side (ReserveNow when someone is called, CancelReservation when a window
passes) is `CentralSystem.serve_queue` / `expire_queue` in ocpp_server.py, which calls these in a thread.
An entry's id is the reservationId its reservation carries, so a StartTransaction names the entry it serves.
"""
from __future__ import annotations

import heapq
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.charging.models import ChargePoint, Connector, IdTag, QueueEntry, Station, Transaction
from api.charging import service
from api.charging.schemas import AccountCharging, QueueEntryRead, StationRead
from api.charging.service import authorize
from api.core.errors import Conflict, Invalid, NotFound

ARRIVAL_WINDOW = timedelta(minutes=15)  # how long a called customer's connector is held for them
# A booking (预约) is for a time at least this far ahead (sooner is joining now) and at most this far.
BOOK_MIN_AHEAD = timedelta(minutes=10)
BOOK_MAX_AHEAD = timedelta(hours=24)
ACTIVE = ("waiting", "called", "charging")
# How long a session usually takes when the station has no history yet (DC fast charge, AC overnight-ish).
TYPICAL_MINUTES = {"DC": 50.0, "AC": 240.0}
HISTORY = timedelta(days=30)
KIND_NAMES = {"AC": "交流慢充", "DC": "直流快充", None: "充电"}


@dataclass(frozen=True)
class Offer:
    """A connector to reserve for a called entry (ReserveNow)."""

    entry_id: int
    connector_id: int
    charge_point_id: str
    connector_no: int
    id_tag: str
    expiry: datetime


@dataclass(frozen=True)
class Release:
    """A reservation to cancel on the charger (CancelReservation)."""

    entry_id: int
    charge_point_id: str
    station_id: int


# In line as of: the booked time for a booking, else the time of joining.
IN_LINE_SINCE = func.coalesce(QueueEntry.arrive_at, QueueEntry.joined_at)


def in_line_since(entry: QueueEntry) -> datetime:
    return entry.arrive_at or entry.joined_at


def _due(now: datetime):
    """Entries that may be called: joined now, or booked for a time that has come."""
    return or_(QueueEntry.arrive_at.is_(None), QueueEntry.arrive_at <= now)


def _station(session: Session, code: str) -> Station:
    station = session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise NotFound("station_not_found", "没有找到该充电站")
    return station


def station_id_of(*, session: Session, station_code: str) -> int:
    """A station's row id by its code."""
    return _station(session, station_code).id


def _entry(session: Session, entry_id: int) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id)
    if entry is None:
        raise NotFound("queue_entry_not_found", "没有找到这条排队记录")
    return entry


def _working(station: Station, kind: str | None, now: datetime) -> list[Connector]:
    """The station's connectors (of a kind) that can serve someone: charger online, connector not broken."""
    return [c for charger in station.chargers if service.is_online(charger, now) for c in charger.connectors
            if (kind is None or c.kind == kind) and c.status not in ("Faulted", "Unavailable")]


def join(*, session: Session, station_code: str, id_tag: str, kind: str | None, now: datetime,
         conversation_id: str | None = None, arrive_at: datetime | None = None) -> QueueEntryRead:
    """Put an id tag in a station's queue, now or booked for `arrive_at`; joining again is the same entry (a
    retried request changes nothing, and of two requests at once only one gets in: the partial unique index on
    active entries decides)."""
    if arrive_at is not None and not now + BOOK_MIN_AHEAD <= arrive_at <= now + BOOK_MAX_AHEAD:
        raise Invalid("booking_time", "预约到站时间需要在10分钟以后、24小时以内，请重新选择；马上就来的话直接排队就行")
    station = _station(session, station_code)
    if authorize(session=session, id_tag=id_tag, now=now) != "Accepted":
        raise Conflict("id_tag_not_accepted", "这张充电卡当前不能使用，请核对卡号或联系客服")
    active = _active_of(session, id_tag, now)
    if active is None and session.scalar(select(Transaction.id).where(Transaction.id_tag == id_tag,
                                                                      Transaction.stopped_at.is_(None))):
        raise Conflict("already_charging", "这张充电卡正在充电，充完后再排队就行")
    if active is None:
        if not _working(station, kind, now):
            raise Conflict("no_working_connector", f"{station.name}暂时没有可用的{KIND_NAMES[kind]}桩，请换一个站")
        entry = QueueEntry(station_id=station.id, id_tag=id_tag, kind=kind, status="waiting", joined_at=now,
                           arrive_at=arrive_at, conversation_id=conversation_id)
        session.add(entry)
        try:
            session.commit()
            return read(session=session, entry_id=entry.id, now=now)
        except IntegrityError:  # the same card joined in another request meanwhile: that entry is the answer
            session.rollback()
            active = _active_of(session, id_tag, now)
            if active is None:
                raise
    if active.station_id != station.id:
        raise Conflict("already_queued", f"您已在{active.station.name}排队，请先取消那边的排队再换站",
                       entry_id=active.id)
    return read(session=session, entry_id=active.id, now=now)


def active_entry(*, session: Session, id_tag: str, now: datetime) -> QueueEntryRead | None:
    """The id tag's entry that is waiting, called or charging, if any."""
    entry = _active_of(session, id_tag, now)
    return read(session=session, entry_id=entry.id, now=now) if entry is not None else None


def _active_of(session: Session, id_tag: str, now: datetime) -> QueueEntry | None:
    """The id tag's active entry; one left `charging` after its session ended (the stop was lost) is closed."""
    entry = session.scalar(select(QueueEntry).where(QueueEntry.id_tag == id_tag, QueueEntry.status.in_(ACTIVE)))
    if entry is not None and entry.status == "charging" and entry.transaction_id is not None:
        transaction = session.get(Transaction, entry.transaction_id)
        if transaction is None or transaction.stopped_at is not None:
            _move(session, entry.id, ("charging",), status="done",
                  ended_at=transaction.stopped_at if transaction is not None else now)
            session.commit()
            return None
    return entry


def _move(session: Session, entry_id: int, from_statuses: tuple[str, ...], **values) -> bool:
    """Change an entry only if it is still in one of `from_statuses` (an UPDATE … WHERE status: of two
    processes moving the same entry at once, one wins and the other sees it did not)."""
    moved = session.execute(update(QueueEntry).where(QueueEntry.id == entry_id, QueueEntry.status.in_(from_statuses))
                            .values(**values).execution_options(synchronize_session=False))
    session.expire_all()
    return moved.rowcount == 1


def cancel(*, session: Session, entry_id: int, now: datetime) -> tuple[QueueEntryRead, Release | None]:
    """The customer leaves the queue; a held connector is released (the Release says which reservation).
    Whatever the entry became meanwhile (called by another pass), the move and the release agree."""
    _entry(session, entry_id)  # NotFound for an unknown id
    if _move(session, entry_id, ("called",), status="cancelled", ended_at=now):
        release = _release(_entry(session, entry_id))  # the connector it held (kept on the row)
    elif _move(session, entry_id, ("waiting",), status="cancelled", ended_at=now):
        release = None
    else:
        session.rollback()
        raise Conflict("queue_entry_closed", "这条排队已经结束，无需取消")
    session.commit()
    return read(session=session, entry_id=entry_id, now=now), release


def _release(entry: QueueEntry) -> Release:
    return Release(entry.id, entry.connector.charger.charge_point_id, entry.station_id)


def call_next(*, session: Session, station_id: int, now: datetime, skip: frozenset[int] = frozenset(),
              local: frozenset[str] | None = None) -> list[Offer]:
    """Call the first in line for each free connector: the entry becomes `called` with an arrival window.
    `skip`: connectors that just refused a reservation (tried again later, not with the head of the line);
    `local`: the chargers connected to the calling process, the only ones it can send ReserveNow to."""
    station = session.get(Station, station_id)
    held = set(session.scalars(select(QueueEntry.connector_id).where(
        QueueEntry.station_id == station_id, QueueEntry.status == "called")))
    waiting = list(session.scalars(select(QueueEntry).where(
        QueueEntry.station_id == station_id, QueueEntry.status == "waiting", _due(now))
        .order_by(IN_LINE_SINCE, QueueEntry.id)))
    offers = []
    for connector in _working(station, None, now):
        if connector.status != "Available" or connector.id in held or connector.id in skip:
            continue
        if local is not None and connector.charger.charge_point_id not in local:
            continue
        entry = next((e for e in waiting if e.kind in (None, connector.kind)), None)
        if entry is None:
            continue
        waiting.remove(entry)
        if _move(session, entry.id, ("waiting",), status="called", connector_id=connector.id, called_at=now,
                 window_until=now + ARRIVAL_WINDOW):
            offers.append(Offer(entry.id, connector.id, connector.charger.charge_point_id, connector.connector_no,
                                entry.id_tag, now + ARRIVAL_WINDOW))
    session.commit()
    return offers


def offer_refused(*, session: Session, entry_id: int) -> None:
    """The charger would not reserve (occupied, faulted meanwhile): the entry waits again, keeping its place."""
    _move(session, entry_id, ("called",), status="waiting", connector_id=None, called_at=None, window_until=None)
    session.commit()


def expire(*, session: Session, now: datetime) -> list[Release]:
    """Called customers who did not start within their window lose their turn; their connectors are released."""
    late = list(session.scalars(select(QueueEntry).where(QueueEntry.status == "called",
                                                         QueueEntry.window_until < now)))
    releases = [_release(entry) for entry in late]
    releases = [r for r in releases if _move(session, r.entry_id, ("called",), status="expired", ended_at=now)]
    session.commit()
    return releases


def stations_with_waiting(*, session: Session, now: datetime) -> list[int]:
    """Stations where someone waits whose time has come (the periodic pass calls their next in line: a booking
    is called within one pass of its time)."""
    return list(session.scalars(select(QueueEntry.station_id).where(QueueEntry.status == "waiting", _due(now))
                                .distinct()))


def transaction_started(*, session: Session, transaction_id: int, reservation_id: int | None) -> Release | None:
    """A session began: the id tag's queue entry is served — at this station, or (the car went to another
    station) wherever it waited. A connector held for it elsewhere is released (returned)."""
    transaction = session.get(Transaction, transaction_id)
    connector = transaction.connector
    entry = session.get(QueueEntry, reservation_id) if reservation_id else None
    if entry is None or entry.status not in ("waiting", "called") or entry.id_tag != transaction.id_tag:
        # a booking for later is kept (the customer charges now and still comes at the booked time), unless the
        # session starts within the arrival window before it: they came early
        entry = session.scalar(select(QueueEntry).where(
            QueueEntry.id_tag == transaction.id_tag, QueueEntry.status.in_(("waiting", "called")),
            _due(transaction.started_at + ARRIVAL_WINDOW)))
    if entry is None:
        return None
    release = _release(entry) if entry.status == "called" and entry.connector_id != connector.id else None
    if entry.station_id == connector.charger.station_id:
        moved = _move(session, entry.id, (entry.status,), status="charging", transaction_id=transaction.id,
                      connector_id=connector.id)
    else:  # charging elsewhere: this place in line is no longer needed
        moved = _move(session, entry.id, (entry.status,), status="cancelled", ended_at=transaction.started_at)
    session.commit()
    return release if moved else None


def station_of(*, session: Session, charge_point_id: str) -> int:
    """The station id of a charger."""
    return session.scalar(select(ChargePoint.station_id).where(ChargePoint.charge_point_id == charge_point_id))


def transaction_stopped(*, session: Session, transaction_id: int, now: datetime) -> int | None:
    """The queued customer's session ended: the entry is done (its id returned, for the notice)."""
    entry_id = session.scalar(select(QueueEntry.id).where(QueueEntry.transaction_id == transaction_id,
                                                          QueueEntry.status == "charging"))
    if entry_id is None or not _move(session, entry_id, ("charging",), status="done", ended_at=now):
        return None
    session.commit()
    return entry_id


def typical_minutes(session: Session, station: Station, kind: str, now: datetime) -> float:
    """The median length of the station's finished sessions of a kind over the last 30 days (a default before)."""
    rows = session.execute(select(Transaction.started_at, Transaction.stopped_at).join(Connector).join(ChargePoint)
                           .where(ChargePoint.station_id == station.id, Connector.kind == kind,
                                  Transaction.stopped_at.is_not(None), Transaction.started_at >= now - HISTORY)).all()
    lengths = [(stop - start).total_seconds() / 60 for start, stop in rows if stop > start]
    return statistics.median(lengths) if len(lengths) >= 5 else TYPICAL_MINUTES[kind]


def expected_wait(session: Session, entry: QueueEntry, now: datetime) -> int | None:
    """Minutes until a waiting entry's turn (None: no working connector)."""
    return _wait(session, entry.station, entry.kind, _ahead(session, entry), now)


def newcomer_wait(session: Session, station: Station, kind: str | None, now: datetime) -> int | None:
    """Minutes a customer joining the station's queue now would wait for a connector (of a kind): behind
    everyone in line now who can take the same connectors. None: no working connector."""
    waiting = session.scalars(select(QueueEntry).where(QueueEntry.station_id == station.id,
                                                        QueueEntry.status == "waiting", _due(now))).all()
    ahead = sum(1 for e in waiting if kind is None or e.kind in (None, kind))
    return _wait(session, station, kind, ahead, now)


def stations_now(*, session: Session, district: str | None = None, free_only: bool = False,
                 kind: str | None = None, near: tuple[float, float] | None = None,
                 now: datetime) -> list[StationRead]:
    """What a customer looking for a charger is shown: the stations (service.list_stations) with the wait
    for a connector (of the kind asked) if they came now."""
    stations = service.list_stations(session=session, district=district, free_only=free_only, kind=kind, near=near,
                                      now=now)
    rows = {s.code: s for s in session.scalars(select(Station).where(Station.code.in_([s.code for s in stations])))}
    for station in stations:
        station.expected_wait_minutes = newcomer_wait(session, rows[station.code], kind, now)
    return stations


def _wait(session: Session, station: Station, kind: str | None, ahead: int, now: datetime) -> int | None:
    """Minutes until the turn of one with `ahead` others before them: the connectors (of a kind) free up as
    their sessions end (a typical length after they began), and each serves those in line in turn."""
    connectors = _working(station, kind, now)
    if not connectors:
        return None
    running = dict(session.execute(select(Transaction.connector_id, Transaction.started_at).where(
        Transaction.connector_id.in_([c.id for c in connectors]), Transaction.stopped_at.is_(None))).all())
    held = dict(session.execute(select(QueueEntry.connector_id, QueueEntry.window_until).where(
        QueueEntry.station_id == station.id, QueueEntry.status == "called")).all())
    typical_of = {kind: timedelta(minutes=typical_minutes(session, station, kind, now))
                  for kind in {c.kind for c in connectors}}
    free_at = []
    for c in connectors:
        typical = typical_of[c.kind]
        if c.id in running:
            free_at.append((max(now, running[c.id] + typical), typical))
        elif c.id in held:
            free_at.append((max(now, held[c.id] + typical), typical))
        elif c.status == "Available":
            free_at.append((now, typical))
        else:  # occupied without a session we know (Preparing, Finishing …): soon
            free_at.append((now + timedelta(minutes=5), typical))
    heapq.heapify(free_at)
    for _ in range(ahead):
        at, typical = heapq.heappop(free_at)
        heapq.heappush(free_at, (at + typical, typical))
    return max(0, round((free_at[0][0] - now).total_seconds() / 60))


def _ahead(session: Session, entry: QueueEntry) -> int:
    """How many entries that can take the same connectors wait before this one (in line since earlier)."""
    before = session.scalars(select(QueueEntry).where(
        QueueEntry.station_id == entry.station_id, QueueEntry.status == "waiting", QueueEntry.id != entry.id)).all()
    return sum(1 for e in before if (in_line_since(e), e.id) < (in_line_since(entry), entry.id)
               and (entry.kind is None or e.kind in (None, entry.kind)))



def read(*, session: Session, entry_id: int, now: datetime) -> QueueEntryRead:
    """An entry as the customer and staff see it: place in line and expected wait while waiting,
    the connector and the window to arrive in once called."""
    entry = _entry(session, entry_id)
    waiting = entry.status == "waiting" and in_line_since(entry) <= now  # a booking not due has no place yet
    connector = entry.connector
    return QueueEntryRead(
        entry_id=entry.id, station_code=entry.station.code, station_name=entry.station.name, id_tag=entry.id_tag,
        kind=entry.kind, status=entry.status, joined_at=entry.joined_at, arrive_at=entry.arrive_at,
        position=_ahead(session, entry) + 1 if waiting else None,
        expected_wait_minutes=expected_wait(session, entry, now) if waiting else None,
        charge_point_id=connector.charger.charge_point_id if connector else None,
        connector_no=connector.connector_no if connector else None,
        window_until=entry.window_until if entry.status == "called" else None,
        transaction_id=entry.transaction_id)


def station_queue(*, session: Session, station_code: str, now: datetime) -> list[QueueEntryRead]:
    """Who is waiting or called at a station, in order (for the operator)."""
    station = _station(session, station_code)
    ids = session.scalars(select(QueueEntry.id).where(QueueEntry.station_id == station.id,
                                                      QueueEntry.status.in_(("waiting", "called")))
                          .order_by(IN_LINE_SINCE, QueueEntry.id)).all()
    return [read(session=session, entry_id=i, now=now) for i in ids]


def account_charging(*, session: Session, account_no: str, now: datetime) -> AccountCharging:
    """What a customer may ask about their charging: their usable cards, sessions running, places in line."""
    tags = service.accepted_tags(session=session, account_no=account_no, now=now)
    entries = [e for e in (_active_of(session, tag, now) for tag in tags) if e is not None and e.status != "charging"]
    return AccountCharging(account_no=account_no, id_tags=tags,
                           sessions=service.running_of(session=session, id_tags=tags),
                           queue=[read(session=session, entry_id=e.id, now=now) for e in entries])


@dataclass(frozen=True)
class NoticeTarget:
    """Who hears about a queue entry: the chat it was joined from, else the card holder's 户号 (for SMS)."""

    entry: QueueEntryRead
    conversation_id: str | None
    account_no: str | None
    energy_kwh: float | None  # a finished session's energy and cost, for the "done" notice
    cost_fen: int | None


def notice_target(*, session: Session, entry_id: int, now: datetime) -> NoticeTarget:
    """The entry as the customer sees it, and where to tell them."""
    entry = _entry(session, entry_id)
    account_no = session.scalar(select(IdTag.account_no).where(IdTag.id_tag == entry.id_tag))
    energy = cost = None
    if entry.transaction_id is not None and (transaction := session.get(Transaction, entry.transaction_id)):
        energy = float(transaction.energy_kwh) if transaction.energy_kwh is not None else None
        cost = transaction.cost_fen
    return NoticeTarget(read(session=session, entry_id=entry.id, now=now), entry.conversation_id, account_no,
                        energy, cost)
