"""The production layout on this machine's PostgreSQL and Redis (tests/scaleout.py): nginx in front of two
API processes, each with its own Rasa process, both Rasa on one Redis tracker and lock store.

- A fault report whose turns nginx spreads over both APIs (so over both Rasa) stays one conversation and
  ends with one ticket.
- The agent console on one API process serves a customer whose chat socket is on the other: the console's
  live feed hears the customer, the customer's socket hears the agent.
"""
from __future__ import annotations

import json
import os
import re

import httpx
import pytest
from websockets.sync.client import connect

from api.core.deps import COOKIE
from api.demo.showcase import EXTRA_ACCOUNTS
from tests.api.staff.test_staff_auth import PASSWORDS
from tests.conftest import TEST_TOKEN
from tests.scaleout import missing, scaled_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
TICKET = re.compile(r"GD\d{8}-\d{4}")
SERVICE = {"Authorization": f"Bearer {TEST_TOKEN}"}

if missing():
    pytest.skip(missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, postgres):
    database_url = postgres.create()
    try:
        with scaled_stack(tmp_path_factory.mktemp("scaleout"), database_url=database_url,
                          redis_url=os.environ["REDIS_URL"]) as stack:
            yield stack
    finally:
        postgres.drop(database_url)


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def open_chat(client: httpx.Client, base: str) -> tuple[str, str]:
    issued = client.post(f"{base}/api/chat/conversations")
    assert issued.status_code == 201, issued.text
    return issued.json()["conversation_id"], issued.json()["secret"]


def test_a_report_spread_over_both_apis_and_both_rasa_is_one_conversation_and_one_ticket(scaled):
    account_no, _ = EXTRA_ACCOUNTS["household_outage_4"]
    with httpx.Client(timeout=60) as client:
        conversation_id, secret = open_chat(client, scaled.url)
        replicas, answers = [], []
        for text in ("家里没电了", account_no, "是的", "就我家没电，邻居家都有电", "确认"):
            messages, replica = scaled.say(client, conversation_id, secret, text)
            replicas.append(replica)
            answers.append(texts(messages))
        assert len(set(replicas)) == 2, replicas  # nginx alternated: each Rasa saw part of the report
        assert "是这个地址停电吗" in answers[1], answers
        [number] = set(TICKET.findall(answers[-1]))
        tickets = client.get(f"{scaled.url}/api/tickets", headers=SERVICE, params={"account_no": account_no})
        assert [t["number"] for t in tickets.json()["items"] if t["type"] == "故障报修"].count(number) == 1
        history = client.get(f"{scaled.url}/api/chat/{conversation_id}/history", headers={"X-Chat-Secret": secret})
        said = [t["text"] for t in history.json()["turns"] if t["sender"] == "customer"]
        assert said == ["家里没电了", account_no, "是的", "就我家没电，邻居家都有电", "确认"]


def test_the_agent_on_one_process_serves_the_customer_on_the_other(scaled):
    customer_api, agent_api = scaled.apis
    with httpx.Client(timeout=60) as client:
        login = client.post(f"{agent_api.url}/api/staff/login",
                            json={"username": "agent01", "password": PASSWORDS["agent01"]})
        assert login.status_code == 200, login.text
        agent = {"Authorization": f"Bearer {login.json()['token']}"}
        conversation_id, secret = open_chat(client, customer_api.url)
        ws = customer_api.url.replace("http://", "ws://")
        console_url = agent_api.url.replace("http://", "ws://") + "/api/agent/live"
        with connect(f"{ws}/ws/chat/{conversation_id}") as chat, \
                connect(console_url, additional_headers={"Cookie": f"{COOKIE}={login.json()['token']}"}) as console:
            chat.send(json.dumps({"type": "hello", "secret": secret}))
            assert json.loads(chat.recv(timeout=10))["type"] == "ready"
            said = client.post(f"{customer_api.url}/api/chat/messages", headers={"X-Chat-Secret": secret},
                               json={"sender_id": conversation_id, "text": "我要转人工"})
            assert said.status_code == 200, said.text
            heard = _until(console, lambda e: e.get("type") == "turn" and e.get("conversation_id") == conversation_id)
            assert heard["conversation_id"] == conversation_id  # the console on the other process heard it

            assert client.post(f"{agent_api.url}/api/agent/conversations/{conversation_id}/join",
                               headers=agent).status_code == 200
            reply = "您好，我是人工客服，请问有什么可以帮您？"
            sent = client.post(f"{agent_api.url}/api/agent/conversations/{conversation_id}/messages", headers=agent,
                               json={"text": reply, "client_msg_id": "scale-1"})
            assert sent.status_code == 201, sent.text
            frame = _until(chat, lambda f: f.get("handled_by") == "agent")
            assert [m["text"] for m in frame["messages"]] == [reply]


def _until(socket, wanted, frames: int = 30) -> dict:
    """The first frame on the socket that `wanted` accepts (each within 15 s)."""
    for _ in range(frames):
        frame = json.loads(socket.recv(timeout=15))
        if wanted(frame):
            return frame
    raise AssertionError("the frame never came")
