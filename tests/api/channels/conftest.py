"""The web channel's tests use the gateway tests' app and fake bot."""
from tests.api.conversations.conftest import chat, rasa  # noqa: F401 (fixtures)
