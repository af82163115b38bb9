"""Customers (用电客户): who they are, where, on which tariff and transformer area."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime

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
    # The contract's power-factor standard (力率考核标准, 0.90 / 0.85 / 0.80); none for households.
    power_factor_standard: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    transformer_area_id: Mapped[int] = mapped_column(
        ForeignKey("transformer_areas.id"), index=True
    )
    opened_on: Mapped[date] = mapped_column(Date)


class VerificationAttempt(Base):
    """A try at the last four digits of an account's mobile: limited per conversation, per account and per address."""

    __tablename__ = "verification_attempts"
    __table_args__ = (Index("ix_verification_attempts_account_at", "account_no", "at"),
                      Index("ix_verification_attempts_conversation_at", "conversation_id", "at"),
                      Index("ix_verification_attempts_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(10))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))  # the web chat's client address, when known
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)


class AccountBinding(Base):
    """A 户号 a chat user (a WeChat user, ``wx-<openid>``) proved theirs: kept, so later conversations are
    served for it without asking again; several per user, one the default (the one served now)."""

    __tablename__ = "account_bindings"
    __table_args__ = (UniqueConstraint("chat_user", "account_no", name="uq_account_bindings_user_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user: Mapped[str] = mapped_column(String(64), index=True)
    account_no: Mapped[str] = mapped_column(String(10))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
