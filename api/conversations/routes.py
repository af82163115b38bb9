"""HTTP for the chat gateway and conversation transcripts."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from api.auth import require_service
from api.conversations import service
from api.conversations.gateway import InvalidMessage
from api.conversations.schemas import ChatMessageCreate, ChatReply, ConversationRead
from api.db import get_session

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]

chat_router = APIRouter(prefix="/api/chat", tags=["chat"])
staff_router = APIRouter(prefix="/api/conversations", tags=["conversations"],
                         dependencies=[Depends(require_service)])


@chat_router.post("/messages", response_model=ChatReply)
async def post_message(message: ChatMessageCreate, request: Request) -> ChatReply:
    """A customer message in; the bot's (or the gateway's own) replies out."""
    try:
        return await request.app.state.gateway.handle(
            sender_id=message.sender_id, text=message.text, channel=message.channel,
            client_msg_id=message.client_msg_id)
    except InvalidMessage as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "invalid_message", "message": exc.message})


@chat_router.get("/{sender_id}/history", response_model=ConversationRead)
def history(sender_id: ConversationId, session: Session = Depends(get_session)) -> ConversationRead:
    """The customer's own transcript for the chat page (the id is the secret); empty if new."""
    return service.get_or_empty(session=session, conversation_id=sender_id)


@staff_router.get("/{conversation_id}", response_model=ConversationRead)
def get_conversation(conversation_id: ConversationId,
                     session: Session = Depends(get_session)) -> ConversationRead:
    """A whole transcript with owner and handoff state."""
    try:
        return service.get(session=session, conversation_id=conversation_id)
    except service.ConversationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail={"code": "conversation_not_found", "message": "没有找到这段对话"})
