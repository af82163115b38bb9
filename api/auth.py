"""Who is calling: the action server (service token) now, staff accounts in a later issue."""
from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


def require_service(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """Allow only callers holding the service token (the action server, staff tools)."""
    expected = request.app.state.settings.service_token
    if credentials is None or not hmac.compare_digest(credentials.credentials, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthorized", "message": "missing or invalid bearer token"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "service"
