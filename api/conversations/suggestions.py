"""Suggested replies for agents: the knowledge base's best answers and a template for the intent."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from api.conversations.schemas import KbSuggestion, SuggestionsRead, TemplateSuggestion
from api.text import normalize_text

TEMPLATES = Path(__file__).resolve().parent / "reply_templates.yml"
KB_SUGGESTIONS = 3


@lru_cache
def reply_templates(path: Path = TEMPLATES) -> dict[str, str]:
    """Intent → reply template (read once per process)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(intent): str(text).strip() for intent, text in data.items()}


def suggest(kb, *, text: str, intent: str | None, templates: dict[str, str]) -> SuggestionsRead:
    """What an agent could answer to `text`: up to three KB answers (best first) and the intent's template.

    `kb` is the live KnowledgeBase or None while no index is loaded (then only the template).
    """
    text = normalize_text(text)
    hits = []
    if kb is not None and text:
        result = kb.search(text, k=KB_SUGGESTIONS)
        for rank, hit in enumerate(result.hits, start=1):
            answer = hit.answer + (f"\n{hit.notice}" if hit.notice else "")
            hits.append(KbSuggestion(rank=rank, article_id=hit.article_id, title=hit.title, text=answer,
                                     confident=rank == 1 and result.answerable))
    template = TemplateSuggestion(intent=intent, text=templates[intent]) if intent in templates else None
    return SuggestionsRead(text=text, intent=intent, kb=hits, template=template, kb_available=kb is not None)
