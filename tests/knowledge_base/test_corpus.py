"""The articles: format, regional figures, coverage of the topics the issue names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge_base.config import KbConfig
from knowledge_base.corpus import (
    CorpusError, Region, load_articles, parse_article, read_records, records_to_articles,
)

CONFIG = KbConfig()
REGION = Region.load(CONFIG.region_file)

ARTICLE = """---
id: {id}
title: 峰谷电价的时段
category: 电价电费
tags: [峰谷电价]
questions:
{questions}
reviewed: 2026-11-01
---
{{{{region_name}}}}高峰时段为{{{{tou_peak_hours}}}}，价格{{{{tou_peak_price}}}}元/千瓦时。
"""


def write(tmp_path: Path, *, id="price-x", questions=("峰谷时段怎么分？", "几点是谷电？", "峰电多少钱？"), name=None,
          body=None) -> Path:
    path = tmp_path / f"{name or id}.md"
    text = ARTICLE.format(id=id, questions="\n".join(f"  - {q}" for q in questions))
    path.write_text(body if body is not None else text, encoding="utf-8")
    return path


def test_placeholders_are_filled_with_the_regions_figures_and_say_which_region(tmp_path):
    article = parse_article(write(tmp_path), REGION)
    assert article.body.startswith("宁夏固原（演示地区）高峰时段为8:00—22:00，价格0.4786元/千瓦时")
    assert article.region == "宁夏固原（演示地区）"
    assert "以当地价格主管部门文件" in article.notice


def test_unknown_placeholder_is_refused_with_the_file_named(tmp_path):
    path = write(tmp_path, body=ARTICLE.format(id="price-x", questions="  - a\n  - b\n  - c").replace(
        "{{tou_peak_price}}", "{{tou_super_price}}"))
    with pytest.raises(CorpusError, match="tou_super_price"):
        parse_article(path, REGION)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "other-name"}, "does not match the file name"),
    ({"questions": ("只有一个问题？",)}, "needs 3–6 questions"),
    ({"body": "没有 front matter"}, "no front matter"),
])
def test_malformed_articles_are_refused(tmp_path, kwargs, message):
    with pytest.raises(CorpusError, match=message):
        parse_article(write(tmp_path, **kwargs), REGION)


def test_the_corpus_loads_and_covers_what_a_95598_knowledge_base_must():
    articles = load_articles(CONFIG.docs_dir, REGION)
    assert len(articles) >= 150
    text = "\n".join(a.title + " ".join(a.questions) + a.body for a in articles)
    for topic in ("阶梯电价", "一户多人口", "峰谷", "大工业", "网上国网", "支付宝", "预付费", "欠费", "违约金", "发票",
                  "户号", "校验", "新装", "增容", "减容", "暂停", "过户", "销户", "改类", "光伏", "充电桩",
                  "计划停电", "跳闸", "赔偿", "断线", "触电", "雷雨", "95598", "投诉"):
        assert topic in text, topic
    assert not re.search(r"\{\{|\}\}", text)  # every figure resolved
    for article in articles:
        assert 3 <= len(article.questions) <= 6 and article.reviewed.startswith("2026-")


def test_ingest_reads_jsonl_and_csv_and_refuses_rows_without_text(tmp_path):
    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text('{"qid": 7, "q": "电费怎么开专票", "a": "请携带营业执照到营业厅办理。"}\n', encoding="utf-8")
    [article] = records_to_articles(read_records(jsonl), id_field="qid", text_field="a", title_field="q")
    assert (article.id, article.title, article.kind) == ("ext-7", "电费怎么开专票", "external")
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text("id,text\n1,\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="row 1"):
        list(records_to_articles(read_records(csv_file), id_field="id", text_field="text"))
