"""Proactive-service output: the alert feed."""
from __future__ import annotations

from pydantic import BaseModel

from api.core.time import LocalDateTime


class AlertActionRead(BaseModel):
    """One thing done about an alert."""

    at: LocalDateTime
    actor: str
    action: str  # detected / ticket / dispatched / queued / held / notified / cleared / merged / reopened / restored / closed
    note: str | None = None


class AlertRead(BaseModel):
    """A detection from the meter data, the policy applied and what was done."""

    id: int
    kind: str
    kind_label: str
    subject: str
    status: str  # active / cleared / merged (a household alert inside an area outage)
    district: str | None
    started_at: LocalDateTime
    detected_at: LocalDateTime
    cleared_at: LocalDateTime | None
    summary: str
    evidence: dict
    policy: str
    ticket_number: str | None
    customers_notified: int
    actions: list[AlertActionRead]


class AlertFeedRead(BaseModel):
    """The supervisors' live feed."""

    as_of: LocalDateTime
    active: int
    alerts: list[AlertRead]
