"""HTTP for the chat gateway and conversation transcripts."""
from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import actor_name, read_staff, require_roles
from api.conversations import handoff, service, suggestions
from api.conversations.gateway import InvalidMessage
from api.conversations.schemas import (
    AgentConversationRead,
    AgentMeRead,
    AgentMessageCreate,
    AgentStatusUpdate,
    AgentTurn,
    ChatMessageCreate,
    ChatReply,
    ConversationRead,
    ConversationSummary,
    SuggestionsRead,
    TeamRead,
    TeamUpdate,
    TicketDraft,
)
from api.db import get_session, utcnow
from api.staff.schemas import StaffRead
from api.text import normalize_text

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]

chat_router = APIRouter(prefix="/api/chat", tags=["chat"])
staff_router = APIRouter(prefix="/api/conversations", tags=["conversations"],
                         dependencies=[Depends(require_roles("agent", "supervisor", allow_service=True))])


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


# ---- the agent console ----

AGENTS = require_roles("agent", "supervisor")
agent_router = APIRouter(prefix="/api/agent", tags=["agent console"])


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND,
                         detail={"code": "conversation_not_found", "message": "没有找到这段对话"})


@agent_router.get("/me", response_model=AgentMeRead)
def agent_me(request: Request, caller: StaffRead = Depends(AGENTS),
             session: Session = Depends(get_session)) -> AgentMeRead:
    """The signed-in agent's status, load and limit."""
    from api.staff import service as staff_service

    user = staff_service.get_by_username(session=session, username=caller.username)
    limit = user.max_chats or request.app.state.settings.agent_max_chats
    return AgentMeRead(username=user.username, display_name=user.display_name, team=user.team,
                       status=user.agent_status, status_label=handoff.STATUSES.get(user.agent_status, user.agent_status),
                       open_chats=handoff.open_chats(session=session, username=user.username), max_chats=limit,
                       auto_assign=handoff.auto_assign_on(session=session, team=user.team))


@agent_router.put("/me/status", response_model=AgentMeRead)
async def agent_status(body: AgentStatusUpdate, request: Request,
                       caller: StaffRead = Depends(AGENTS)) -> AgentMeRead:
    """在线 / 小休 / 离线; going online takes waiting customers at once (auto-assignment)."""
    await run_in_threadpool(request.app.state.desk.set_status, username=caller.username, status=body.status)
    with request.app.state.sessionmaker() as session:
        return agent_me(request=request, caller=caller, session=session)


@agent_router.get("/queue", response_model=list[ConversationSummary])
def agent_queue(caller: StaffRead = Depends(AGENTS), session: Session = Depends(get_session)) -> list[ConversationSummary]:
    """Customers waiting for a person, oldest first, with why."""
    now = utcnow()
    return [service.summary(session=session, conversation=c, now=now) for c in handoff.queue(session=session)]


@agent_router.get("/conversations", response_model=list[ConversationSummary])
def agent_conversations(scope: Literal["mine", "bot"] = "mine", caller: StaffRead = Depends(AGENTS),
                        session: Session = Depends(get_session)) -> list[ConversationSummary]:
    """The agent's own chats, or the ones the bot is having now (to take one over)."""
    now = utcnow()
    rows = (handoff.held_by(session=session, username=caller.username) if scope == "mine"
            else handoff.live_with_bot(session=session, now=now))
    return [service.summary(session=session, conversation=c, now=now) for c in rows]


@agent_router.get("/conversations/{conversation_id}", response_model=AgentConversationRead)
def agent_conversation(conversation_id: ConversationId, caller: StaffRead = Depends(AGENTS),
                       session: Session = Depends(get_session)) -> AgentConversationRead:
    """The whole transcript with intents and the handoff timeline."""
    try:
        return service.for_agent(session=session, conversation_id=conversation_id)
    except service.ConversationNotFound:
        raise _not_found() from None


@agent_router.post("/conversations/{conversation_id}/join", response_model=AgentConversationRead)
async def agent_join(conversation_id: ConversationId, request: Request,
                     caller: StaffRead = Depends(AGENTS)) -> AgentConversationRead:
    """Take the conversation over: the bot stops answering, the customer is told who joined."""
    try:
        await run_in_threadpool(request.app.state.desk.join, conversation_id=conversation_id,
                                username=caller.username)
    except LookupError:
        raise _not_found() from None
    except handoff.AlreadyTaken as exc:
        mine = exc.owner == handoff.agent_owner(caller.username)
        if not mine:
            raise HTTPException(status.HTTP_409_CONFLICT, detail={
                "code": "already_taken", "message": "该会话已由其他坐席接入", "owner": exc.owner}) from None
    with request.app.state.sessionmaker() as session:
        return service.for_agent(session=session, conversation_id=conversation_id)


