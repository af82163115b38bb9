"""Signed, expiring staff session tokens (JWT, HS256): issued at sign-in, read on every request."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"


def issue_token(*, user_id: int, username: str, role: str, secret: str, now: datetime, minutes: int) -> str:
    """A session token that expires after `minutes`; its id (jti) lets a sign-out revoke it."""
    payload = {"sub": str(user_id), "name": username, "role": role, "iat": int(now.timestamp()),
               "exp": int((now + timedelta(minutes=minutes)).timestamp()), "jti": str(uuid.uuid4())}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> dict | None:
    """The token's claims, or None when it is forged, malformed or expired."""
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "role", "jti"]})
    except jwt.PyJWTError:
        return None


def sign(value: str, *, secret: str) -> str:
    """A short HMAC-SHA256 signature of `value` (16 hex characters: short enough for a link in an SMS)."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


def signature_ok(value: str, signature: str, *, secret: str) -> bool:
    """Whether `signature` is `value`'s (constant-time)."""
    return hmac.compare_digest(sign(value, secret=secret), signature or "")
