"""Which article a question is about: a topic classifier trained on the articles at build time.

BM25 and the encoder score each chunk on its own; this model sees all articles at once and
learns which characters and character pairs tell one article from its neighbours (违约金 起算
vs 违约金 减免). It is a third ranking for the fusion and a confidence signal: on the
calibration questions it raised recall@1 by about two points and the separation of right from
wrong answers (see knowledge_base/README.md). Multinomial logistic regression over TF-IDF
character unigrams and bigrams, fitted with L-BFGS: deterministic and a few seconds on the CPU.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

from knowledge_base.text import is_cjk, normalize_text

FILE = "classifier.npz"


def grams(text: str) -> list[str]:
    """Characters and character pairs of the letters, digits and Chinese in the text."""
    kept = "".join(ch for ch in normalize_text(text).lower() if is_cjk(ch) or ch.isalnum())
    return list(kept) + [kept[i:i + 2] for i in range(len(kept) - 1)]


class TopicClassifier:
    """P(article | text) over the articles it was trained on."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, weights: np.ndarray, bias: np.ndarray,
                 labels: Sequence[str]) -> None:
        self.vocab, self.idf, self.weights, self.bias = vocab, idf, weights, bias
        self.labels = list(labels)

    def _rows(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text: the ids of its known grams and their sublinear TF-IDF weights, L2-normalised."""
        rows = []
        for text in texts:
            counts = Counter(g for g in grams(text) if g in self.vocab)
            ids = np.fromiter((self.vocab[g] for g in counts), dtype=np.int64, count=len(counts))
            value = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[ids]
            rows.append((ids, value / np.linalg.norm(value) if len(ids) else value))
        return rows

    def _matrix(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The rows as a sparse texts × grams matrix (for training)."""
        rows = self._rows(texts)
        return sparse.csr_matrix((np.concatenate([v for _, v in rows]),
                                  (np.repeat(np.arange(len(rows)), [len(i) for i, _ in rows]),
                                   np.concatenate([i for i, _ in rows]))), shape=(len(texts), len(self.vocab)))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text: the probability of each label (self.labels order)."""
        logits = np.vstack([value.astype(np.float32) @ self.weights[ids] + self.bias for ids, value in self._rows(texts)])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], *, c: float = 10.0,
              iterations: int = 300) -> "TopicClassifier":
        """Fit on (text, article id) rows; c is the inverse L2 strength (as in liblinear)."""
        names = sorted(set(labels))
        df: Counter = Counter()
        for text in texts:
            df.update(set(grams(text)))
        vocab = {g: i for i, g in enumerate(sorted(df))}
        idf = np.log((1 + len(texts)) / (1 + np.array([df[g] for g in sorted(df)], dtype=np.float64))) + 1.0
        model = cls(vocab, idf, np.zeros((len(vocab), len(names))), np.zeros(len(names)), names)
        x = model._matrix(texts)
        index = {name: i for i, name in enumerate(names)}
        import torch  # only training needs it; a query is a sparse row times a matrix (numpy)

        # The L2 solution lies in the span of the training rows (W = Xᵀ·A), so we fit the n × labels
        # matrix A against the Gram matrix K = X·Xᵀ: the same optimum with far fewer unknowns.

        gram = torch.as_tensor((x @ x.T).toarray(), dtype=torch.float32)
        target = torch.as_tensor([index[label] for label in labels])
        a = torch.zeros((len(texts), len(names)), requires_grad=True)
        b = torch.zeros(len(names), requires_grad=True)
        solver = torch.optim.LBFGS([a, b], max_iter=iterations, history_size=10, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            solver.zero_grad()
            projected = gram @ a
            value = (torch.nn.functional.cross_entropy(projected + b, target, reduction="sum")
                     + 0.5 / c * (a * projected).sum())
            value.backward()
            return value

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small matrices: more threads only contend (3-10x slower on a busy machine)
        try:
            solver.step(closure)
        finally:
            torch.set_num_threads(threads)
        model.weights = np.asarray(x.T @ a.detach().numpy(), dtype=np.float32)
        model.bias = b.detach().numpy().astype(np.float32)
        return model

    def save(self, directory: Path) -> None:
        """classifier.npz in the version directory."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        np.savez_compressed(directory / FILE, idf=self.idf, weights=self.weights, bias=self.bias,
                            vocab=np.array(json.dumps(terms, ensure_ascii=False)),
                            labels=np.array(json.dumps(self.labels, ensure_ascii=False)))

    @classmethod
    def load(cls, directory: Path) -> "TopicClassifier | None":
        """The version's classifier, or None for a version built without one."""
        path = directory / FILE
        if not path.exists():
            return None
        with np.load(path) as data:
            terms = json.loads(str(data["vocab"]))
            return cls({t: i for i, t in enumerate(terms)}, data["idf"], data["weights"], data["bias"],
                       json.loads(str(data["labels"])))
