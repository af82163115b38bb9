"""Staff sign-in I/O."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.core.deps import ROLES, StaffRead

__all__ = ["LoginCreate", "LoginRead", "StaffCreate", "StaffRead"]


class LoginCreate(BaseModel):
    """Username and password from the sign-in page."""

    username: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=128)


class LoginRead(BaseModel):
    """A session: the token (also set as an HttpOnly cookie) and when it ends."""

    token: str
    expires_at: datetime
    user: StaffRead


class StaffCreate(BaseModel):
    """An administrator adds an account."""

    username: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=32)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    password: str = Field(min_length=10, max_length=128)
    crew_id: str | None = Field(default=None, max_length=16)
    team: str | None = Field(default=None, max_length=32)
