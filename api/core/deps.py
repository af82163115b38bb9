"""Typed request dependencies: the session, settings, the request's clock and who is calling.

Routes declare what they need (`session: SessionDep`, `caller: Caller`); only this module looks
at `app.state`, where the app factory puts what the lifespan built.

Who is calling: the action server (the service token) or a signed-in staff member with a role.
Staff sessions are signed tokens (api.core.security) sent as `Authorization: Bearer …` or in the
HttpOnly `zhidian_staff` cookie the sign-in sets. 管理员 (admin) may do what any role may.
"""
from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.core.errors import Forbidden, Unauthorized
from api.core.security import read_token
from api.core.time import utcnow
from api.settings import Settings

COOKIE = "zhidian_staff"
SERVICE: Literal["service"] = "service"
ROLES = ("agent", "supervisor", "crew", "auditor", "admin")
ROLE_NAMES = {"agent": "坐席", "supervisor": "班长/主管", "crew": "抢修班组", "auditor": "稽查", "admin": "管理员"}
STAFF_ROLES = ("agent", "supervisor", "crew", "auditor")

_bearer = HTTPBearer(auto_error=False)


class StaffRead(BaseModel):
    """Who is signed in (never the password hash)."""

    username: str
    display_name: str
    role: str
    role_name: str
    crew_id: str | None = None
    team: str | None = None

    @classmethod
    def from_row(cls, row) -> "StaffRead":
        return cls(username=row.username, display_name=row.display_name, role=row.role,
                   role_name=ROLE_NAMES[row.role], crew_id=row.crew_id, team=row.team)


class StaffDirectory(Protocol):
    """What the staff domain answers about a session (the app factory sets api.staff.service)."""

    def get_by_username(self, *, session: Session, username: str) -> Any:
        """The active account, or None."""

    def is_revoked(self, *, session: Session, token_id: str) -> bool:
        """The session was signed out."""


def app_part(name: str) -> Any:
    """A dependency giving what the lifespan put on `app.state` under `name` (None when absent)."""
    def part(connection: HTTPConnection):  # HTTP requests and websockets alike
        return getattr(connection.app.state, name, None)
    return Depends(part)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed by the service that writes."""
    with request.app.state.sessionmaker() as session:
        yield session


def request_now(request: Request) -> datetime:
    """Now, from `app.state.clock` when set (tests, replayed demos), else the wall clock (UTC, aware)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()


# A row id in a URL: a 32-bit positive integer (a larger one is a clear 422, not a database error).
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(request_now)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _is_service(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = request.app.state.settings.service_token
    return credentials is not None and hmac.compare_digest(credentials.credentials, expected)


def require_service(request: Request, credentials: Credentials) -> str:
    """Allow only callers holding the service token (the action server, staff tools)."""
    if not _is_service(request, credentials):
        raise Unauthorized("unauthorized", "missing or invalid bearer token")
    request.state.actor = SERVICE  # for the access log
    return SERVICE


METERING: Literal["metering"] = "metering"


def require_metering(request: Request, credentials: Credentials) -> str:
    """Allow only the metering system (用电信息采集系统) with its own token: it writes meter data, nothing else."""
    expected = request.app.state.settings.metering_token
    if credentials is None or not hmac.compare_digest(credentials.credentials, expected):
        raise Unauthorized("unauthorized", "missing or invalid bearer token (the metering system's METERING_TOKEN)")
    request.state.actor = METERING  # for the access log
    return METERING


def current_staff(request: Request, credentials: HTTPAuthorizationCredentials | None) -> StaffRead | None:
    """The signed-in staff member of this request, or None (read once per request)."""
    if hasattr(request.state, "staff"):  # already read for this request (router + endpoint checks)
        return request.state.staff
    request.state.staff = read_staff(request, credentials)
    return request.state.staff


def session_claims(request: HTTPConnection, credentials: HTTPAuthorizationCredentials | None) -> dict | None:
    """The claims of the staff session token the request carries (bearer or cookie), if it is valid."""
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE)
    return read_token(token, secret=request.app.state.settings.staff_secret) if token else None


def read_staff(request: HTTPConnection, credentials: HTTPAuthorizationCredentials | None) -> StaffRead | None:
    claims = session_claims(request, credentials)
    if claims is None:
        return None
    directory: StaffDirectory = request.app.state.staff_directory
    with request.app.state.sessionmaker() as session:
        user = directory.get_by_username(session=session, username=claims.get("name", ""))
        if user is None or str(user.id) != claims["sub"] or user.role != claims["role"]:
            return None  # deactivated, or the role changed since sign-in
        if directory.is_revoked(session=session, token_id=claims["jti"]):
            return None  # signed out
        return StaffRead.from_row(user)


def require_roles(*roles: str, allow_service: bool = False) -> Callable[..., StaffRead | str]:
    """A dependency: a staff member with one of `roles` (or admin); optionally the service token too.

    Returns the StaffRead, or the string "service" for the action server.
    """
    def dependency(request: Request, credentials: Credentials) -> StaffRead | str:
        if allow_service and _is_service(request, credentials):
            request.state.actor = SERVICE  # for the access log
            return SERVICE
        staff = current_staff(request, credentials)
        if staff is None:
            raise Unauthorized("unauthorized", "请先登录")
        request.state.actor = actor_name(staff)
        if staff.role != "admin" and staff.role not in roles:
            raise Forbidden("forbidden", "您的账号没有权限进行此操作")
        return staff
    return dependency


def actor_name(caller: StaffRead | str) -> str:
    """How a caller appears on a ticket's timeline."""
    return SERVICE if caller == SERVICE else f"{caller.role}:{caller.username}"
