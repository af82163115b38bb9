"""The live knowledge base of a process, swapped to a newer build without downtime.

Readers take ``holder.current`` once per request; ``refresh`` opens a new version fully
before it replaces the reference, so a request never sees a half-loaded index.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from knowledge_base import dense
from knowledge_base.config import KbConfig
from knowledge_base.index import current_version
from knowledge_base.search import KnowledgeBase, shared_encoders
from knowledge_base.text import shared_tokenizer

logger = logging.getLogger(__name__)


class KnowledgeBaseHolder:
    """The current index version of one configuration (tokenizer and encoders are shared per process)."""

    def __init__(self, config: KbConfig) -> None:
        self.config = config
        self.current: KnowledgeBase | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        dense.one_thread_per_query()

    def refresh(self) -> bool:
        """Open the version CURRENT names if it is not the one in use; True when swapped."""
        with self._lock:
            path: Path | None = current_version(self.config.kb_dir)
            if path is None:
                self.error = "no_index"
                return False
            if self.current is not None and self.current.directory == path:
                return False
            try:
                fresh = KnowledgeBase.open(path, tokenizer=shared_tokenizer(), encoders=shared_encoders(),
                                           answer_threshold=self.config.answer_threshold)
            except Exception as exc:  # a broken build must not take down a working index
                logger.exception("knowledge base version %s could not be opened", path.name)
                self.error = f"open_failed: {exc}"
                return False
            self.current, self.error = fresh, None
            logger.info("knowledge base %s in use (%d articles, %d chunks)",
                        path.name, len(fresh.articles), len(fresh.chunks))
            return True
