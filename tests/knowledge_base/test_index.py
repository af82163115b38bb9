"""Builds: incremental embedding, no-op when unchanged, atomic swap, ingested documents."""
from __future__ import annotations

import json
import shutil

import pytest

from knowledge_base.config import KbConfig
from knowledge_base.encoder import SentenceTransformerEncoder
from knowledge_base.holder import KnowledgeBaseHolder
from knowledge_base.index import build, current_version

DOCS = KbConfig().docs_dir


@pytest.fixture(scope="module")
def encoder(built_kb):
    return SentenceTransformerEncoder(str(built_kb.encoder_dir))


@pytest.fixture
def workspace(tmp_path):
    """A private copy of the articles and an empty KB_DIR."""
    shutil.copytree(DOCS, tmp_path / "docs")
    return KbConfig(kb_dir=tmp_path / "kb", docs_dir=tmp_path / "docs")


def edit(config: KbConfig, article_id: str, old: str, new: str) -> None:
    [path] = list(config.docs_dir.rglob(f"{article_id}.md"))
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_rebuild_embeds_only_what_changed_and_is_a_no_op_when_nothing_did(workspace, encoder):
    first = build(workspace, encoder=encoder)
    assert first.embedded == first.chunks - first.reused > 1000 and not first.up_to_date

    again = build(workspace, encoder=encoder)
    assert again.up_to_date and again.version == first.version

    edit(workspace, "price-tiered-residential", "不是全部电量都涨价", "并不是所有电量都按高价计算")
    changed = build(workspace, encoder=encoder)
    assert changed.version != first.version
    assert changed.embedded in (1, 2)  # only the passages holding that sentence
    assert changed.reused == changed.chunks - changed.embedded
    assert current_version(workspace.kb_dir).name == changed.version


def test_the_holder_swaps_versions_and_old_readers_keep_working(workspace, encoder):
    build(workspace, encoder=encoder)
    holder = KnowledgeBaseHolder(workspace)
    assert holder.refresh()
    old = holder.current
    assert not holder.refresh()  # nothing new

    edit(workspace, "price-tiered-residential", "居民阶梯电价怎么计算", "居民阶梯电价的计算方法")
    build(workspace, encoder=encoder)
    assert holder.refresh()
    assert holder.current is not old
    assert holder.current.get("price-tiered-residential").title == "居民阶梯电价的计算方法"
    # a request that took the old version before the swap still gets a full answer
    assert old.search("阶梯电价怎么算").hits[0].article_id.startswith("price-")


def test_a_broken_version_does_not_replace_a_working_one(workspace, encoder):
    build(workspace, encoder=encoder)
    holder = KnowledgeBaseHolder(workspace)
    holder.refresh()
    working = holder.current
    broken = workspace.kb_dir / "index" / "99990101T000000-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}", encoding="utf-8")
    (workspace.kb_dir / "CURRENT").write_text(broken.name, encoding="utf-8")
    assert not holder.refresh()
    assert holder.current is working and holder.error.startswith("open_failed")


def test_ingested_documents_are_indexed_and_found(workspace, encoder, tmp_path):
    from knowledge_base.cli import main

    faq = tmp_path / "hotline_faq.jsonl"
    faq.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"no": "A17", "question": "地下室水泵房用电怎么单独计量", "answer": "地下室水泵房属于公共用电，可由物业申请单独装表计量，按合表电价执行。"},
        {"no": "A18", "question": "小区电梯停运找谁", "answer": "小区电梯属于物业设备，请先联系物业；若整栋楼停电可拨打95598报修。"},
    ]), encoding="utf-8")
    import os

    os.environ["KB_DIR"], os.environ["KB_DOCS_DIR"] = str(workspace.kb_dir), str(workspace.docs_dir)
    try:
        assert main(["ingest", str(faq), "--id-field", "no", "--text-field", "answer", "--title-field", "question"]) == 0
    finally:
        del os.environ["KB_DIR"], os.environ["KB_DOCS_DIR"]
    report = build(workspace, encoder=encoder)
    assert report.articles == len(list(DOCS.rglob("*.md"))) + 2
    holder = KnowledgeBaseHolder(workspace)
    holder.refresh()
    result = holder.current.search("水泵房的电要单独装电表吗")
    assert result.hits[0].article_id == "ext-A17"
    assert result.hits[0].title == "地下室水泵房用电怎么单独计量"


def test_without_an_encoder_the_index_is_bm25_only_and_still_answers(workspace):
    report = build(workspace, encoder=None)
    assert report.encoder is None and report.index_kind == "none"
    holder = KnowledgeBaseHolder(workspace)
    holder.refresh()
    assert holder.current.dense is None
    assert holder.current.search("光伏上网电费多久到账").hits[0].article_id == "biz-pv-settlement"
