"""Knowledge-base rules of the API: search through the live index, articles, feedback."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import Invalid, NotFound, Unavailable
from api.core.ids import normalize_text
from api.kb.models import KbFeedback
from api.kb.schemas import (
    KbArticleRead, KbFeedbackCreate, KbFeedbackRead, KbFeedbackSummary, KbHitRead, KbSearchRead, KbStatusRead,
)
from knowledge_base.chunking import summary
from knowledge_base.search import KnowledgeBase


def live(holder) -> KnowledgeBase:
    """The index version in use; Unavailable (503) with a clear message while none is built or loaded."""
    kb = holder.current if holder is not None else None
    if kb is None:
        raise Unavailable("kb_unavailable", "知识库暂不可用，请稍后再试",
                          reason=holder.error if holder is not None else "not_started")
    return kb


def search(kb: KnowledgeBase, *, query: str, k: int = 5, mode: str = "hybrid") -> KbSearchRead:
    """Top-k articles for a question, with the calibrated confidence of the first."""
    if not normalize_text(query):
        raise Invalid("empty_query", "请输入要查询的问题")
    if mode == "dense" and kb.dense is None:
        raise Invalid("dense_unavailable", "当前知识库索引没有向量部分，请使用 hybrid 或 bm25")
    result = kb.search(query, k=k, mode=mode)
    return KbSearchRead(
        query=result.query, confidence=result.confidence, threshold=kb.answer_threshold,
        answerable=result.answerable, truncated=result.truncated, version=kb.version,
        hits=[KbHitRead(article_id=h.article_id, title=h.title, category=h.category, score=h.score,
                        answer=h.answer, notice=h.notice, snippet=h.snippet) for h in result.hits],
    )


def feedback_summary(*, session: Session, article_id: str) -> KbFeedbackSummary:
    """有帮助 / 没解决 totals of an article."""
    rows = session.execute(
        select(KbFeedback.helpful, func.count()).where(KbFeedback.article_id == article_id)
        .group_by(KbFeedback.helpful)).all()
    counts = {bool(helpful): count for helpful, count in rows}
    return KbFeedbackSummary(helpful=counts.get(True, 0), not_helpful=counts.get(False, 0))


def _article_not_found(article_id: str) -> NotFound:
    return NotFound("article_not_found", f"没有找到编号为 {article_id} 的知识条目")


def get_article(kb: KnowledgeBase, *, session: Session, article_id: str) -> KbArticleRead:
    """An article with its feedback totals."""
    article = kb.get(article_id)
    if article is None:
        raise _article_not_found(article_id)
    return KbArticleRead(
        id=article.id, title=article.title, category=article.category, tags=list(article.tags),
        questions=list(article.questions), body=article.body, answer=summary(article),
        reviewed=article.reviewed, region=article.region, notice=article.notice, kind=article.kind,
        feedback=feedback_summary(session=session, article_id=article.id),
    )


def record_feedback(kb: KnowledgeBase, *, session: Session, data: KbFeedbackCreate) -> KbFeedbackRead:
    """Store a vote; the same conversation voting again on the article replaces its vote (also when two
    retries race: the one that lost stores its vote over the other's)."""
    if kb.get(data.article_id) is None:
        raise _article_not_found(data.article_id)
    try:
        return _store_vote(session=session, data=data)
    except IntegrityError:
        session.rollback()
        return _store_vote(session=session, data=data)


def _store_vote(*, session: Session, data: KbFeedbackCreate) -> KbFeedbackRead:
    row = session.scalar(select(KbFeedback).where(
        KbFeedback.conversation_id == data.conversation_id, KbFeedback.article_id == data.article_id))
    if row is None:
        row = KbFeedback(article_id=data.article_id, conversation_id=data.conversation_id,
                         helpful=data.helpful, query=data.query)
        session.add(row)
    else:
        row.helpful = data.helpful
        row.query = data.query or row.query
    session.commit()
    return KbFeedbackRead(article_id=row.article_id, conversation_id=row.conversation_id, helpful=row.helpful,
                          totals=feedback_summary(session=session, article_id=row.article_id))


def status(kb: KnowledgeBase) -> KbStatusRead:
    """The live index version and its size."""
    manifest = kb.manifest
    return KbStatusRead(version=kb.version, articles=len(kb.articles), chunks=len(kb.chunks),
                        encoder=manifest.get("encoder"), index_kind=manifest["index_kind"],
                        threshold=kb.answer_threshold, built_at=manifest["built_at"])
