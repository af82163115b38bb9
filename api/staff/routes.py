"""HTTP of staff sign-in: login (rate limited), logout, who am I, and account administration."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from api.auth import COOKIE, require_roles
from api.clock import request_now
from api.db import get_session
from api.staff import service
from api.staff.schemas import LoginCreate, LoginRead, StaffCreate, StaffRead
from api.staff.security import issue_token

router = APIRouter(prefix="/api/staff", tags=["staff"])


@router.post("/login", response_model=LoginRead)
def login(data: LoginCreate, request: Request, response: Response,
          session: Session = Depends(get_session)) -> LoginRead:
    """Sign in; sets the session cookie. Too many failures → 429 for a while."""
    settings = request.app.state.settings
    now = request_now(request)
    try:
        user = service.authenticate(session=session, username=data.username, password=data.password,
                                    ip=request.client.host if request.client else "-", now=now,
                                    max_failures=settings.login_max_failures,
                                    window=timedelta(minutes=settings.login_window_minutes))
    except service.TooManyAttempts:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(settings.login_window_minutes * 60)},
                            detail={"code": "too_many_attempts",
                                    "message": f"登录失败次数过多，请{settings.login_window_minutes}分钟后再试"})
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            detail={"code": "bad_credentials", "message": "用户名或密码不正确"})
    token = issue_token(user_id=user.id, username=user.username, role=user.role, secret=settings.staff_secret,
                        now=now, minutes=settings.staff_session_minutes)
    response.set_cookie(COOKIE, token, max_age=settings.staff_session_minutes * 60, httponly=True,
                        samesite="strict", secure=settings.public_base_url.startswith("https://"))
    return LoginRead(token=token, expires_at=now + timedelta(minutes=settings.staff_session_minutes),
                     user=StaffRead.from_row(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout() -> Response:
    """Forget the session cookie."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE)
    return response


@router.get("/me", response_model=StaffRead)
def me(staff: StaffRead = Depends(require_roles("agent", "supervisor", "crew", "auditor"))) -> StaffRead:
    """The signed-in account."""
    return staff


@router.post("/users", response_model=StaffRead, status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(require_roles("admin"))])
def create_user(data: StaffCreate, request: Request, session: Session = Depends(get_session)) -> StaffRead:
    """An administrator adds an account."""
    try:
        return StaffRead.from_row(service.create(session=session, data=data, now=request_now(request)))
    except service.UsernameTaken:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail={"code": "username_taken", "message": f"用户名 {data.username} 已存在"})
