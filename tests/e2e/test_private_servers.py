"""Rasa and the action server are private (issue 13, holes 1 and 2): bound to 127.0.0.1, Rasa's HTTP
API off, and every call without the shared secret refused — with the real servers of the e2e stack."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.conversations.rasa import RasaClient
from tests.conftest import run_coroutine
from tests.stack import ACTION_SERVER_TOKEN, RASA_TOKEN

pytestmark = pytest.mark.e2e
WRONG = [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": RASA_TOKEN},
         {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}]  # none, wrong, not "Bearer", the other secret


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on for `port` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


@pytest.mark.parametrize("server", ["rasa", "actions"])
def test_rasa_and_the_action_server_listen_on_loopback_only(stack, server):
    url = httpx.URL(stack.rasa_url if server == "rasa" else stack.actions_url)
    assert listening_addresses(url.port) == {"0100007F"}  # 127.0.0.1; not 0.0.0.0 or ::


@pytest.mark.parametrize("path", ["/webhooks/gateway/webhook", "/webhooks/gateway/parse"])
@pytest.mark.parametrize("headers", WRONG)
def test_the_gateway_channel_refuses_calls_without_its_token(stack, path, headers):
    body = {"sender": "e2e-intruder", "message": "我家停电了", "text": "我家停电了"}
    response = httpx.post(stack.rasa_url + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}


def test_the_gateway_channel_answers_with_its_token(stack):
    turn = httpx.post(f"{stack.rasa_url}/webhooks/gateway/webhook", headers=stack.rasa_auth, timeout=30,
                      json={"sender": "e2e-private-1", "message": "我家停电了", "metadata": {"channel": "web"}})
    assert turn.status_code == 200
    assert turn.json()["intent"]["name"] == "report_outage"
    assert any("户号" in (m.get("text") or "") for m in turn.json()["messages"])  # actions ran too
    parse = httpx.post(f"{stack.rasa_url}/webhooks/gateway/parse", headers=stack.rasa_auth, timeout=30,
                       json={"text": "这个月电费多少钱"})
    assert parse.status_code == 200 and parse.json()["intent"]["name"] == "query_bill"
    assert httpx.get(f"{stack.rasa_url}/webhooks/gateway/", timeout=10).json() == {"status": "ok"}  # health: open


@pytest.mark.parametrize("method, path", [
    ("GET", "/conversations/e2e-private-1/tracker"),
    ("POST", "/conversations/e2e-private-1/tracker/events"),
    ("PUT", "/conversations/e2e-private-1/tracker/events"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("GET", "/status"),
    ("POST", "/webhooks/rest/webhook"),
])
def test_rasas_http_api_and_the_rest_channel_are_not_served(stack, method, path):
    """The tracker (verified account, balances) cannot be read or written, nor the model replaced,
    nor the gateway bypassed through the REST channel: not even with the channel's token."""
    body = {"event": "slot", "name": "verified", "value": True, "text": "hi", "sender": "x", "message": "hi"}
    for headers, params in [({}, {}), (stack.rasa_auth, {}), ({}, {"token": RASA_TOKEN})]:
        response = httpx.request(method, stack.rasa_url + path, json=body, headers=headers, params=params,
                                 timeout=30)
        assert response.status_code in (401, 403, 404, 405), (headers, params, response.status_code)


def test_the_rasa_client_reads_intents_only_with_the_token(stack):
    async def parse(token: str) -> str | None:
        async with httpx.AsyncClient() as http:
            client = RasaClient(stack.rasa_url, 30, http, token=token)
            return await client.parse(text="这个月电费多少钱")

    assert run_coroutine(parse(RASA_TOKEN)) == "query_bill"
    assert run_coroutine(parse("wrong-token")) is None


def action_call(name: str, sender: str) -> dict:
    """A made-up tracker, as an intruder would post it."""
    return {"next_action": name, "sender_id": sender, "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "slots": {"verified": True, "verified_account": "0401000005"},
                        "latest_message": {"text": "查余额", "intent": {"name": "query_balance"}},
                        "events": [], "paused": False, "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen"}}


@pytest.mark.parametrize("headers", WRONG[:2] + [{"Authorization": f"Bearer {RASA_TOKEN}"}])
@pytest.mark.parametrize("method, path", [("POST", "/webhook"), ("GET", "/actions")])
def test_the_action_server_refuses_calls_without_its_token(stack, headers, method, path):
    response = httpx.request(method, stack.actions_url + path, headers=headers, timeout=30,
                             json=action_call("action_session_start", "e2e-intruder"))
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}


def test_the_action_server_answers_with_its_token(stack):
    response = httpx.post(f"{stack.actions_url}/webhook", headers=stack.actions_auth, timeout=30,
                          json=action_call("action_session_start", "e2e-private-2"))
    assert response.status_code == 200
    events = response.json()["events"]
    assert events[0]["event"] == "session_started"
    assert any(e["event"] == "slot" and e["name"] == "verified_account" and e["value"] == "0401000005"
               for e in events)  # what an intruder could have planted, had the call been let in
    assert httpx.get(f"{stack.actions_url}/health", timeout=10).json() == {"status": "ok"}  # health: open
