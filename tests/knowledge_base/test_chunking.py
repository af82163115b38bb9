"""Articles → chunks: questions, title, passages; tables read as sentences."""
from __future__ import annotations

from knowledge_base.chunking import MAX_CHARS, chunk_article, passages, plain_text, summary
from knowledge_base.corpus import Article

TABLE = """居民阶梯电价按月分档：

| 档位 | 每月用电量 | 电价 |
| --- | --- | --- |
| 第一档 | 170 千瓦时及以下 | 0.4486 元 |
| 第二档 | 170—260 千瓦时 | 0.4986 元 |

- **只有超出部分**按高一档计费
"""


def article(body: str = TABLE, questions=("阶梯电价怎么算？", "第一档多少度？", "超了怎么收？")) -> Article:
    return Article(id="price-t", title="阶梯电价", category="电价电费", body=body, tags=("阶梯",),
                   questions=tuple(questions))


def test_each_question_the_title_and_the_passages_are_chunks_with_stable_ids():
    chunks = chunk_article(article())
    assert [c.id for c in chunks[:4]] == ["price-t#q0", "price-t#q1", "price-t#q2", "price-t#t0"]
    assert [c.kind for c in chunks[:4]] == ["question", "question", "question", "title"]
    assert chunks[3].text == "阶梯电价 阶梯"
    bodies = [c for c in chunks if c.kind == "body"]
    assert bodies and all(c.text.startswith("阶梯电价：") for c in bodies)
    assert chunk_article(article()) == chunks  # same article, same chunks


def test_table_rows_become_sentences_and_markup_goes():
    text = plain_text(TABLE)
    assert "第一档：每月用电量 170 千瓦时及以下，电价 0.4486 元；" in text
    assert "|" not in text and "**" not in text and "---" not in text
    assert "只有超出部分按高一档计费；" in text


def test_long_bodies_are_packed_into_overlapping_passages_within_the_limit():
    body = "".join(f"第{i}句说明供电服务的一个要点，内容比较具体。" for i in range(40))
    parts = passages(body)
    assert len(parts) > 3
    assert all(len(p) <= MAX_CHARS for p in parts)
    for first, second in zip(parts, parts[1:]):  # each passage repeats the previous one's last sentence
        last_sentence = first.split("。")[-2] + "。"
        assert second.startswith(last_sentence)


def test_summary_is_whole_sentences_from_the_start_up_to_the_limit():
    first, second, third = ("甲" * 99 + "。"), ("乙" * 99 + "。"), ("丙" * 99 + "。")
    assert summary(article(body=first + second + third)) == first + second
