"""Access-log rules: which requests concern a customer or a ticket, recording them, finding them."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access.models import AccessRecord
from api.access.schemas import AccessLogRead, AccessRecordRead
from api.core.ids import ACCOUNT_NO, MOBILE, TICKET_NO, mask_phone

# Paths that read or change one customer's data or one ticket: (pattern, what its match names).
SUBJECT_PATHS = (
    (re.compile(r"^/api/customers/(\d{10})(?:/|$)"), "customer"),
    (re.compile(r"^/api/forecasting/customers/(\d{10})(?:/|$)"), "customer"),
    (re.compile(r"^/charts/profile/(\d{10})\.svg$"), "customer"),
    (re.compile(r"^/api/tickets/(GD\d{8}-\d{4})(?:/|$)", re.IGNORECASE), "ticket"),
    (re.compile(r"^/api/agent/conversations/([\w.-]{1,64})(?:/|$)"), "conversation"),
    (re.compile(r"^/api/conversations/([\w.-]{1,64})(?:/|$)"), "conversation"),
)
# Query parameters that name a customer (a list filtered by 户号 or mobile, an outage look-up).
SUBJECT_PARAMS = ("account_no", "phone", "q")


def subject_of(path: str, query: dict[str, str]) -> tuple[str, str] | None:
    """(kind, subject) a request is about, or None when it names no customer or ticket."""
    for pattern, kind in SUBJECT_PATHS:
        match = pattern.match(path)
        if match:
            return kind, match.group(1).upper() if kind == "ticket" else match.group(1)
    for name in SUBJECT_PARAMS:
        value = (query.get(name) or "").strip()
        if ACCOUNT_NO.match(value):
            return "customer", value
        if MOBILE.match(value):
            return "phone", mask_phone(value)  # the log itself never holds a full mobile
        if TICKET_NO.fullmatch(value):
            return "ticket", value.upper()
    return None


def record(*, session: Session, at: datetime, actor: str, method: str, path: str, subject_kind: str,
           subject: str, status: int) -> None:
    """Keep one access."""
    session.add(AccessRecord(at=at, actor=actor[:64], method=method[:8], path=path[:256],
                             subject_kind=subject_kind, subject=subject[:32], status=status))
    session.commit()


def list(*, session: Session, subject: str | None = None, actor: str | None = None,
         since: datetime | None = None, until: datetime | None = None, limit: int = 100,
         offset: int = 0) -> AccessLogRead:
    """Accesses newest first: to one customer/ticket, by one actor, in a time range."""
    query = select(AccessRecord)
    if subject:
        query = query.where(AccessRecord.subject == (subject.upper() if TICKET_NO.fullmatch(subject) else subject))
    if actor:
        query = query.where(AccessRecord.actor == actor)
    if since:
        query = query.where(AccessRecord.at >= since)
    if until:
        query = query.where(AccessRecord.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(AccessRecord.id.desc()).limit(limit).offset(offset)).all()
    return AccessLogRead(items=[AccessRecordRead.model_validate(r) for r in rows], total=total)
