"""Customer input and output shapes: the customer, identification and verification."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator, model_validator

from api.core.ids import normalize_account_no, normalize_mobile, normalize_text


def _account_no(value: str | None) -> str | None:
    return None if value is None or not str(value).strip() else normalize_account_no(value)


def _phone(value: str | None) -> str | None:
    return None if value is None or not str(value).strip() else normalize_mobile(value)


class CustomerRead(BaseModel):
    """A customer as staff and the action server see it (full name and mobile)."""

    account_no: str
    name: str
    mobile: str
    address: str
    district: str
    town: str
    area_class: str
    lat: float
    lon: float
    customer_class: str
    tariff_code: str
    contract_capacity_kva: float
    transformer_area_code: str | None
    opened_on: date


class IdentifyRequest(BaseModel):
    """Find accounts by 户号 and/or mobile; at least one is needed."""

    account_no: str | None = None
    phone: str | None = None

    @field_validator("account_no", mode="before")
    @classmethod
    def _norm_account(cls, value: str | None) -> str | None:
        return _account_no(value)

    @field_validator("phone", mode="before")
    @classmethod
    def _norm_phone(cls, value: str | None) -> str | None:
        return _phone(value)

    @model_validator(mode="after")
    def _one_of(self) -> IdentifyRequest:
        if not self.account_no and not self.phone:
            raise ValueError("account_no or phone is required")
        return self


class IdentifiedCustomer(BaseModel):
    """An account found by identification, masked for reading back to the caller."""

    account_no: str
    masked_name: str
    masked_address: str
    district: str
    area_class: str


class IdentifyRead(BaseModel):
    found: bool
    customers: list[IdentifiedCustomer]


class VerifyRequest(BaseModel):
    """Identity check: the last four digits of the registered mobile."""

    account_no: str
    phone_last4: str
    conversation_id: str | None = Field(default=None, max_length=64)  # the chat: agents then see this customer

    @field_validator("account_no", mode="before")
    @classmethod
    def _norm_account(cls, value: str) -> str:
        normalized = _account_no(value)
        if normalized is None:
            raise ValueError("account_no is required")
        return normalized

    @field_validator("phone_last4", mode="before")
    @classmethod
    def _last4(cls, value: str) -> str:
        digits = normalize_text(str(value)).replace(" ", "")
        if len(digits) != 4 or not digits.isdigit():
            raise ValueError("phone_last4 must be 4 digits")
        return digits


class VerifyRead(BaseModel):
    verified: bool


class BoundAccount(BaseModel):
    account_no: str
    is_default: bool


class BindingsRead(BaseModel):
    """The accounts a chat user (a WeChat user) has bound; the default is the one served."""

    conversation_id: str
    accounts: list[BoundAccount]
    default: str | None
