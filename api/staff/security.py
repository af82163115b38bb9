"""Password hashing (argon2 via pwdlib) and signed, expiring session tokens (JWT, HS256)."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash

ALGORITHM = "HS256"


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id with pwdlib's current parameters


def hash_password(password: str) -> str:
    """An argon2id hash (salted; parameters inside the string)."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return _hasher().verify(password, password_hash)
    except Exception:  # a malformed stored hash is a failed sign-in, not a 500
        return False


def issue_token(*, user_id: int, username: str, role: str, secret: str, now: datetime, minutes: int) -> str:
    """A session token that expires after `minutes`."""
    payload = {"sub": str(user_id), "name": username, "role": role, "iat": int(now.timestamp()),
               "exp": int((now + timedelta(minutes=minutes)).timestamp())}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> dict | None:
    """The token's claims, or None when it is forged, malformed or expired."""
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "role"]})
    except jwt.PyJWTError:
        return None
