"""Monthly bills and prepaid balances of customer accounts (amounts in fen)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class Bill(Base):
    """A monthly bill: energy and amount in fen."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("customer_id", "period", name="uq_bills_customer_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    period: Mapped[str] = mapped_column(String(7))  # "2026-10"
    kwh: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    amount_fen: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountBalance(Base):
    """Prepaid balance in fen (negative means arrears)."""

    __tablename__ = "account_balances"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance_fen: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
