"""Articles: Markdown files with YAML front matter, figures filled in from a region's values."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from knowledge_base.text import normalize_text

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
REQUIRED = ("id", "title", "category", "tags", "questions", "reviewed")


class CorpusError(ValueError):
    """An article or an ingested record that cannot be used, with the file it came from."""


@dataclass(frozen=True)
class Region:
    """The figures articles quote, for one region (``values/<code>.yml``)."""

    code: str
    name: str
    disclaimer: str
    values: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Region":
        """Read a region file; every value is kept as the text articles will show."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        region = data["region"]
        values = {key: str(item["value"]) for key, item in data["values"].items()}
        values["region_name"] = region["name"]
        return cls(code=region["code"], name=region["name"], disclaimer=region["disclaimer"], values=values)

    def render(self, text: str, *, source: str = "") -> tuple[str, bool]:
        """Fill ``{{key}}`` placeholders; returns the text and whether a figure was used."""
        used = False

        def fill(match: re.Match) -> str:
            nonlocal used
            key = match.group(1)
            if key not in self.values:
                raise CorpusError(f"{source}: unknown value {{{{{key}}}}} (not in region {self.code})")
            used = used or key != "region_name"
            return self.values[key]

        return _PLACEHOLDER.sub(fill, text), used


@dataclass(frozen=True)
class Article:
    """One answer of the knowledge base. External documents have no questions and kind 'external'."""

    id: str
    title: str
    category: str
    body: str
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    reviewed: str = ""
    region: str = ""
    notice: str = ""  # the region's disclaimer, for articles that quote its figures
    kind: str = "article"
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that is indexed changes."""
        payload = json.dumps([self.id, self.title, self.category, self.tags, self.questions, self.body],
                             ensure_ascii=False)
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        """JSON-ready form (what the index stores and the API shows)."""
        return {
            "id": self.id, "title": self.title, "category": self.category, "tags": list(self.tags),
            "questions": list(self.questions), "body": self.body, "reviewed": self.reviewed,
            "region": self.region, "notice": self.notice, "kind": self.kind, "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Article":
        """Inverse of ``to_dict``."""
        return cls(
            id=data["id"], title=data["title"], category=data["category"], body=data["body"],
            tags=tuple(data.get("tags") or ()), questions=tuple(data.get("questions") or ()),
            reviewed=data.get("reviewed", ""), region=data.get("region", ""), notice=data.get("notice", ""),
            kind=data.get("kind", "article"), source=data.get("source", ""),
        )


def parse_article(path: Path, region: Region) -> Article:
    """One Markdown file → Article, figures filled in; raises CorpusError saying what is wrong."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise CorpusError(f"{path}: no front matter (--- … ---) at the top")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: front matter is not valid YAML: {exc}") from exc
    missing = [key for key in REQUIRED if not meta.get(key)]
    if missing:
        raise CorpusError(f"{path}: missing {', '.join(missing)}")
    if f"{meta['id']}.md" != path.name:
        raise CorpusError(f"{path}: id {meta['id']!r} does not match the file name")
    questions = [str(q) for q in meta["questions"]]
    if not 3 <= len(questions) <= 6:
        raise CorpusError(f"{path}: needs 3–6 questions, has {len(questions)}")
    body, used = region.render(match.group(2).strip(), source=str(path))
    render = lambda s: region.render(normalize_text(s), source=str(path))[0]  # noqa: E731
    reviewed = meta["reviewed"]
    return Article(
        id=str(meta["id"]), title=render(str(meta["title"])), category=str(meta["category"]),
        body=body, tags=tuple(str(t) for t in meta["tags"]), questions=tuple(render(q) for q in questions),
        reviewed=reviewed.isoformat() if isinstance(reviewed, dt.date) else str(reviewed),
        region=region.name if used else "", notice=region.disclaimer if used else "", source=str(path),
    )


def load_articles(docs_dir: Path, region: Region) -> list[Article]:
    """Every article under docs_dir, sorted by id; duplicate ids are an error."""
    articles: dict[str, Article] = {}
    for path in sorted(docs_dir.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        article = parse_article(path, region)
        if article.id in articles:
            raise CorpusError(f"{path}: id {article.id} already used by {articles[article.id].source}")
        articles[article.id] = article
    return [articles[key] for key in sorted(articles)]


# ------------------------------------------------------------------ external documents (ingest)

def read_records(path: Path) -> Iterator[dict]:
    """Rows of a JSONL or CSV file as dicts (the format follows the file's suffix)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if suffix in (".jsonl", ".ndjson"):
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise CorpusError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        elif suffix in (".csv", ".tsv"):
            yield from csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        else:
            raise CorpusError(f"{path}: use .jsonl or .csv")


def records_to_articles(
    records: Iterable[dict], *, id_field: str, text_field: str, title_field: str | None = None,
    category_field: str | None = None, prefix: str = "ext-", source: str = "",
) -> Iterator[Article]:
    """External rows → articles; rows without an id or text are refused, not skipped silently."""
    for number, row in enumerate(records, 1):
        ident, text = str(row.get(id_field) or "").strip(), normalize_text(str(row.get(text_field) or ""))
        if not ident or not text:
            raise CorpusError(f"{source} row {number}: empty {id_field!r} or {text_field!r}")
        title = normalize_text(str(row.get(title_field) or "")) if title_field else ""
        yield Article(
            id=f"{prefix}{ident}", title=title or text[:30], body=text, kind="external", source=source,
            category=str(row.get(category_field) or "外部资料") if category_field else "外部资料",
        )


def save_external(articles: Iterable[Article], path: Path) -> int:
    """Write ingested articles as JSONL (replacing an earlier ingest of the same name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def load_external(directory: Path) -> list[Article]:
    """Every ingested article kept under directory."""
    out: list[Article] = []
    for path in sorted(directory.glob("*.jsonl")) if directory.exists() else []:
        with path.open(encoding="utf-8") as handle:
            out.extend(Article.from_dict(json.loads(line)) for line in handle if line.strip())
    return out
