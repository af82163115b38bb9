"""HTTP of staff sign-in: login (rate limited), logout, who am I, and account administration."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from fastapi import APIRouter, Depends, Request, Response, status

from api.core.deps import (
    COOKIE,
    STAFF_ROLES,
    Credentials,
    NowDep,
    SessionDep,
    SettingsDep,
    app_part,
    require_roles,
    session_claims,
)
from api.core.errors import Unauthorized
from api.core.ratelimit import RateLimiter
from api.core.security import issue_token
from api.core.time import UTC
from api.staff import service
from api.staff.schemas import LoginCreate, LoginRead, StaffCreate, StaffRead

class SignOutHook(Protocol):
    def __call__(self, *, username: str, role: str) -> None: ...


router = APIRouter(prefix="/api/staff", tags=["staff"])


@router.post("/login", response_model=LoginRead)
def login(data: LoginCreate, request: Request, response: Response, session: SessionDep, settings: SettingsDep,
          now: NowDep, limiter: RateLimiter = app_part("limiter")) -> LoginRead:
    """Sign in; sets the session cookie. Too many failures → 429 with Retry-After (the shared rate limiter)."""
    user = service.authenticate(session=session, limiter=limiter, username=data.username, password=data.password,
                                ip=request.client.host if request.client else "-", now=now,
                                max_failures=settings.login_max_failures,
                                window=timedelta(minutes=settings.login_window_minutes))
    if user is None:
        raise Unauthorized("bad_credentials", "用户名或密码不正确")
    token = issue_token(user_id=user.id, username=user.username, role=user.role, secret=settings.staff_secret,
                        now=now, minutes=settings.staff_session_minutes)
    response.set_cookie(COOKIE, token, max_age=settings.staff_session_minutes * 60, httponly=True,
                        samesite="strict", secure=settings.public_base_url.startswith("https://"))
    return LoginRead(token=token, expires_at=now + timedelta(minutes=settings.staff_session_minutes),
                     user=StaffRead.from_row(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(request: Request, session: SessionDep, credentials: Credentials,
           on_sign_out: SignOutHook | None = app_part("on_sign_out")) -> Response:
    """End the session: its token is refused from now on (bearer or cookie alike), the cookie forgotten; what
    else signing out means (an agent's chats go back to the queue) the app's `on_sign_out` does."""
    claims = session_claims(request, credentials)
    if claims is not None:
        service.revoke_session(session=session, token_id=claims["jti"],
                               expires_at=datetime.fromtimestamp(claims["exp"], UTC))
        if on_sign_out is not None:
            on_sign_out(username=claims.get("name", ""), role=claims.get("role", ""))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE)
    return response


@router.get("/me", response_model=StaffRead)
def me(staff: StaffRead = Depends(require_roles(*STAFF_ROLES))) -> StaffRead:
    """The signed-in account."""
    return staff


@router.post("/users", response_model=StaffRead, status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(require_roles("admin"))])
def create_user(data: StaffCreate, session: SessionDep, now: NowDep) -> StaffRead:
    """An administrator adds an account."""
    return StaffRead.from_row(service.create(session=session, data=data, now=now))
