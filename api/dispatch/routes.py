"""HTTP of dispatch: the crews and their load (staff pages use it; staff sign-in is a later issue)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.auth import require_service
from api.clock import request_now
from api.db import get_session
from api.dispatch import service
from api.dispatch.schemas import CrewRead

router = APIRouter(prefix="/api/dispatch", tags=["dispatch"], dependencies=[Depends(require_service)])


@router.get("/crews", response_model=list[CrewRead])
def list_crews(request: Request, session: Session = Depends(get_session)) -> list[CrewRead]:
    """Active crews: skills, coverage, on shift now, open tickets."""
    return service.list_crews(session=session, now=request_now(request))
