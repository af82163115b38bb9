"""Outbox I/O: what supervisors see of queued and dead messages."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from api.core.ids import mask_personal
from api.core.ids import mask_phone
from api.core.time import LOCAL_TZ



class OutboxMessageRead(BaseModel):
    """A queued message; mobile and ID numbers masked (only the crew's own SMS carries them)."""

    id: int
    channel: str
    recipient: str
    audience: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    provider_status: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row) -> "OutboxMessageRead":
        recipient = mask_phone(row.recipient) if row.channel == "sms" else row.recipient
        return cls(id=row.id, channel=row.channel, recipient=recipient, audience=row.audience,
                   body=mask_personal(row.body),
                   status=row.status, attempts=row.attempts, last_error=row.last_error,
                   provider_status=row.provider_status, created_at=row.created_at.astimezone(LOCAL_TZ),
                   sent_at=row.sent_at.astimezone(LOCAL_TZ) if row.sent_at else None)
