"""Planned-outage output shapes; times shown in Asia/Shanghai (+08:00)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from api.core.time import LocalDateTime


class PlannedOutageRead(BaseModel):
    """A published 计划停电 notice, in progress or upcoming."""

    notice_no: str
    district: str
    feeder_code: str | None
    feeder_name: str | None
    transformer_area_code: str | None
    transformer_area_name: str | None
    scope: str
    reason: str
    start_at: LocalDateTime
    end_at: LocalDateTime
    status: Literal["in_progress", "upcoming"]
    status_text: str  # 正在停电 / 即将停电
