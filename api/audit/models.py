"""Audit findings, themes (稽查主题), tasks (稽查任务, each a ticket) with their on-site results, and labels."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class AuditFinding(Base):
    """A rule hit (or a high theft score, or a customer's report) on one customer: where an inspector may look."""

    __tablename__ = "audit_findings"
    __table_args__ = (
        UniqueConstraint("customer_id", "rule", "start", name="uq_audit_findings_customer_rule_start"),
        Index("ix_audit_findings_status_rule", "status", "rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # Where the customer was when found, so themes select by place and class without another domain.
    account_no: Mapped[str] = mapped_column(String(10), index=True)
    district: Mapped[str] = mapped_column(String(16))
    area_code: Mapped[str] = mapped_column(String(32))
    customer_class: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(32))  # api.audit.rules.RULES, "theft_score" or "customer_report"
    severity: Mapped[str] = mapped_column(String(8))  # high / medium / low
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[dict] = mapped_column(JSON)  # key figures and chart-ready series
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8))  # api.audit.service.FINDING_STATUSES
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("audit_themes.id"), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditTheme(Base):
    """An audit theme: its scope is applied for, approved by a supervisor, published, then worked as tasks."""

    __tablename__ = "audit_themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # JC20261205-01
    title: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    # Scope: which rules, where (districts, area codes), which customer classes, over which period.
    rules: Mapped[list] = mapped_column(JSON)
    districts: Mapped[list] = mapped_column(JSON)
    area_codes: Mapped[list] = mapped_column(JSON)
    customer_classes: Mapped[list] = mapped_column(JSON)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), index=True)  # api.audit.service.THEME_STATUSES
    applicant: Mapped[str] = mapped_column(String(32))
    approver: Mapped[str | None] = mapped_column(String(32))
    return_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluation: Mapped[dict | None] = mapped_column(JSON)  # the closing evaluation of the theme's work


class AuditTask(Base):
    """One 稽查任务: the ticket a 用电检查 crew works, and what they found on site."""

    __tablename__ = "audit_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    ticket_number: Mapped[str] = mapped_column(String(20), unique=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("audit_themes.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    account_no: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(16))  # theme / customer_report / staff
    finding_ids: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), index=True)  # api.audit.service.TASK_STATUSES
    outcome: Mapped[str | None] = mapped_column(String(8))  # api.audit.service.OUTCOMES
    recovered_kwh: Mapped[Decimal | None] = mapped_column(Numeric(12, 1))
    recovered_fee_fen: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    result_by: Mapped[str | None] = mapped_column(String(32))
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectify_by: Mapped[date | None] = mapped_column(Date)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(32))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditPhoto(Base):
    """A photo from the site, kept in the database so every API replica can serve it."""

    __tablename__ = "audit_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("audit_tasks.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One change a person or job made to a theme, task or finding: who, when, what."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("audit_themes.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("audit_tasks.id"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("audit_findings.id"), index=True)
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(512), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLabel(Base):
    """A confirmed result kept as a label: 1 (theft or violation found) or 0 (false positive) per customer and rule."""

    __tablename__ = "audit_labels"
    __table_args__ = (UniqueConstraint("task_id", "rule", name="uq_audit_labels_task_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    label: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))
    task_id: Mapped[int] = mapped_column(ForeignKey("audit_tasks.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
