"""The topic classifier: learns which article a text is about, and survives a save and load."""
from __future__ import annotations

import numpy as np

from knowledge_base.classifier import TopicClassifier, grams

TEXTS = [
    ("峰谷电价的时段怎么划分", "tou"), ("谷段电价几点开始", "tou"), ("峰段电价多少钱一度", "tou"),
    ("电费违约金怎么计算", "late"), ("晚交电费要交违约金吗", "late"), ("违约金按天收多少", "late"),
    ("电表黑屏不显示怎么办", "meter"), ("电表屏幕不亮了", "meter"), ("电表显示屏黑了", "meter"),
]


def test_grams_are_characters_and_pairs_of_the_words():
    assert grams("Ｅrr-04 电表！") == ["e", "r", "r", "0", "4", "电", "表",
                                      "er", "rr", "r0", "04", "4电", "电表"]


def test_it_tells_the_topics_apart_and_keeps_them_after_a_reload(tmp_path):
    model = TopicClassifier.train([t for t, _ in TEXTS], [a for _, a in TEXTS])
    questions = ["晚上几点算谷电", "晚交几天违约金多少", "家里电表屏幕黑了"]
    p = model.probabilities(questions)
    assert [model.labels[i] for i in p.argmax(axis=1)] == ["tou", "late", "meter"]
    assert np.allclose(p.sum(axis=1), 1.0)
    model.save(tmp_path)
    again = TopicClassifier.load(tmp_path)
    assert again.labels == model.labels and np.allclose(again.probabilities(questions), p, atol=1e-6)
    assert TopicClassifier.load(tmp_path / "missing") is None


def test_text_with_nothing_it_knows_gets_the_prior_not_an_error():
    model = TopicClassifier.train([t for t, _ in TEXTS], [a for _, a in TEXTS])
    p = model.probabilities(["", "hello?"])
    assert np.allclose(p[0], p[1]) and p.max() < 0.5
