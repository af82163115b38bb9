"""Who is calling: the action server (service token) or a signed-in staff member with a role.

Staff sessions are signed tokens (api/staff/security.py) sent as `Authorization: Bearer …` or in
the HttpOnly `zhidian_staff` cookie the sign-in sets. 管理员 (admin) may do what any role may.
"""
from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.staff.schemas import StaffRead

_bearer = HTTPBearer(auto_error=False)
COOKIE = "zhidian_staff"


def _unauthorized(message: str = "missing or invalid bearer token") -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED,
                         detail={"code": "unauthorized", "message": message},
                         headers={"WWW-Authenticate": "Bearer"})


def _is_service(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = request.app.state.settings.service_token
    return credentials is not None and hmac.compare_digest(credentials.credentials, expected)


def require_service(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """Allow only callers holding the service token (the action server, staff tools)."""
    if not _is_service(request, credentials):
        raise _unauthorized()
    return "service"


def current_staff(request: Request, credentials: HTTPAuthorizationCredentials | None) -> StaffRead | None:
    """The signed-in staff member of this request, or None (read once per request)."""
    if hasattr(request.state, "staff"):  # already read for this request (router + endpoint checks)
        return request.state.staff
    request.state.staff = read_staff(request, credentials)
    return request.state.staff


def read_staff(request: Request, credentials: HTTPAuthorizationCredentials | None) -> StaffRead | None:
    from api.staff import service
    from api.staff.security import read_token

    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE)
    if not token:
        return None
    claims = read_token(token, secret=request.app.state.settings.staff_secret)
    if claims is None:
        return None
    with request.app.state.sessionmaker() as session:
        user = service.get_by_username(session=session, username=claims.get("name", ""))
        if user is None or str(user.id) != claims["sub"] or user.role != claims["role"]:
            return None  # deactivated, or the role changed since sign-in
        return StaffRead.from_row(user)


def require_roles(*roles: str, allow_service: bool = False):
    """A dependency: a staff member with one of `roles` (or admin); optionally the service token too.

    Returns the StaffRead, or the string "service" for the action server.
    """
    def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)):
        if allow_service and _is_service(request, credentials):
            return "service"
        staff = current_staff(request, credentials)
        if staff is None:
            raise _unauthorized("请先登录")
        if staff.role != "admin" and staff.role not in roles:
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                                detail={"code": "forbidden", "message": "您的账号没有权限进行此操作"})
        return staff
    return dependency


def actor_name(caller) -> str:
    """How a caller appears on a ticket's timeline."""
    return "service" if caller == "service" else f"{caller.role}:{caller.username}"
