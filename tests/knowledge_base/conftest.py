"""Fixtures of the knowledge-base tests: the session's built index, opened once."""
from __future__ import annotations

import pytest

from knowledge_base.config import KbConfig
from knowledge_base.holder import KnowledgeBaseHolder


@pytest.fixture(scope="session")
def kb(built_kb):
    """The live KnowledgeBase of the session's build (read-only: don't rebuild it in a test)."""
    holder = KnowledgeBaseHolder(KbConfig(kb_dir=built_kb.kb_dir))
    assert holder.refresh(), holder.error
    return holder.current
