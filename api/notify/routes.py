"""HTTP of notifications: Twilio's webhooks (signature checked) and the dead-letter list."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from api.auth import require_roles
from api.clock import request_now
from api.db import get_session
from api.notify import service
from api.notify.schemas import OutboxMessageRead
from api.tickets import flows

twilio_router = APIRouter(prefix="/api/notify/twilio", tags=["notifications"])
staff_router = APIRouter(prefix="/api/notify", tags=["notifications"],
                            dependencies=[Depends(require_roles("supervisor", allow_service=True))])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, after checking X-Twilio-Signature against our public URL."""
    sms = getattr(request.app.state, "sms", None)
    if sms is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail={"code": "sms_not_configured", "message": "SMS is not configured"})
    form = {key: str(value) for key, value in (await request.form()).items()}
    public = request.app.state.settings.public_base_url.rstrip("/")
    url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not sms.valid_signature(url, form, request.headers.get("X-Twilio-Signature")):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail={"code": "bad_signature", "message": "X-Twilio-Signature does not match"})
    return form


@twilio_router.post("/inbound", response_class=Response)
def inbound(request: Request, form: dict = Depends(signed_form), session: Session = Depends(get_session)) -> Response:
    """An SMS to our number: a crew's command or a customer's score; answers go through the outbox."""
    if not form.get("MessageSid") or not form.get("From"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY,
                            detail={"code": "validation_error", "message": "MessageSid and From are required"})
    flows.handle_inbound_sms(session=session, message_sid=form["MessageSid"], sender=_national(form["From"]),
                             body=form.get("Body", ""), now=request_now(request))
    return Response(content=EMPTY_TWIML, media_type="text/xml")


@twilio_router.post("/status", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delivery_status(request: Request, form: dict = Depends(signed_form),
                    session: Session = Depends(get_session)) -> Response:
    """Twilio's delivery report for a message we sent."""
    sid, state = form.get("MessageSid"), form.get("MessageStatus")
    if sid and state:
        service.record_delivery_status(session=session, provider_sid=sid, status=state,
                                       error_code=form.get("ErrorCode"), now=request_now(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@staff_router.get("/dead-letters", response_model=list[OutboxMessageRead])
def dead_letters(session: Session = Depends(get_session)) -> list[OutboxMessageRead]:
    """Messages that could not be delivered (supervisors fix and retry them)."""
    return service.list_dead(session=session)


@staff_router.post("/dead-letters/{message_id}/retry", response_model=OutboxMessageRead)
def retry(message_id: int, request: Request, session: Session = Depends(get_session)) -> OutboxMessageRead:
    """Send a dead letter again."""
    message = service.retry(session=session, message_id=message_id, now=request_now(request))
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "not_dead_letter", "message": "no dead letter with that id"})
    return message


def _national(number: str) -> str:
    """+8613900000001 → 13900000001 (how numbers are stored)."""
    digits = number.strip()
    return digits[3:] if digits.startswith("+86") else digits
