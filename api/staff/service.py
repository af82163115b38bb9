"""Staff accounts: create, sign in (argon2 check, rate limited), read a session."""
from __future__ import annotations

import logging
import math
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.deps import ROLES
from api.core.errors import Conflict, TooMany
from api.core.ratelimit import RateLimiter, Rule
from api.staff.models import RevokedSession, StaffUser
from api.staff.schemas import StaffCreate
from api.staff.security import hash_password, verify_password

log = logging.getLogger(__name__)


class TooManyAttempts(TooMany):
    """Too many failed sign-ins for this account or address recently (429, with Retry-After)."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__("too_many_attempts", f"登录失败次数过多，请{minutes}分钟后再试",
                         headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


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
# An account's successful sign-ins per address, kept 30 to 60 days (the current 30-day window and the last).
KNOWN_ADDRESS = Rule("staff.login.known", 1, KNOWN_ADDRESS_DAYS * 86400, look_back=True)


def login_rules(*, max_failures: int, window: timedelta) -> tuple[Rule, Rule, Rule]:
    """Failed sign-ins allowed per window: (the account at this address, the account from anywhere, this
    address for any account)."""
    seconds = max(1, int(window.total_seconds()))
    return (Rule("staff.login.pair", max_failures, seconds),
            Rule("staff.login.account", max_failures * 4, seconds),
            Rule("staff.login.address", max_failures * 4, seconds))


def _known_address(*, limiter: RateLimiter, pair: str, now: datetime) -> bool:
    """The account signed in successfully from this address in this 30-day window or the last."""
    return any(limiter.peek(KNOWN_ADDRESS, pair, now=moment).count > 0
               for moment in (now, now - timedelta(seconds=KNOWN_ADDRESS.window_seconds)))


def authenticate(*, session: Session, limiter: RateLimiter, username: str, password: str, ip: str,
                 now: datetime, max_failures: int, window: timedelta) -> StaffUser | None:
    """The account when the password is right; None when not; TooManyAttempts when locked out.

    Failures are counted in the shared rate limiter (api.core.ratelimit: Redis when configured, else
    the database), so every API process sees them. The limits are checked before the password (so
    guessing gains nothing), per fixed window of `window`:
    - `max_failures` wrong passwords for this account from this address lock that pair;
    - four times as many for the account from anywhere, or from this address for any account,
      lock the account or the address — except for someone who signed in to this account from this
      address in the last 30 days (at least), so one address behind a shared proxy cannot lock its
      colleagues out, nor a guesser elsewhere lock out the account's owner.
    A successful sign-in clears its pair's failures. An unknown username costs the same password check
    and the same counting as a known one (its timing tells nothing).
    """
    pair_rule, account_rule, address_rule = login_rules(max_failures=max_failures, window=window)
    pair = f"{username}\n{ip}"
    decision = limiter.peek(pair_rule, pair, now=now)
    if not decision.allowed:
        raise TooManyAttempts(decision.retry_after)
    wide = [d for rule, subject in ((account_rule, username), (address_rule, ip))
            if not (d := limiter.peek(rule, subject, now=now)).allowed]
    if wide and not _known_address(limiter=limiter, pair=pair, now=now):
        raise TooManyAttempts(max(d.retry_after for d in wide))
    user = get_by_username(session=session, username=username)
    ok = verify_password(password, user.password_hash if user is not None else _decoy_hash()) and user is not None
    if not ok:
        for rule, subject in ((pair_rule, pair), (account_rule, username), (address_rule, ip)):
            if limiter.hit(rule, subject, now=now).count == rule.limit:  # once per window, when it locks
                log.warning("staff sign-in: %s locked for %s after %d failures", rule.name,
                            subject.replace("\n", " at "), rule.limit)
        return None
    limiter.reset(pair_rule, pair, now=now)
    limiter.hit(KNOWN_ADDRESS, pair, now=now)
    user.last_login_at = now
    session.commit()
    log.info("staff sign-in: %s from %s", username, ip)
    return user
