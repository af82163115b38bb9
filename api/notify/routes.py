"""HTTP of notifications: Twilio's delivery reports (signature checked) and the dead-letter list.

The inbound-SMS webhook acts on tickets and crews, so it is a flow (api/flows/routes.py); both
share `signed_form`.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from api.core.deps import NowDep, RowId, SessionDep, app_part, get_settings, require_roles
from api.core.errors import Forbidden, Unavailable
from api.notify import service
from api.notify.schemas import OutboxMessageRead

twilio_router = APIRouter(prefix="/api/notify/twilio", tags=["notifications"])
staff_router = APIRouter(prefix="/api/notify", tags=["notifications"],
                         dependencies=[Depends(require_roles("supervisor", allow_service=True))])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def signed_form(request: Request, sms=app_part("sms"), settings=Depends(get_settings)) -> dict[str, str]:
    """The webhook's form fields, after checking X-Twilio-Signature against our public URL."""
    if sms is None:
        raise Unavailable("sms_not_configured", "SMS is not configured")
    form = {key: str(value) for key, value in (await request.form()).items()}
    public = settings.public_base_url.rstrip("/")
    url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not sms.valid_signature(url, form, request.headers.get("X-Twilio-Signature")):
        raise Forbidden("bad_signature", "X-Twilio-Signature does not match")
    return form


@twilio_router.post("/status", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delivery_status(session: SessionDep, now: NowDep, form: dict = Depends(signed_form)) -> Response:
    """Twilio's delivery report for a message we sent."""
    sid, state = form.get("MessageSid"), form.get("MessageStatus")
    if sid and state:
        service.record_delivery_status(session=session, provider_sid=sid, status=state,
                                       error_code=form.get("ErrorCode"), now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@staff_router.get("/dead-letters", response_model=list[OutboxMessageRead])
def dead_letters(session: SessionDep) -> list[OutboxMessageRead]:
    """Messages that could not be delivered (supervisors fix and retry them)."""
    return service.list_dead(session=session)


@staff_router.post("/dead-letters/{message_id}/retry", response_model=OutboxMessageRead)
def retry(message_id: RowId, session: SessionDep, now: NowDep) -> OutboxMessageRead:
    """Send a dead letter again."""
    return service.retry(session=session, message_id=message_id, now=now)
