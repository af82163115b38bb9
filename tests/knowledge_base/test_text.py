"""Chinese normalisation and the BM25 tokenizer."""
from __future__ import annotations

from knowledge_base.text import normalize_text, shared_tokenizer


def test_normalise_folds_full_width_and_keeps_chinese_punctuation():
    assert normalize_text("  户号：０４０１０００００１，电费　多少？ ") == "户号：0401000001，电费 多少？"
    assert normalize_text("ＡＢＣ\t\n abc") == "ABC abc"
    assert normalize_text("") == ""


def test_words_keep_the_bots_dictionary_and_drop_stop_words():
    words = shared_tokenizer().words("请问我家的漏电保护器老是跳闸怎么办？")
    assert "漏电保护器" in words  # one word thanks to nlu_data/jieba/userdict.txt
    assert "跳闸" in words
    assert not {"请问", "我家", "的", "？"} & set(words)


def test_tokens_add_bigrams_so_different_cuts_still_match():
    tokenizer = shared_tokenizer()
    query, document = set(tokenizer.tokens("电费单怎么看")), set(tokenizer.tokens("电费账单上的各项内容"))
    assert "电费" in query and "费单" in query and "电" in query
    assert {"电费", "费"} <= query & document


def test_latin_and_digits_are_lower_cased_terms():
    assert "app" in shared_tokenizer().words("网上国网APP 怎么交费")
    assert shared_tokenizer().tokens("？？？") == []