@agent_router.post("/conversations/{conversation_id}/release", response_model=AgentConversationRead)
async def agent_release(conversation_id: ConversationId, request: Request,
                        caller: StaffRead = Depends(AGENTS)) -> AgentConversationRead:
    """Hand the conversation back to the bot (a supervisor may do it for any agent)."""
    try:
        await run_in_threadpool(request.app.state.desk.release, conversation_id=conversation_id,
                                username=caller.username, actor=actor_name(caller),
                                force=caller.role in ("supervisor", "admin"))
    except handoff.NotOwner:
        raise HTTPException(status.HTTP_409_CONFLICT, detail={
            "code": "not_owner", "message": "您当前没有接入这段会话"}) from None
    with request.app.state.sessionmaker() as session:
        return service.for_agent(session=session, conversation_id=conversation_id)


@agent_router.post("/conversations/{conversation_id}/messages", response_model=AgentTurn,
                   status_code=status.HTTP_201_CREATED)
async def agent_message(conversation_id: ConversationId, body: AgentMessageCreate, request: Request,
                        caller: StaffRead = Depends(AGENTS)) -> AgentTurn:
    """The agent's reply, sent to the customer's channel (once per client_msg_id)."""
    # line by line: a knowledge-base answer with steps or a notice keeps its lines
    text = "\n".join(line for line in (normalize_text(part) for part in body.text.splitlines()) if line)
    if not text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "empty_message", "message": "请输入回复内容"})
    try:
        turn = await run_in_threadpool(
            request.app.state.desk.send, conversation_id=conversation_id, username=caller.username, text=text,
            client_msg_id=body.client_msg_id,
            suggestion=body.suggestion.model_dump() if body.suggestion else None)
    except handoff.NotOwner:
        raise HTTPException(status.HTTP_409_CONFLICT, detail={
            "code": "not_owner", "message": "请先接入该会话再回复客户"}) from None
    return AgentTurn(**turn)


@agent_router.get("/conversations/{conversation_id}/ticket-draft", response_model=TicketDraft)
def agent_ticket_draft(conversation_id: ConversationId, caller: StaffRead = Depends(AGENTS),
                       session: Session = Depends(get_session)) -> TicketDraft:
    """A ticket form prefilled from the conversation."""
    try:
        return service.ticket_draft(session=session, conversation_id=conversation_id)
    except service.ConversationNotFound:
        raise _not_found() from None


@agent_router.get("/suggestions", response_model=SuggestionsRead)
async def agent_suggestions(request: Request, text: str = Query(..., min_length=1, max_length=1000),
                            intent: str | None = Query(None, max_length=64),
                            caller: StaffRead = Depends(AGENTS)) -> SuggestionsRead:
    """Suggested replies to a customer's words: KB answers and the template for the intent.

    Without an intent (a caller's question typed on the hotline) the bot's NLU reads it.
    """
    if not normalize_text(text):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail={"code": "empty_query", "message": "请输入客户的问题"})
    if intent is None:
        understood = await request.app.state.bot.parse(text=text)
        intent = understood[0] if understood else None
    holder = getattr(request.app.state, "kb", None)
    kb = holder.current if holder is not None else None
    return await run_in_threadpool(suggestions.suggest, kb, text=text, intent=intent,
                                   templates=suggestions.reply_templates())


@agent_router.get("/teams", response_model=list[TeamRead])
def agent_teams(caller: StaffRead = Depends(AGENTS), session: Session = Depends(get_session)) -> list[TeamRead]:
    """Agent teams and whether their conversations are assigned automatically."""
    return [TeamRead(team=team, auto_assign=on) for team, on in handoff.list_teams(session=session)]


@agent_router.put("/teams/{team}", response_model=TeamRead)
async def agent_team_update(team: str, body: TeamUpdate, request: Request,
                            caller: StaffRead = Depends(require_roles("supervisor"))) -> TeamRead:
    """A supervisor turns a team's auto-assignment on or off."""
    with request.app.state.sessionmaker() as session:
        if team not in dict(handoff.list_teams(session=session)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "team_not_found", "message": "没有这个班组"})
        row = handoff.set_team_auto_assign(session=session, team=team, enabled=body.auto_assign,
                                           actor=actor_name(caller), now=utcnow())
        result = TeamRead(team=row.team, auto_assign=row.auto_assign)
    request.app.state.bus.publish_soon({"topic": "console", "type": "agents"})
    if body.auto_assign:
        await request.app.state.desk.assign_waiting_async()
    return result


@agent_router.websocket("/live")
async def agent_live(websocket: WebSocket) -> None:
    """The console's live feed: console events out; {"type": "ping"} in keeps the agent present."""
    staff = read_staff(websocket, None)
    if staff is None or staff.role not in ("agent", "supervisor", "admin"):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    bus, desk = websocket.app.state.bus, websocket.app.state.desk
    queue = bus.subscribe()
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
        bus.unsubscribe(queue)
