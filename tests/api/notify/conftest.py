"""A fake Twilio for the notification tests, and settings that point the API at it."""
from __future__ import annotations

import pytest

from tests.fakes.twilio import FakeTwilio

OUR_NUMBER = "+8610695598"


@pytest.fixture
def twilio():
    """The local fake of Twilio's REST API (the real SDK talks to it)."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def settings(settings, twilio):
    """The test's settings with Twilio configured to the fake."""
    return settings.model_copy(update={
        "twilio_account_sid": twilio.account_sid, "twilio_auth_token": twilio.auth_token,
        "twilio_from_number": OUR_NUMBER, "twilio_base_url": twilio.url})
