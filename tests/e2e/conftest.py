"""One running stack (real Rasa, real action server, real API) for all e2e tests."""
from __future__ import annotations

import pytest

from tests.fakes.twilio import FakeTwilio
from tests.fakes.wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN, FakeWeChat
from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def twilio():
    """A fake Twilio for the whole e2e session: crews' SMS go there, their replies come from it."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def wechat():
    """A fake WeChat for the whole e2e session: our customer-service messages go there."""
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory, built_kb, twilio, wechat) -> Stack:
    with running_stack(tmp_path_factory.mktemp("e2e"), kb_dir=built_kb.kb_dir,
                       twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                       twilio_from_number="+8610695598", twilio_base_url=twilio.url,
                       wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                       wechat_aes_key=AES_KEY, wechat_api_base=wechat.api_base) as running:
        yield running
