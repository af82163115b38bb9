"""Staff accounts: create, sign in (argon2 check, rate limited), read a session."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.deps import ROLES
from api.core.errors import Conflict, TooMany
from api.staff.models import LoginAttempt, RevokedSession, StaffUser
from api.staff.schemas import StaffCreate
from api.staff.security import hash_password, verify_password


class TooManyAttempts(TooMany):
    """Too many failed sign-ins for this account or address recently (429, with Retry-After)."""

    def __init__(self, window: timedelta) -> None:
        minutes = int(window.total_seconds() // 60)
        super().__init__("too_many_attempts", f"登录失败次数过多，请{minutes}分钟后再试",
                         headers={"Retry-After": str(int(window.total_seconds()))})


class UsernameTaken(Conflict):
    """An account with that username exists."""

    def __init__(self, username: str) -> None:
        super().__init__("username_taken", f"用户名 {username} 已存在")


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


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def _known_address(*, session: Session, username: str, ip: str, now: datetime) -> bool:
    """The account signed in successfully from this address recently."""
    return session.scalar(select(LoginAttempt.id).where(
        LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.ok.is_(True),
        LoginAttempt.at >= now - timedelta(days=KNOWN_ADDRESS_DAYS)).limit(1)) is not None


def revoke_session(*, session: Session, token_id: str, expires_at: datetime) -> None:
    """Sign a session out before it expires (idempotent)."""
    if session.get(RevokedSession, token_id) is None:
        session.add(RevokedSession(token_id=token_id, expires_at=expires_at))
    session.commit()


def is_revoked(*, session: Session, token_id: str) -> bool:
    """True when this session was signed out."""
    return session.get(RevokedSession, token_id) is not None


def get_by_username(*, session: Session, username: str) -> StaffUser | None:
    """An active account by its username."""
    return session.scalar(select(StaffUser).where(StaffUser.username == username, StaffUser.active.is_(True)))


def list_active(*, session: Session, role: str) -> list[StaffUser]:
    """Active accounts with this role, by username (the agent desk's roster for role "agent")."""
    return list(session.scalars(select(StaffUser).where(StaffUser.role == role, StaffUser.active.is_(True))
                                .order_by(StaffUser.username)))


KNOWN_ADDRESS_DAYS = 30


def authenticate(*, session: Session, username: str, password: str, ip: str, now: datetime,
                 max_failures: int, window: timedelta) -> StaffUser | None:
    """The account when the password is right; None when not; TooManyAttempts when locked out.

    The limits are checked before the password (so guessing gains nothing), within the window:
    - `max_failures` wrong passwords for this account from this address lock that pair;
    - four times as many for the account from anywhere, or from this address for any account,
      lock the account or the address — except for someone who signed in to this account from this
      address in the last 30 days, so one address behind a shared proxy cannot lock its colleagues
      out, nor a guesser elsewhere lock out the account's owner.
    An unknown username costs the same password check as a known one (its timing tells nothing).
    """
    since = now - window
    failures = lambda *where: session.scalar(  # noqa: E731
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False), LoginAttempt.at >= since,
                                                            *where))
    if failures(LoginAttempt.username == username, LoginAttempt.ip == ip) >= max_failures:
        raise TooManyAttempts(window)
    if (failures(LoginAttempt.username == username) >= max_failures * 4
            or failures(LoginAttempt.ip == ip) >= max_failures * 4) and not _known_address(
                session=session, username=username, ip=ip, now=now):
        raise TooManyAttempts(window)
    user = get_by_username(session=session, username=username)
    ok = verify_password(password, user.password_hash if user is not None else _decoy_hash()) and user is not None
    session.add(LoginAttempt(username=username[:32], ip=ip[:45], at=now, ok=ok))
    if ok:
        user.last_login_at = now
    session.commit()
    return user if ok else None
