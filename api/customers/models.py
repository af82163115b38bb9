"""Customers (用电客户), their monthly bills and account balance."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime

CUSTOMER_CLASSES = ("居民", "一般工商业", "大工业")


class Customer(Base):
    """A utility customer identified by a 10-digit account number (户号)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    mobile: Mapped[str] = mapped_column(String(11), index=True)
    address: Mapped[str] = mapped_column(String(128))
    district: Mapped[str] = mapped_column(String(16), index=True)
    town: Mapped[str] = mapped_column(String(32))
    area_class: Mapped[str] = mapped_column(String(8))  # 城区 / 农村 / 边远
    lat: Mapped[float]
    lon: Mapped[float]
    customer_class: Mapped[str] = mapped_column(String(8))
    tariff_code: Mapped[str] = mapped_column(String(32))  # e.g. "NX-RES-TIER"
    contract_capacity_kva: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    transformer_area_id: Mapped[int] = mapped_column(
        ForeignKey("transformer_areas.id"), index=True
    )
    opened_on: Mapped[date] = mapped_column(Date)


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
