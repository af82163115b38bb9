"""The channels' tests: the gateway tests' app and fake bot (web, SMS), and for WeChat a local fake WeChat
and the app configured for it."""
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conversations.conftest import chat, rasa  # noqa: F401 (fixtures)
from tests.fakes.wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN, FakeWeChat


@pytest.fixture
def wechat():
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
def wx_settings(settings, wechat, rasa):  # noqa: F811 (the fixture)
    return settings.model_copy(update={
        "wechat_token": TOKEN, "wechat_app_id": APP_ID, "wechat_app_secret": APP_SECRET, "wechat_aes_key": AES_KEY,
        "wechat_api_base": wechat.api_base, "rasa_url": rasa.url, "rasa_timeout_seconds": 10, "redis_url": None})


@pytest.fixture
def app(wx_settings):
    with TestClient(create_app(wx_settings)) as client:
        yield client
