"""Sets of customers the billing and load-forecasting flows need (peers, segments, every account).

These are look-ups of the customers domain's table; they belong in api.customers.service and are
kept here, in the flow layer, only until that service has them (asked of its owner: move the three
functions there unchanged and import them from it).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.customers.models import Customer


def list_all(*, session: Session) -> list[Customer]:
    """Every customer, by 户号."""
    return list(session.scalars(select(Customer).order_by(Customer.account_no)))


def list_ids(*, session: Session, customer_class: str, transformer_area_id: int | None = None,
             district: str | None = None, tariff_codes: list[str] | None = None) -> list[int]:
    """Ids of the customers of a class, optionally in one transformer area or district or on some tariffs."""
    query = select(Customer.id).where(Customer.customer_class == customer_class)
    if transformer_area_id is not None:
        query = query.where(Customer.transformer_area_id == transformer_area_id)
    if district is not None:
        query = query.where(Customer.district == district)
    if tariff_codes is not None:
        query = query.where(Customer.tariff_code.in_(tariff_codes))
    return list(session.scalars(query.order_by(Customer.id)))


def get_many(*, session: Session, customer_ids: list[int]) -> dict[int, Customer]:
    """The customers with these ids, by id."""
    if not customer_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
