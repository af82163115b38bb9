"""Knowledge-base I/O: search results, articles, feedback."""
from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from api.core.ids import normalize_text


class KbHitRead(BaseModel):
    """One article of a search result."""

    article_id: str
    title: str
    category: str
    score: float
    answer: str = Field(description="the article's short answer, for a chat reply")
    notice: str = Field(description="the region's disclaimer when the answer quotes its figures")
    snippet: str = Field(description="the passage or question that matched best")


class KbSearchRead(BaseModel):
    """Articles best first; answer on our own only when `answerable`."""

    query: str
    confidence: float = Field(description="calibrated probability that the first article answers the question")
    threshold: float
    answerable: bool
    truncated: bool = Field(description="the question was cut to its first 300 characters")
    version: str
    hits: list[KbHitRead]


class KbFeedbackSummary(BaseModel):
    """How customers rated an article's answers."""

    helpful: int = 0
    not_helpful: int = 0


class KbArticleRead(BaseModel):
    """A whole article, figures filled in for the configured region."""

    id: str
    title: str
    category: str
    tags: list[str]
    questions: list[str]
    body: str
    answer: str
    reviewed: str
    region: str
    notice: str
    kind: str
    feedback: KbFeedbackSummary


class KbFeedbackCreate(BaseModel):
    """有帮助 / 没解决 on an answer shown in a conversation (a retry or a change updates the vote)."""

    article_id: str = Field(min_length=1, max_length=120)
    conversation_id: str = Field(min_length=1, max_length=64)
    helpful: bool
    query: str | None = Field(default=None, max_length=2000)

    @field_validator("query")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalize_text(value) if value else value


class KbFeedbackRead(BaseModel):
    """The stored vote and the article's totals after it."""

    article_id: str
    conversation_id: str
    helpful: bool
    totals: KbFeedbackSummary


class KbStatusRead(BaseModel):
    """Which index version serves queries."""

    version: str
    articles: int
    chunks: int
    encoder: str | None
    index_kind: str
    threshold: float
    built_at: str
