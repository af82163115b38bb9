"""HTTP of SMS to our number (Twilio's inbound webhook, signature checked): crew commands, survey scores."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.core.deps import NowDep, SessionDep
from api.core.errors import Invalid
from api.flows import crew_sms
from api.notify.routes import EMPTY_TWIML, signed_form
from api.notify.sms import national

sms_router = APIRouter(prefix="/api/notify/twilio", tags=["notifications"])


@sms_router.post("/inbound", response_class=Response)
def inbound_sms(session: SessionDep, now: NowDep, form: dict = Depends(signed_form)) -> Response:
    """An SMS to our number: a crew's command or a customer's score; answers go through the outbox."""
    if not form.get("MessageSid") or not form.get("From"):
        raise Invalid("validation_error", "MessageSid and From are required")
    crew_sms.handle_inbound_sms(session=session, message_sid=form["MessageSid"], sender=national(form["From"]),
                                body=form.get("Body", ""), now=now)
    return Response(content=EMPTY_TWIML, media_type="text/xml")
