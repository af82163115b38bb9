"""HTTP of the metering intake (the metering system's credential) and the proactive-service feed (staff).

A batch is stored row by row (api.metering.intake) and the areas it touched are looked at at once
(api.flows.proactive): an area outage becomes a ticket and a notice within the same request.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field

from api.conversations import service as conversations
from api.core.deps import NowDep, SessionDep, SettingsDep, require_metering, require_roles
from api.core.errors import Invalid, Unauthorized
from api.flows import proactive
from api.metering import intake
from api.metering.schemas import IntakeErrorRead, IntakeRead
from api.monitoring import service as monitoring
from api.monitoring.schemas import AlertFeedRead

log = logging.getLogger(__name__)
intake_router = APIRouter(prefix="/api/metering", tags=["metering intake"], dependencies=[Depends(require_metering)])
notice_router = APIRouter(prefix="/api/chat", tags=["chat"])
monitoring_router = APIRouter(prefix="/api/monitoring", tags=["proactive service"],
                              dependencies=[Depends(require_roles("supervisor", "agent"))])


async def raw_body(request: Request) -> tuple[bytes, str]:
    """The body as sent, and its content type (JSON or CSV)."""
    return await request.body(), request.headers.get("content-type", "application/json").lower()


def _body_doc(key: str, fields: tuple[str, ...]) -> dict:
    row = {"type": "object", "properties": {f: {"type": ["string", "number", "null"]} for f in fields},
           "required": ["meter_no", "ts"]}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {key: {"type": "array", "items": row,
                                                                                "maxItems": intake.MAX_BATCH_ROWS}},
                                        "required": [key]}},
        "text/csv": {"schema": {"type": "string", "description": f"header line: {','.join(fields)}"}}}}}


def _ingest(kind: str, body: tuple[bytes, str], session, settings, now) -> IntakeRead:
    try:
        rows = intake.rows_from_body(body[0], body[1], kind)
    except intake.BatchError as exc:
        raise Invalid(exc.code, str(exc)) from exc
    result = intake.store(session=session, kind=kind, raws=rows, now=now)
    session.commit()
    raised, deferred = 0, False
    try:
        raised = proactive.run_for_meters(session=session, settings=settings, now=now,
                                          meter_ids=sorted({k[0] for k in result.stored_keys}))
    except Exception:  # the rows are stored: the every-minute pass looks at them again
        log.exception("proactive detection on arrival failed; left to the periodic pass")
        session.rollback()
        deferred = True
    return IntakeRead(stored=result.stored, duplicates=result.duplicates, rejected=result.rejected,
                      errors=[IntakeErrorRead(**e.as_dict()) for e in result.errors], alerts_raised=raised,
                      detection_deferred=deferred)


@intake_router.post("/readings", response_model=IntakeRead, openapi_extra=_body_doc("readings", intake.READING_FIELDS))
def post_readings(session: SessionDep, settings: SettingsDep, now: NowDep,
                  body: tuple[bytes, str] = Depends(raw_body)) -> IntakeRead:
    """Hourly or 15/30-minute readings (JSON {"readings": [...]} or CSV): good rows kept, bad rows listed,
    repeats ignored; a meter's hour is recomputed from its sub-hourly readings as they arrive."""
    return _ingest("readings", body, session, settings, now)


@intake_router.post("/events", response_model=IntakeRead, openapi_extra=_body_doc("events", intake.EVENT_FIELDS))
def post_events(session: SessionDep, settings: SettingsDep, now: NowDep,
                body: tuple[bytes, str] = Depends(raw_body)) -> IntakeRead:
    """Meter events (停电, 上电, 失压, 断相, 开盖, 反向电量) as JSON or CSV; outages are acted on at once."""
    return _ingest("events", body, session, settings, now)


@monitoring_router.get("/alerts", response_model=AlertFeedRead)
def get_alerts(session: SessionDep, now: NowDep, hours: int = Query(24, ge=1, le=24 * 31),
               status: str | None = Query(None, pattern="^(active|cleared)$"),
               kind: str | None = Query(None, max_length=24),
               limit: int = Query(100, ge=1, le=500)) -> AlertFeedRead:
    """What the meters showed and what was done, newest first: every active alert and the others of the last
    `hours`; the active ones (of `kind`) are counted on top."""
    alerts = monitoring.list(session=session, since=now - timedelta(hours=hours), status=status, kind=kind,
                             limit=limit)
    return AlertFeedRead(as_of=now, active=monitoring.count_active(session=session, kind=kind),
                         alerts=[monitoring.to_read(a) for a in alerts])


class NoticeOpen(BaseModel):
    """The chat page opened from an outage notice's link (?n=…)."""

    conversation_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=5, max_length=64, pattern=r"^\d+\.\d+\.[0-9a-f]{16}$")


class NoticeGreeting(BaseModel):
    text: str


@notice_router.post("/notice", response_model=NoticeGreeting)
def open_notice(body: NoticeOpen, session: SessionDep, settings: SettingsDep, now: NowDep,
                secret: Annotated[str | None, Header(alias="X-Chat-Secret", max_length=128)] = None) -> NoticeGreeting:
    """The known outage the link names, as the chat's first words (the chat's own secret required)."""
    if not conversations.key_matches(session=session, conversation_id=body.conversation_id, secret=secret):
        raise Unauthorized("bad_chat_secret", "会话凭据无效，请刷新页面重试")
    return NoticeGreeting(text=proactive.greeting(session=session, settings=settings, token=body.token,
                                                  conversation_id=body.conversation_id, now=now))
