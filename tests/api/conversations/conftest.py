"""Shared pieces of the gateway and agent-console tests: the fake bot, the app, a customer's chat."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.flows.routes.leave_message import leave_message_router
from api.main import create_app
from tests.fakes.rasa import FakeRasa

ALL_DAY = (time.min, time.max)  # office hours that hold whatever the clock says
CALLBACK_PATH = "/api/chat/conversations/{conversation_id}/callback"


def make_app(settings) -> FastAPI:
    """The real app; the call-back route is added here until api/main.py includes it."""
    app = create_app(settings)
    if not any(getattr(route, "path", None) == CALLBACK_PATH for route in app.routes):
        app.include_router(leave_message_router)
    return app


@pytest.fixture
def rasa():
    with FakeRasa() as fake:
        yield fake


@pytest.fixture
def chat(settings, rasa):
    """The API on the test database with the fake bot (deadline 2.5 s), agents' office hours all day."""
    settings = settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 2.5})
    with TestClient(make_app(settings)) as client:
        client.app.state.desk.office_hours = ALL_DAY
        yield client


@dataclass
class Customer:
    """A web chat as the page has it: the issued id and its secret."""

    client: TestClient
    id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Chat-Secret": self.secret}

    def post(self, text: str, **extra):
        return self.client.post("/api/chat/messages", headers=self.headers,
                                json={"sender_id": self.id, "text": text, "channel": "web", **extra})

    def say(self, text: str, **extra) -> dict:
        response = self.post(text, **extra)
        assert response.status_code == 200, response.text
        return response.json()

    def history(self) -> list[dict]:
        response = self.client.get(f"/api/chat/{self.id}/history", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["turns"]


def new_customer(client: TestClient) -> Customer:
    """Open a web conversation as the chat page does."""
    response = client.post("/api/chat/conversations")
    assert response.status_code == 201, response.text
    body = response.json()
    return Customer(client, body["conversation_id"], body["secret"])
