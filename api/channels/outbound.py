"""Lines to customers not on a socket, by their channel: the gateway's and the desk's one Outbound."""
from __future__ import annotations

from sqlalchemy.orm import Session

from api.conversations.desk import Outbound
from api.conversations.schemas import BotMessage


class ChannelReplies:
    """Hands lines (a late bot reply, an agent's reply) to the push of their channel (SMS, WeChat)."""

    def __init__(self, pushes: dict[str, Outbound]):
        self._pushes = pushes

    def __call__(self, *, session: Session, conversation_id: str, channel: str, messages: list[BotMessage],
                 key: str) -> None:
        push = self._pushes.get(channel)
        if push is not None:
            push(session=session, conversation_id=conversation_id, channel=channel, messages=messages, key=key)
