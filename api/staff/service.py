"""Staff accounts: create, sign in (argon2 check, rate limited), read a session."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.staff.models import ROLES, LoginAttempt, StaffUser
from api.staff.schemas import StaffCreate
from api.staff.security import hash_password, verify_password


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this account or address recently."""


class UsernameTaken(ValueError):
    """An account with that username exists."""


def create(*, session: Session, data: StaffCreate, now: datetime) -> StaffUser:
    """Add an account (the password is stored only as an argon2 hash)."""
    if data.role not in ROLES:
        raise ValueError(f"unknown role {data.role}")
    if session.scalar(select(StaffUser).where(StaffUser.username == data.username)) is not None:
        raise UsernameTaken(data.username)
    user = StaffUser(username=data.username, display_name=data.display_name, role=data.role,
                     password_hash=hash_password(data.password), crew_id=data.crew_id, team=data.team,
                     active=True, created_at=now)
    session.add(user)
    session.commit()
    return user


def get_by_username(*, session: Session, username: str) -> StaffUser | None:
    """An active account by its username."""
    return session.scalar(select(StaffUser).where(StaffUser.username == username, StaffUser.active.is_(True)))


def authenticate(*, session: Session, username: str, password: str, ip: str, now: datetime,
                 max_failures: int, window: timedelta) -> StaffUser | None:
    """The account when the password is right; None when not; TooManyAttempts when locked out.

    The limit is checked before the password (so guessing gains nothing) and counts failures
    per account and, four times as many, per address, within the window.
    """
    since = now - window
    failures = lambda *where: session.scalar(  # noqa: E731
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False), LoginAttempt.at >= since,
                                                            *where))
    if failures(LoginAttempt.username == username) >= max_failures or \
            failures(LoginAttempt.ip == ip) >= max_failures * 4:
        raise TooManyAttempts(username)
    user = get_by_username(session=session, username=username)
    ok = user is not None and verify_password(password, user.password_hash)
    session.add(LoginAttempt(username=username[:32], ip=ip[:45], at=now, ok=ok))
    if ok:
        user.last_login_at = now
    session.commit()
    return user if ok else None
