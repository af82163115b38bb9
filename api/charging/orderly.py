"""Orderly charging (有序充电) of the sessions running now: what the scheduler needs to know about them.

A session whose owner told us when they leave and how much they want (`set_wish`) is planned to that wish,
in the valley hours when they allow a delay. A session nobody told us about charges as fast as the area
allows (no delay, a 12-hour horizon), so the area's limit still holds without guessing the owner's plans.
The area's capacity and its other load come from other domains: api/flows/orderly_charging.py joins them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.charging import scheduler
from api.charging.models import ChargePoint, Connector, Station, Transaction
from api.charging.schemas import TransactionRead
from api.charging.service import energy_so_far, get_transaction
from api.core.errors import Conflict, Invalid, NotFound

HORIZON = timedelta(hours=12)  # how far a session without a wish is planned
MAX_WISH_AHEAD = timedelta(hours=48)


@dataclass(frozen=True)
class LiveSession:
    """A running transaction as the scheduler sees it, and where to send its charging profile."""

    transaction_id: int
    charge_point_id: str
    connector_no: int
    plan: scheduler.Session
    delivered_kwh: float
    told: bool  # the owner told us their departure and energy


def _running(session: Session, transformer_area_id: int) -> list[Transaction]:
    return list(session.scalars(
        select(Transaction).join(Connector).join(ChargePoint).join(Station)
        .where(Station.transformer_area_id == transformer_area_id, Transaction.stopped_at.is_(None))
        .order_by(Transaction.id)))


def live_sessions(*, session: Session, transformer_area_id: int, now: datetime) -> list[LiveSession]:
    """The sessions charging now at the stations an area feeds."""
    lives = []
    for tx in _running(session, transformer_area_id):
        delivered = float(energy_so_far(session, tx))
        rated = float(tx.connector.rated_kw)
        told = tx.departure_at is not None and tx.kwh_requested is not None
        if told:
            wish = scheduler.Session(str(tx.id), tx.started_at, max(tx.departure_at, now + scheduler.STEP),
                                     float(tx.kwh_requested), rated, tx.allow_delay)
        else:
            wish = scheduler.Session(str(tx.id), tx.started_at, now + HORIZON,
                                     delivered + rated * HORIZON.total_seconds() / 3600, rated, False)
        lives.append(LiveSession(tx.id, tx.connector.charger.charge_point_id, tx.connector.connector_no, wish,
                                 delivered, told))
    return lives


def area_of_charger(*, session: Session, charge_point_id: str) -> int | None:
    """The transformer area feeding a charger's station."""
    return session.scalar(select(Station.transformer_area_id).join(ChargePoint)
                          .where(ChargePoint.charge_point_id == charge_point_id))


def areas_charging(*, session: Session) -> list[int]:
    """The transformer areas with a session running now."""
    return list(session.scalars(
        select(Station.transformer_area_id).join(ChargePoint).join(Connector).join(
            Transaction, Transaction.connector_id == Connector.id)
        .where(Transaction.stopped_at.is_(None), Station.transformer_area_id.is_not(None)).distinct()))


def set_wish(*, session: Session, transaction_id: int, departure_at: datetime, kwh_requested: Decimal,
             allow_delay: bool, now: datetime) -> TransactionRead:
    """The owner says when they leave, how much they want and whether it may charge later (cheaper)."""
    tx = session.get(Transaction, transaction_id)
    if tx is None:
        raise NotFound("transaction_not_found", "没有找到该充电记录")
    if tx.stopped_at is not None:
        raise Conflict("transaction_stopped", "这次充电已经结束")
    if not now < departure_at <= now + MAX_WISH_AHEAD:
        raise Invalid("departure_out_of_range", "离开时间需要在现在之后的48小时以内")
    tx.departure_at, tx.kwh_requested, tx.allow_delay = departure_at, kwh_requested, allow_delay
    session.commit()
    return get_transaction(session=session, transaction_id=transaction_id)
