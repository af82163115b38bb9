"""HTTP of the knowledge base: search and articles are public knowledge; feedback needs the service token."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.core.deps import SessionDep, app_part, require_service
from api.kb import service
from api.kb.schemas import KbArticleRead, KbFeedbackCreate, KbFeedbackRead, KbSearchRead, KbStatusRead
from knowledge_base.search import KnowledgeBase

router = APIRouter(prefix="/api/kb", tags=["knowledge base"])
MAX_QUERY_LENGTH = 4000


def live_kb(holder=app_part("kb")) -> KnowledgeBase:
    """The index version in use (503 while none is built or loaded)."""
    return service.live(holder)


LiveKb = Annotated[KnowledgeBase, Depends(live_kb)]


@router.get("/search", response_model=KbSearchRead)
def search(
    kb: LiveKb,
    q: str = Query(..., max_length=MAX_QUERY_LENGTH, description="the customer's question"),
    k: int = Query(5, ge=1, le=20), mode: Literal["hybrid", "bm25", "dense"] = "hybrid",
) -> KbSearchRead:
    """Top-k articles for a question; long questions are searched by their first 300 characters."""
    return service.search(kb, query=q, k=k, mode=mode)


@router.get("/status", response_model=KbStatusRead)
def status(kb: LiveKb) -> KbStatusRead:
    """Which index version is serving."""
    return service.status(kb)


@router.get("/articles/{article_id}", response_model=KbArticleRead)
def get_article(article_id: str, kb: LiveKb, session: SessionDep) -> KbArticleRead:
    """One article with its feedback totals."""
    return service.get_article(kb, session=session, article_id=article_id)


@router.post("/feedback", response_model=KbFeedbackRead, dependencies=[Depends(require_service)])
def post_feedback(data: KbFeedbackCreate, kb: LiveKb, session: SessionDep) -> KbFeedbackRead:
    """有帮助 / 没解决 from a conversation; idempotent per (conversation, article)."""
    return service.record_feedback(kb, session=session, data=data)
