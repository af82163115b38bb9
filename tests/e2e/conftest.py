"""One running stack (real Rasa, real action server, real API) for all e2e tests."""
from __future__ import annotations

import pytest

from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory, built_kb) -> Stack:
    with running_stack(tmp_path_factory.mktemp("e2e"), kb_dir=built_kb.kb_dir) as running:
        yield running
