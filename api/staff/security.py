"""Password hashing (argon2 via pwdlib); session tokens are api.core.security's."""
from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash


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
