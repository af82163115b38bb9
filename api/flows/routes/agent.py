"""HTTP of what the agent console reads across domains: suggested replies that fit the conversation."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from api.conversations.rasa import RasaClient
from api.conversations.schemas import CONVERSATION_ID_PATTERN, SuggestionsRead
from api.conversations.suggestions import query_text
from api.core.deps import NowDep, SessionDep, SettingsDep, StaffRead, app_part, require_roles
from api.flows import suggestions

agent_flows_router = APIRouter(prefix="/api/agent", tags=["agent console"])
AgentCaller = Annotated[StaffRead, Depends(require_roles("agent", "supervisor"))]


@agent_flows_router.get("/suggestions", response_model=SuggestionsRead)
async def agent_suggestions(
    caller: AgentCaller, session: SessionDep, settings: SettingsDep, now: NowDep,
    bot: Annotated[RasaClient, app_part("bot")], kb: Annotated[Any, app_part("kb")],
    text: str = Query(..., min_length=1, max_length=1000),
    intent: str | None = Query(None, max_length=64),
    conversation_id: str | None = Query(None, min_length=1, max_length=64, pattern=CONVERSATION_ID_PATTERN),
    account_no: str | None = Query(None, pattern=r"^\d{10}$"),
) -> SuggestionsRead:
    """Suggested replies to a customer's words: the templates the conversation's state calls for (the agent's
    greeting after a handoff, the open ticket, the area's outage) with what the system knows filled in, the
    KB's answers and the intent's template. Without an intent (a caller's words typed on the hotline) the
    bot's NLU reads it; `account_no` is the hotline caller's account, `conversation_id` the chat's."""
    text = query_text(text)
    if intent is None:
        intent = await bot.parse(text=text)
    live_kb = kb.current if kb is not None else None  # None while no index is loaded
    return await run_in_threadpool(
        suggestions.for_agent, session=session, kb=live_kb, text=text, intent=intent, agent_name=caller.display_name,
        now=now, conversation_id=conversation_id, account_no=account_no,
        area_outage_share=settings.area_outage_share)
