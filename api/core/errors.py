"""One error family for every domain: a code for programs, an HTTP status, a Chinese message for people.

Services raise a `DomainError` subclass; the app's single handler turns it into
`{"detail": {"code", "message", ...}}` with its status, so routes never translate exceptions.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class DomainError(Exception):
    """A rule said no. `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, code: str | None = None, message: str = "", *, status: int | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code or type(self).code
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}  # e.g. Retry-After
        self.extra = extra  # more structured fields for the response (e.g. errors per row)

    def detail(self) -> dict[str, Any]:
        """The response body's `detail`."""
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(DomainError, LookupError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but clashes with the current state (a ticket's status, a taken name)."""

    status = 409
    code = "conflict"


class Invalid(DomainError, ValueError):
    """The request's content breaks a rule pydantic cannot check (a date range, a format in a path)."""

    status = 422
    code = "invalid"


class Forbidden(DomainError, PermissionError):
    """The caller is known but may not do this."""

    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    """The caller is not known: no or a bad token/session."""

    status = 401
    code = "unauthorized"


class TooMany(DomainError):
    """Too many attempts in the window; try again later."""

    status = 429
    code = "too_many_requests"


class Unavailable(DomainError):
    """A part the request needs is down (the model not trained yet, a provider)."""

    status = 503
    code = "unavailable"


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached (down, restarting, the network cut): try again shortly."""

    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__(message="系统暂时无法访问数据，请稍后再试；遇到停电、电线断落等紧急情况，"
                                 "请直接拨打95598供电服务热线。", headers={"Retry-After": "5"})


def install_error_handler(app: FastAPI) -> None:
    """Answer every DomainError with its status and structured detail."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer", **exc.headers} if exc.status == 401 else exc.headers
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail()}, headers=headers or None)
