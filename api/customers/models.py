"""Customers (用电客户): who they are, where, on which tariff and transformer area."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base

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
