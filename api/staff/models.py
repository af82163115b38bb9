"""Staff accounts (坐席, 班长/主管, 抢修班组, 稽查, 管理员) and signed-out sessions (failed sign-ins are counted
in the shared rate limiter, api.core.ratelimit)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class StaffUser(Base):
    """A person who signs in to the staff pages; a crew account belongs to its crew."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(255))
    crew_id: Mapped[str | None] = mapped_column(ForeignKey("crews.id"))
    team: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedSession(Base):
    """A session token signed out before it expired (its id is refused until then)."""

    __tablename__ = "staff_revoked_sessions"

    token_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
