"""Training pairs for the encoder, from the corpus itself."""
from __future__ import annotations

from dataclasses import replace
from itertools import permutations
from typing import Sequence

from knowledge_base.chunking import chunk_article
from knowledge_base.corpus import Article


def corpus_pairs(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """Question ↔ other questions of its article, question → title, question → passages."""
    pairs: list[tuple[str, str]] = []
    for article in articles:
        chunks = chunk_article(article)
        questions = [c.text for c in chunks if c.kind == "question"]
        others = [c.text for c in chunks if c.kind != "question"]
        pairs += list(permutations(questions, 2))
        pairs += [(q, text) for q in questions for text in others]
        if not questions:  # external documents: title ↔ passages
            pairs += [(others[0], text) for text in others[1:]]
    return pairs


def corpus_texts(articles: Sequence[Article]) -> list[str]:
    """All indexed text, for learning the tokenizer's vocabulary."""
    return [chunk.text for article in articles for chunk in chunk_article(article)]


def hold_out(articles: Sequence[Article], per_article: int = 1) -> tuple[list[Article], list[tuple[str, str]]]:
    """Keep the last question(s) of articles with three or more out of training, for calibration."""
    kept, held = [], []
    for article in articles:
        if per_article and len(article.questions) >= 3:
            held += [(q, article.id) for q in article.questions[-per_article:]]
            article = replace(article, questions=article.questions[:-per_article])
        kept.append(article)
    return kept, held
