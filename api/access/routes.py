"""HTTP of the access log: supervisors find who viewed or changed a customer's data or a ticket."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from api.access import service
from api.access.schemas import AccessLogRead
from api.core.deps import SessionDep, require_roles

router = APIRouter(prefix="/api/access-log", tags=["access log"],
                   dependencies=[Depends(require_roles("supervisor"))])


@router.get("", response_model=AccessLogRead)
def access_log(
    session: SessionDep,
    subject: str | None = Query(default=None, max_length=32, description="户号, ticket number or conversation id"),
    actor: str | None = Query(default=None, max_length=64, description='e.g. "agent:agent01" or "service"'),
    since: datetime | None = Query(default=None), until: datetime | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500), offset: int = Query(default=0, ge=0, le=1_000_000),
) -> AccessLogRead:
    """Accesses newest first."""
    return service.list(session=session, subject=subject, actor=actor, since=since, until=until,
                        limit=limit, offset=offset)
