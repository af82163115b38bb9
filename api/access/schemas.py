"""What supervisors see of the access log."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from api.core.time import LocalDateTime


class AccessRecordRead(BaseModel):
    """One read or change of a customer's data or a ticket."""

    model_config = ConfigDict(from_attributes=True)

    at: LocalDateTime
    actor: str
    method: str
    path: str
    subject_kind: str
    subject: str
    status: int


class AccessLogRead(BaseModel):
    items: list[AccessRecordRead]
    total: int
