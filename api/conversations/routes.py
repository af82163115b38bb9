"""HTTP for the chat gateway, conversation transcripts and the agent console."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from api.conversations import handoff, service
from api.conversations.desk import AgentDesk
from api.conversations.gateway import ChatGateway
from api.conversations.schemas import (
    CONVERSATION_ID_PATTERN,
    AgentConversationRead,
    AgentMeRead,
    AgentMessageCreate,
    AgentOverviewRead,
    AgentStatusUpdate,
    AgentTurn,
    ChatIssued,
    ChatMessageCreate,
    ChatReply,
    ConversationRead,
    ConversationSummary,
    TeamRead,
    TeamUpdate,
    TicketDraft,
    TransferCreate,
)
from api.core.deps import (
    Credentials,
    RowId,
    SessionDep,
    SettingsDep,
    StaffRead,
    actor_name,
    app_part,
    read_staff,
    require_roles,
    require_service,
)
from api.core.errors import Unauthorized
from api.core.time import utcnow

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=CONVERSATION_ID_PATTERN)]
Gateway = Annotated[ChatGateway, app_part("gateway")]
Desk = Annotated[AgentDesk, app_part("desk")]
AgentCaller = Annotated[StaffRead, Depends(require_roles("agent", "supervisor"))]
Supervisor = Annotated[StaffRead, Depends(require_roles("supervisor"))]

chat_router = APIRouter(prefix="/api/chat", tags=["chat"])
staff_router = APIRouter(prefix="/api/conversations", tags=["conversations"],
                         dependencies=[Depends(require_roles("agent", "supervisor", allow_service=True))])
agent_router = APIRouter(prefix="/api/agent", tags=["agent console"])


@dataclass(frozen=True)
class ChatCaller:
    """Who writes to or reads a chat: a channel adapter (service token), or a customer with the secret."""

    trusted: bool
    secret: str | None
    address: str | None


def chat_caller(request: Request, credentials: Credentials,
                secret: Annotated[str | None, Header(alias="X-Chat-Secret", max_length=128)] = None) -> ChatCaller:
    """The caller of a chat route (the secret comes in a header, never in the URL, so logs do not keep it)."""
    try:
        trusted = require_service(request, credentials) is not None
    except Unauthorized:
        trusted = False
    return ChatCaller(trusted=trusted, secret=secret, address=request.client.host if request.client else None)


Caller = Annotated[ChatCaller, Depends(chat_caller)]


@chat_router.post("/conversations", response_model=ChatIssued, status_code=status.HTTP_201_CREATED)
async def new_conversation(caller: Caller, gateway: Gateway) -> ChatIssued:
    """A new web conversation: its id and the secret the page sends with every request (kept in localStorage)."""
    return await gateway.issue(address=caller.address or "unknown")


@chat_router.post("/messages", response_model=ChatReply)
async def post_message(message: ChatMessageCreate, caller: Caller, gateway: Gateway) -> ChatReply:
    """A customer message in; the bot's (or the gateway's own) replies out.

    Web chats send their secret (X-Chat-Secret); channel adapters the service token. 429 with a
    Chinese message past the rate limits; handled_by "holding" when hold_after_ms ran out first.
    """
    await gateway.admit(sender_id=message.sender_id, channel=message.channel, secret=caller.secret,
                        trusted=caller.trusted, address=caller.address, client_msg_id=message.client_msg_id)
    hold = message.hold_after_ms / 1000 if message.hold_after_ms else None
    return await gateway.handle(sender_id=message.sender_id, text=message.text, channel=message.channel,
                                client_msg_id=message.client_msg_id, hold_seconds=hold)


@chat_router.get("/{sender_id}/history", response_model=ConversationRead)
def history(sender_id: ConversationId, caller: Caller, gateway: Gateway, session: SessionDep) -> ConversationRead:
    """The customer's own transcript for the chat page (needs the conversation's secret); empty if new."""
    if not caller.trusted:
        gateway.check_secret(conversation_id=sender_id, secret=caller.secret)
    return service.get_or_empty(session=session, conversation_id=sender_id)


@staff_router.get("/{conversation_id}", response_model=ConversationRead)
def get_conversation(conversation_id: ConversationId, session: SessionDep) -> ConversationRead:
    """A whole transcript with owner and handoff state."""
    return service.get(session=session, conversation_id=conversation_id)


@staff_router.get("/{conversation_id}/images/{image_id}", response_class=Response,
                  responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def get_customer_image(conversation_id: ConversationId, image_id: RowId, session: SessionDep) -> Response:
    """A picture the customer sent (kept from WeChat), for the transcript in the console."""
    image = service.customer_image(session=session, conversation_id=conversation_id, image_id=image_id)
    return Response(content=image.data, media_type=image.content_type,
                    headers={"Cache-Control": "private, max-age=86400"})


# ---- the agent console ----

@agent_router.get("/me", response_model=AgentMeRead)
def agent_me(caller: AgentCaller, session: SessionDep, settings: SettingsDep) -> AgentMeRead:
    """The signed-in agent's status, load and limit."""
    return handoff.me(session=session, agent=caller, default_limit=settings.agent_max_chats)


@agent_router.put("/me/status", response_model=AgentMeRead)
def agent_status(body: AgentStatusUpdate, caller: AgentCaller, desk: Desk, session: SessionDep,
                 settings: SettingsDep) -> AgentMeRead:
    """在线 / 小休 / 离线; going online takes waiting customers at once (auto-assignment)."""
    desk.set_status(username=caller.username, status=body.status)
    return handoff.me(session=session, agent=caller, default_limit=settings.agent_max_chats)


