"""Ticket input and output shapes (validated at the edge)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.core.ids import ACCOUNT_NO_PATTERN, MOBILE_PATTERN, normalize_text

Channel = Literal["web", "wechat", "hotline", "sms"]


class TicketCustomer(BaseModel):
    """What a ticket needs to know of the account it was matched to (from the customers domain)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    account_no: str
    mobile: str
    address: str
    district: str
    town: str
    area_class: str
    lat: float
    lon: float
    transformer_area_id: int | None


class FaultReportCreate(BaseModel):
    """What the bot (or an agent) knows when a customer reports a fault or a hazard."""

    kind: Literal["outage", "hazard"]
    account_no: str | None = Field(default=None, pattern=ACCOUNT_NO_PATTERN)
    phone: str | None = Field(default=None, pattern=MOBILE_PATTERN)
    address_text: str = Field(default="", max_length=256)
    description: str = Field(min_length=1, max_length=1000)
    channel: Channel = "web"
    conversation_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128)

    @field_validator("account_no", "phone", "address_text", "description", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _locatable(self):
        if not (self.account_no or self.phone or self.address_text):
            raise ValueError("give an account number, a phone number or an address")
        return self


class TicketCreate(BaseModel):
    """A ticket that is not a fault report: 投诉, 业务办理 (新装/增容/过户/销户/改类/峰谷电 …), 咨询回访."""

    type: Literal["投诉", "业务办理", "咨询回访", "充电设施故障"]
    account_no: str | None = Field(default=None, pattern=ACCOUNT_NO_PATTERN)
    phone: str | None = Field(default=None, pattern=MOBILE_PATTERN,
                              description="how we reach the customer (needed except for 充电设施故障)")
    description: str = Field(min_length=1, max_length=1000)
    service_type: str | None = Field(default=None, max_length=16, description="业务办理: 新装, 增容, 过户 …")
    preferred_time: str | None = Field(default=None, max_length=64, description="业务办理: when to visit")
    subject: str | None = Field(default=None, max_length=64, description="投诉: what it is about")
    address_text: str = Field(default="", max_length=256)
    channel: Channel = "web"
    conversation_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128)

    @field_validator("account_no", "phone", "description", "service_type", "preferred_time", "subject",
                     "address_text", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs_its_details(self):
        if self.type == "业务办理" and not self.service_type:
            raise ValueError("业务办理 needs service_type")
        if not self.phone and self.type != "充电设施故障":  # a public charger is repaired without a call back
            raise ValueError(f"{self.type} needs phone")
        return self


class AuditTicketCreate(TicketCreate):
    """A 稽查任务 for 用电检查: from a published audit theme (channel "audit": the customer is not told) or
    from someone's report of theft or illegal wiring (the reporter's channel: the reporter is told)."""

    type: Literal["稽查任务"] = "稽查任务"  # type: ignore[assignment]
    channel: Literal["web", "wechat", "hotline", "sms", "audit"] = "audit"  # type: ignore[assignment]
    priority: int = Field(default=3, ge=1, le=4)
    audit: dict | None = None  # theme number, rules, source: kept in the ticket's details
    actor: str = Field(default="system:audit", max_length=64)


class ChargerReportCreate(BaseModel):
    """A customer's report of a broken public charger at a station (the bot passes it): located at the station
    itself, merged with the station's open charger ticket when there is one."""

    description: str = Field(min_length=1, max_length=1000)
    phone: str | None = Field(default=None, pattern=MOBILE_PATTERN)
    channel: Channel = "web"
    conversation_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128)

    @field_validator("description", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value


class DetectedTicketCreate(BaseModel):
    """A ticket the system opens itself from what the meters (or a charger) show: nobody has called yet."""

    type: Literal["故障报修", "安全隐患", "充电设施故障"]
    priority: int = Field(ge=1, le=4)
    diagnosis_code: str = Field(max_length=32)  # area_outage, feeder_outage, household_outage, low_voltage, …
    summary: str = Field(max_length=200)  # what was detected, plain Chinese
    crew_note: str = Field(max_length=200)
    address_text: str = Field(max_length=256)
    district: str | None = None
    area_class: str
    lat: float | None = None
    lon: float | None = None
    transformer_area_id: int | None = None
    customer: TicketCustomer | None = None  # a single household's loss of supply
    evidence: dict
    idempotency_key: str = Field(max_length=128)


class Diagnosis(BaseModel):
    code: str
    summary: str  # plain Chinese, for the customer
    crew_note: str  # what the crew should check first
    # For the crew, from the same reading of the metering snapshot (empty where there is none, e.g. a complaint;
    # not stored: the crew's view works them out again from the ticket's stored snapshot and code)
    likely_cause: str = ""  # 研判: what most likely failed, in the crew's words
    meter_facts: list[str] = []  # 计量数据: what the meter and its area recorded, with times and figures
    bring: list[str] = []  # 携带: tools, spares and safety gear to take (低压抢修)


class Sla(BaseModel):
    """The commitment: for faults arrival on site, for complaints contacting the customer, …"""

    area_class: str
    what: str = "到达现场"
    arrive_minutes: int
    arrive_by: datetime  # the due time (moved on when a paused ticket resumes)
    paused: bool = False
    warned: bool = False
    breached: bool = False


class CrewRef(BaseModel):
    """The crew on a ticket (the customer sees the name only)."""

    id: str
    name: str


class TicketEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class ParentTicketRead(BaseModel):
    """The area ticket a customer's report was attached to (关联): the crew and deadline are its."""

    number: str
    type: str
    status: str
    status_told: str  # the status as the customer is told it (api.core.vocabulary.TICKET_STATUS_TOLD)
    crew: CrewRef | None = None
    crew_eta: datetime | None = None
    arrive_by: datetime


class TicketRead(BaseModel):
    """A ticket as the API shows it (times in Asia/Shanghai)."""

    number: str
    type: str
    priority: int
    status: str
    status_told: str = ""  # the status as the customer is told it (api.core.vocabulary.TICKET_STATUS_TOLD)
    channel: str
    account_no: str | None
    contact_phone_masked: str | None
    description: str
    address_text: str
    address: dict
    address_needs_review: bool
    district: str | None
    transformer_area_id: int | None
    parent_number: str | None
    parent: ParentTicketRead | None = None  # the area ticket it is attached to, as it stands now
    attached_to_existing: bool = False
    diagnosis: Diagnosis
    sla: Sla
    metering_snapshot: dict | None
    created_at: datetime
    details: dict | None = None
    crew: CrewRef | None = None
    crew_eta: datetime | None = None
    satisfaction: int | None = None
    escalation_level: int = 0
    allowed_actions: list[str] = []
    events: list[TicketEventRead] = []


class OwnedTicketRead(TicketRead):
    """The ticket, for the customer it belongs to (the chat that reported it or its verified account)."""

    exists: Literal[True] = True
    owned: Literal[True] = True


class UnownedTicketRead(BaseModel):
    """Only that the number exists: its details are the reporting customer's."""

    number: str
    exists: Literal[True] = True
    owned: Literal[False] = False


class TicketList(BaseModel):
    items: list[TicketRead]
    total: int


class TransitionCreate(BaseModel):
    """A state-machine action on a ticket (接单, 到达现场, 挂起 …) with the reason where one is needed."""

    action: str = Field(min_length=1, max_length=16)
    note: str | None = Field(default=None, max_length=1000)
    actor: str = Field(default="service", min_length=1, max_length=64)


class CrewTicketRead(BaseModel):
    """What the crew's mobile page shows: the customer's number in full (only crews see it), where to drive
    (the premises' coordinates, for a navigation link) and when the crew arrived."""

    ticket: TicketRead
    contact_phone: str | None
    lat: float | None = None
    lon: float | None = None
    arrived_at: datetime | None = None
