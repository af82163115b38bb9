"""HTTP of the knowledge base: search and articles are public knowledge; feedback needs the service token."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import require_service
from api.db import get_session
from api.kb import service
from api.kb.schemas import KbArticleRead, KbFeedbackCreate, KbFeedbackRead, KbSearchRead, KbStatusRead
from api.text import normalize_text
from knowledge_base.search import KnowledgeBase

router = APIRouter(prefix="/api/kb", tags=["knowledge base"])
MAX_QUERY_LENGTH = 4000


def live_kb(request: Request) -> KnowledgeBase:
    """The index version in use; 503 with a clear message while none is built or loaded."""
    holder = getattr(request.app.state, "kb", None)
    kb = holder.current if holder is not None else None
    if kb is None:
        raise HTTPException(status_code=503, detail={
            "code": "kb_unavailable", "message": "知识库暂不可用，请稍后再试",
            "reason": holder.error if holder is not None else "not_started"})
    return kb


@router.get("/search", response_model=KbSearchRead)
def search(
    q: str = Query(..., max_length=MAX_QUERY_LENGTH, description="the customer's question"),
    k: int = Query(5, ge=1, le=20), mode: Literal["hybrid", "bm25", "dense"] = "hybrid",
    kb: KnowledgeBase = Depends(live_kb),
) -> KbSearchRead:
    """Top-k articles for a question; long questions are searched by their first 300 characters."""
    if not normalize_text(q):
        raise HTTPException(status_code=422, detail={"code": "empty_query", "message": "请输入要查询的问题"})
    if mode == "dense" and kb.dense is None:
        raise HTTPException(status_code=422, detail={
            "code": "dense_unavailable", "message": "当前知识库索引没有向量部分，请使用 hybrid 或 bm25"})
    return service.search(kb, query=q, k=k, mode=mode)


@router.get("/status", response_model=KbStatusRead)
def status(kb: KnowledgeBase = Depends(live_kb)) -> KbStatusRead:
    """Which index version is serving."""
    return service.status(kb)


@router.get("/articles/{article_id}", response_model=KbArticleRead)
def get_article(article_id: str, kb: KnowledgeBase = Depends(live_kb),
                session: Session = Depends(get_session)) -> KbArticleRead:
    """One article with its feedback totals."""
    article = service.get_article(kb, session=session, article_id=article_id)
    if article is None:
        raise HTTPException(status_code=404, detail={
            "code": "article_not_found", "message": f"没有找到编号为 {article_id} 的知识条目"})
    return article


@router.post("/feedback", response_model=KbFeedbackRead, dependencies=[Depends(require_service)])
def post_feedback(data: KbFeedbackCreate, kb: KnowledgeBase = Depends(live_kb),
                  session: Session = Depends(get_session)) -> KbFeedbackRead:
    """有帮助 / 没解决 from a conversation; idempotent per (conversation, article)."""
    if kb.get(data.article_id) is None:
        raise HTTPException(status_code=404, detail={
            "code": "article_not_found", "message": f"没有找到编号为 {data.article_id} 的知识条目"})
    try:
        return service.record_feedback(session=session, data=data)
    except IntegrityError:  # two retries raced: the other one stored it; store this vote over it
        session.rollback()
        return service.record_feedback(session=session, data=data)