@agent_router.get("/queue", response_model=list[ConversationSummary])
def agent_queue(caller: AgentCaller, session: SessionDep) -> list[ConversationSummary]:
    """Customers waiting for a person, oldest first, with why."""
    now = utcnow()
    return [handoff.summary(session=session, conversation=c, now=now) for c in handoff.queue(session=session)]


@agent_router.get("/conversations", response_model=list[ConversationSummary])
def agent_conversations(caller: AgentCaller, session: SessionDep,
                        scope: Literal["mine", "bot"] = "mine") -> list[ConversationSummary]:
    """The agent's own chats, or the ones the bot is having now (to take one over)."""
    now = utcnow()
    rows = (handoff.held_by(session=session, username=caller.username) if scope == "mine"
            else handoff.live_with_bot(session=session, now=now))
    return [handoff.summary(session=session, conversation=c, now=now) for c in rows]


@agent_router.get("/conversations/{conversation_id}", response_model=AgentConversationRead)
def agent_conversation(conversation_id: ConversationId, caller: AgentCaller,
                       session: SessionDep) -> AgentConversationRead:
    """The whole transcript with intents and the handoff timeline."""
    return handoff.for_agent(session=session, conversation_id=conversation_id)


@agent_router.post("/conversations/{conversation_id}/join", response_model=AgentConversationRead)
def agent_join(conversation_id: ConversationId, caller: AgentCaller, desk: Desk,
               session: SessionDep) -> AgentConversationRead:
    """Take the conversation over: the bot stops answering, the customer is told who joined."""
    desk.join(conversation_id=conversation_id, agent=caller)
    return handoff.for_agent(session=session, conversation_id=conversation_id)


@agent_router.post("/conversations/{conversation_id}/release", response_model=AgentConversationRead)
def agent_release(conversation_id: ConversationId, caller: AgentCaller, desk: Desk,
                  session: SessionDep) -> AgentConversationRead:
    """Hand the conversation back to the bot (a supervisor may do it for any agent)."""
    desk.release(conversation_id=conversation_id, username=caller.username, actor=actor_name(caller),
                 force=caller.role in ("supervisor", "admin"))
    return handoff.for_agent(session=session, conversation_id=conversation_id)


@agent_router.post("/conversations/{conversation_id}/messages", response_model=AgentTurn,
                   status_code=status.HTTP_201_CREATED)
def agent_message(conversation_id: ConversationId, body: AgentMessageCreate, caller: AgentCaller,
                  desk: Desk) -> AgentTurn:
    """The agent's reply, sent to the customer's channel (once per client_msg_id)."""
    return desk.send(conversation_id=conversation_id, username=caller.username, text=body.text,
                     client_msg_id=body.client_msg_id, suggestion=body.suggestion)


@agent_router.get("/conversations/{conversation_id}/ticket-draft", response_model=TicketDraft)
def agent_ticket_draft(conversation_id: ConversationId, caller: AgentCaller,
                       session: SessionDep) -> TicketDraft:
    """A ticket form prefilled from the conversation."""
    return service.ticket_draft(session=session, conversation_id=conversation_id)


@agent_router.get("/agents", response_model=list[AgentOverviewRead])
def agent_overview(caller: Supervisor, desk: Desk) -> list[AgentOverviewRead]:
    """Every agent: status, console present, chats held and the longest a customer of theirs has waited."""
    return desk.agents()


@agent_router.post("/conversations/{conversation_id}/transfer", response_model=AgentConversationRead)
def agent_transfer(conversation_id: ConversationId, body: TransferCreate, caller: Supervisor, desk: Desk,
                   session: SessionDep) -> AgentConversationRead:
    """A supervisor moves a chat (held, or waiting) to an agent; the customer is told who serves them now."""
    desk.transfer(conversation_id=conversation_id, to=body.to, actor=actor_name(caller), reason=body.reason)
    return handoff.for_agent(session=session, conversation_id=conversation_id)


@agent_router.get("/teams", response_model=list[TeamRead])
def agent_teams(caller: AgentCaller, desk: Desk) -> list[TeamRead]:
    """Agent teams and whether their conversations are assigned automatically."""
    return desk.teams()


@agent_router.put("/teams/{team}", response_model=TeamRead)
def agent_team_update(team: str, body: TeamUpdate, caller: Supervisor, desk: Desk) -> TeamRead:
    """A supervisor turns a team's auto-assignment on or off."""
    return desk.set_team_auto_assign(team=team, enabled=body.auto_assign, actor=actor_name(caller))


@agent_router.websocket("/live")
async def agent_live(websocket: WebSocket, desk: AgentDesk = app_part("desk")) -> None:
    """The console's live feed: console events out; {"type": "ping"} in keeps the agent present."""
    staff = read_staff(websocket, None)
    if staff is None or staff.role not in ("agent", "supervisor", "admin"):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    queue = desk.bus.subscribe()
    await run_in_threadpool(desk.heartbeat, username=staff.username)

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            await run_in_threadpool(desk.heartbeat, username=staff.username)
            await websocket.send_text(json.dumps({"type": "pong"}))

    reader = asyncio.create_task(receive())
    try:
        while not reader.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                event = getter.result()
                if event.get("topic") == "console":
                    await websocket.send_text(json.dumps(event, ensure_ascii=False, default=str))
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        reader.cancel()
        desk.bus.unsubscribe(queue)
