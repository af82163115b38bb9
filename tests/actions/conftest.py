"""Helpers for action tests: the bot's domain as a dict, trackers from JSON snapshots.

API-backed tests use the shared ``api_server`` fixture (tests/conftest.py): the real API on a
free port with a seeded demo. Nothing is mocked; "API down" is a closed local port.
"""
from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import run_coroutine

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def load_domain() -> dict[str, Any]:
    """bot/domain/*.yml merged the way Rasa merges them (enough for the SDK)."""
    merged: dict[str, Any] = {"intents": [], "entities": [], "slots": {}, "forms": {},
                              "responses": {}, "actions": []}
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("intents", "entities", "actions"):
            merged[key] += part.get(key) or []
        for key in ("slots", "forms", "responses"):
            merged[key].update(part.get(key) or {})
    return merged


DOMAIN = load_domain()


def snapshot(name: str, **slots: Any) -> dict[str, Any]:
    """A tracker state from tests/actions/fixtures/<name>.json, with slots overridden."""
    state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    state["slots"] = {**{s: None for s in DOMAIN["slots"]}, **state["slots"], **slots}
    return state


def user_turn(
    state: dict[str, Any],
    text: str,
    intent: str = "inform",
    *,
    entities: list[dict[str, Any]] | None = None,
    candidates: dict[str, Any] | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> dict[str, Any]:
    """Append a customer message (and the slot candidates Rasa extracted from it)."""
    state = copy.deepcopy(state)
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in (ranking or [(intent, 0.9)])],
        "metadata": {"channel": "web"},
    }
    state["events"].append({"event": "user", "text": text, "parse_data": parse,
                            "metadata": {"channel": "web"}})
    for slot, value in (candidates or {}).items():
        state["events"].append({"event": "slot", "name": slot, "value": value})
        state["slots"][slot] = value
    state["latest_message"] = parse
    state["latest_action_name"] = "action_listen"
    return state


def tracker(state: dict[str, Any]) -> Tracker:
    return Tracker.from_dict(copy.deepcopy(state))


async def run_action(action, state: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action class on a snapshot: (messages, events)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker(state), DOMAIN)
    return dispatcher.messages, events


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """{slot: value} of the SlotSet events (last wins)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


@pytest.fixture
def api_down(monkeypatch):
    """Point the actions at a local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ZHIDIAN_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ZHIDIAN_SERVICE_TOKEN", "whatever")


@pytest.fixture
def api(api_server, monkeypatch):
    """The real API (shared fixture) wired into the actions' environment."""
    monkeypatch.setenv("ZHIDIAN_API_URL", api_server.url)
    monkeypatch.setenv("ZHIDIAN_SERVICE_TOKEN", api_server.token)
    return api_server


@pytest.fixture
def showcase():
    from api.demo.showcase import SHOWCASE

    return SHOWCASE


run = run_coroutine  # actions' coroutines, run to completion
