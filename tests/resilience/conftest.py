"""Fixtures of the resilience tests: one private bot stack whose Rasa and action server the tests
kill and start again, and the fake Twilio the API processes send through."""
from __future__ import annotations

from typing import ClassVar
from unittest import mock

import pytest

import tests.stack
from tests.fakes.twilio import FakeTwilio
from tests.stack import Server, Stack, running_stack


class _Recorded(Server):
    """tests.stack's Server, remembered as made: the Stack holds Rasa; these tests need the action
    server's handle as well (its command runs `actions.server`)."""

    made: ClassVar[list[Server]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Recorded.made.append(self)


@pytest.fixture(scope="module")
def bot_stack(tmp_path_factory) -> tuple[Stack, Server]:
    """A stack of its own (real Rasa, action server and API; the tests break it) and its action server."""
    _Recorded.made = []
    with mock.patch.object(tests.stack, "Server", _Recorded), \
            running_stack(tmp_path_factory.mktemp("resilience"), customers=60) as stack:
        actions = next(s for s in _Recorded.made if "actions.server" in s.command)
        yield stack, actions


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake
