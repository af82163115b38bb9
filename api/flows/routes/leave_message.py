"""HTTP of leaving a message for a call-back from the web chat (the conversation's secret, or a channel's token)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, status
from starlette.concurrency import run_in_threadpool

from api.conversations.desk import AgentDesk
from api.conversations.gateway import ChatGateway
from api.conversations.routes import Caller, ConversationId
from api.conversations.schemas import CallbackCreate, CallbackRead
from api.core.deps import SessionDep, app_part
from api.core.time import utcnow
from api.flows import leave_message as flow

leave_message_router = APIRouter(prefix="/api/chat", tags=["chat"])


@leave_message_router.post("/conversations/{conversation_id}/callback", response_model=CallbackRead,
                           status_code=status.HTTP_201_CREATED)
async def leave_message(conversation_id: ConversationId, body: CallbackCreate, caller: Caller, session: SessionDep,
                        gateway: Annotated[ChatGateway, app_part("gateway")],
                        desk: Annotated[AgentDesk, app_part("desk")],
                        parser: Annotated[Any, app_part("address_parser")]) -> CallbackRead:
    """A 咨询回访 ticket for a customer who would rather be called back than wait (one per conversation)."""
    await gateway.admit(sender_id=conversation_id, channel="web", secret=caller.secret, trusted=caller.trusted,
                        address=caller.address)
    return await run_in_threadpool(flow.leave_message, session=session, desk=desk, conversation_id=conversation_id,
                                   body=body, parser=parser(), now=utcnow())
