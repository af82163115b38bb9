"""Articles → chunks: each customer question, the title with tags, and body passages.

Questions are the best match for how customers ask; body passages catch questions the
article's authors did not foresee. Body passages carry the title so they stand alone.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from knowledge_base.corpus import Article
from knowledge_base.text import normalize_text

MAX_CHARS = 200
# Sentence ends: Chinese and ASCII terminators, and line breaks (lists, table rows).
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_MARKUP = re.compile(r"^\s*(?:[-*+]|\d+[.、)]|#+|>)\s*|\*\*|`")
_TABLE_RULE = re.compile(r"^[\s|:-]+$")


@dataclass(frozen=True)
class Chunk:
    """A searchable piece of one article."""

    id: str
    article_id: str
    kind: str  # question | title | body
    text: str

    @property
    def digest(self) -> str:
        """Key of the embedding cache: the same text is embedded once per encoder."""
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def plain_text(markdown: str) -> str:
    """Markdown → plain text lines: list marks and emphasis removed, table rows as sentences.

    A table row reads "第一档：每月用电量 170 千瓦时及以下，电价 0.4486 元/千瓦时；" (its
    first cell, then each header with its cell), so it still makes sense in a chat reply.
    """
    lines, header = [], None
    source = markdown.splitlines()
    for number, line in enumerate(source):
        if line.lstrip().startswith("|"):
            following = source[number + 1] if number + 1 < len(source) else ""
            if _TABLE_RULE.match(line):
                continue
            if _TABLE_RULE.match(following) and "-" in following:
                header = _cells(line)
                continue
            cells = _cells(line)
            names = header[1:] if header and len(header) == len(cells) else [""] * (len(cells) - 1)
            rest = "，".join(f"{name} {cell}".strip() for name, cell in zip(names, cells[1:]) if cell)
            lines.append(f"{cells[0]}：{rest}；" if rest else f"{cells[0]}；")
            continue
        header = None
        text = _MARKUP.sub("", line)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            lines.append(text if text[-1] in "。！？!?；;：:" else text + "；")
    return "\n".join(lines)


def sentences(text: str) -> list[str]:
    """Sentences and list items, each at most MAX_CHARS (longer ones are cut)."""
    out = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        while len(sentence) > MAX_CHARS:
            out.append(sentence[:MAX_CHARS])
            sentence = sentence[MAX_CHARS:]
        if sentence:
            out.append(sentence)
    return out


def passages(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Consecutive sentences packed up to max_chars; each passage repeats the previous one's last sentence."""
    parts = sentences(plain_text(text))
    out: list[str] = []
    current: list[str] = []
    for sentence in parts:
        if current and sum(map(len, current)) + len(sentence) > max_chars:
            out.append("".join(current))
            current = [current[-1]] if len(current[-1]) + len(sentence) <= max_chars else []
        current.append(sentence)
    if current and (not out or "".join(current) not in out[-1]):
        out.append("".join(current))
    return out


def chunk_article(article: Article, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """All chunks of one article, with stable ids (article id, kind letter, position)."""
    chunks = [Chunk(f"{article.id}#q{i}", article.id, "question", normalize_text(q))
              for i, q in enumerate(article.questions)]
    title = " ".join([article.title, *article.tags]).strip()
    chunks.append(Chunk(f"{article.id}#t0", article.id, "title", title))
    for i, passage in enumerate(passages(article.body, max_chars)):
        chunks.append(Chunk(f"{article.id}#b{i}", article.id, "body", f"{article.title}：{passage}"))
    return chunks


def summary(article: Article, max_chars: int = 220) -> str:
    """The short answer a chat shows: the first sentences of the body, whole sentences only."""
    parts = sentences(plain_text(article.body))
    out = ""
    for sentence in parts:
        if out and len(out) + len(sentence) > max_chars:
            break
        out += sentence
    return (out[:-1] + "。" if out.endswith(("；", ";")) else out) or article.title
