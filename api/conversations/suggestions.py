"""Suggested replies for agents: the knowledge base's best answers and a template for the intent.

The conversation's state (an open ticket, an outage, the agent's first words after a handoff) is
read by api.flows.suggestions, which passes the templates that fit it in as `situational`."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import yaml

from api.conversations.schemas import KbSuggestion, SuggestionsRead, TemplateSuggestion
from api.core.errors import Invalid
from api.core.ids import normalize_text

TEMPLATES = Path(__file__).resolve().parent / "reply_templates.yml"
KB_SUGGESTIONS = 3
# Small talk and asking for a person: a KB article is almost never the answer, so the KB is offered only
# when it is confident, and the templates come first.
SOCIAL_INTENTS = frozenset({"greet", "goodbye", "thank", "request_human", "affirm", "deny", "bot_challenge"})
BLANK = re.compile(r"【([^【】]{1,12})】")


@lru_cache
def reply_templates(path: Path = TEMPLATES) -> dict[str, str]:
    """Template key → reply template (read once per process): intents, and `situation.*` for states."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(key): str(text).strip() for key, text in data.items()}


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with every 【blank】 the system knows filled in; the others stay for the agent."""
    return BLANK.sub(lambda m: values.get(m.group(1)) or m.group(0), template)


def query_text(text: str) -> str:
    """The customer's words as searched; empty words are a clear error."""
    text = normalize_text(text)
    if not text:
        raise Invalid("empty_query", "请输入客户的问题")
    return text


def suggest(kb, *, text: str, intent: str | None, templates: dict[str, str],
            situational: Sequence[TemplateSuggestion] = (), values: Mapping[str, str] | None = None) -> SuggestionsRead:
    """What an agent could answer to the (normalised) `text`: the templates that fit the conversation's
    state (always first), up to three KB answers (best first) and the intent's template with what is known
    filled in (before the KB answers for small talk: `lead`).

    The KB answers are the article's words only: a region's disclaimer comes as `notice`, for the agent."""
    hits = []
    if kb is not None:
        result = kb.search(text, k=KB_SUGGESTIONS)
        for rank, hit in enumerate(result.hits, start=1):
            confident = rank == 1 and result.answerable
            if intent in SOCIAL_INTENTS and not confident:
                break
            hits.append(KbSuggestion(rank=rank, article_id=hit.article_id, title=hit.title, text=hit.answer,
                                     notice=hit.notice, confident=confident))
    offered = list(situational)
    if intent in templates and all(t.ref != intent for t in offered):
        offered.append(TemplateSuggestion(ref=intent, intent=intent, text=fill(templates[intent], values or {})))
    lead = "templates" if intent in SOCIAL_INTENTS else "kb"
    return SuggestionsRead(text=text, intent=intent, kb=hits, templates=offered, lead=lead,
                           kb_available=kb is not None)
