"""One running stack (real Rasa, real action server, real API) for all e2e tests."""
from __future__ import annotations

import pytest

from tests.fakes.twilio import FakeTwilio
from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def twilio():
    """A fake Twilio for the whole e2e session: crews' SMS go there, their replies come from it."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory, built_kb, twilio) -> Stack:
    with running_stack(tmp_path_factory.mktemp("e2e"), kb_dir=built_kb.kb_dir,
                       twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                       twilio_from_number="+8610695598", twilio_base_url=twilio.url) as running:
        yield running
