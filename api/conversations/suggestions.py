"""Suggested replies for agents: the knowledge base's best answers and a template for the intent."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from starlette.concurrency import run_in_threadpool

from api.conversations.rasa import RasaClient
from api.conversations.schemas import KbSuggestion, SuggestionsRead, TemplateSuggestion
from api.core.errors import Invalid
from api.core.ids import normalize_text

TEMPLATES = Path(__file__).resolve().parent / "reply_templates.yml"
KB_SUGGESTIONS = 3


@lru_cache
def reply_templates(path: Path = TEMPLATES) -> dict[str, str]:
    """Intent → reply template (read once per process)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(intent): str(text).strip() for intent, text in data.items()}


async def for_text(*, text: str, intent: str | None, bot: RasaClient, kb) -> SuggestionsRead:
    """Suggestions for a customer's words; without an intent (a caller's question typed on the
    hotline) the bot's NLU reads it. `kb` is the live KnowledgeBase or None while no index is loaded."""
    text = normalize_text(text)
    if not text:
        raise Invalid("empty_query", "请输入客户的问题")
    if intent is None:
        intent = await bot.parse(text=text)
    return await run_in_threadpool(suggest, kb, text=text, intent=intent, templates=reply_templates())


def suggest(kb, *, text: str, intent: str | None, templates: dict[str, str]) -> SuggestionsRead:
    """What an agent could answer to the (normalised) `text`: up to three KB answers, best first,
    and the intent's template."""
    hits = []
    if kb is not None:
        result = kb.search(text, k=KB_SUGGESTIONS)
        for rank, hit in enumerate(result.hits, start=1):
            answer = hit.answer + (f"\n{hit.notice}" if hit.notice else "")
            hits.append(KbSuggestion(rank=rank, article_id=hit.article_id, title=hit.title, text=answer,
                                     confident=rank == 1 and result.answerable))
    template = TemplateSuggestion(intent=intent, text=templates[intent]) if intent in templates else None
    return SuggestionsRead(text=text, intent=intent, kb=hits, template=template, kb_available=kb is not None)
