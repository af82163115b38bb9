"""PostgreSQL goes away and comes back (issue 13): the API answers at once with a clear 503, and
serves again as soon as the database is back, without a restart.

The machine's PostgreSQL is shared (CI, other tests), so it is never stopped: a TCP proxy
(tests/fakes/tcp_proxy.py) stands between the API and it, and the test cuts the line (every
connection reset, new ones refused) and restores it.
"""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.migrate import upgrade
from api.settings import Settings
from tests.conftest import TEST_TOKEN, start_api
from tests.fakes.rasa import FakeRasa
from tests.fakes.tcp_proxy import TcpProxy

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def database(postgres) -> str:
    if postgres is None:
        pytest.skip("needs PostgreSQL: DATABASE_URL is not a postgresql:// URL")
    url = postgres.create()
    upgrade(url)
    yield url
    postgres.drop(url)


def report(key: str) -> dict:
    return {"kind": "hazard", "phone": "13912345678", "channel": "hotline", "address_text": "原州区南关街道民主街12号",
            "description": f"电线杆倾斜，电线垂得很低（{key}）", "idempotency_key": key}


def requests(http: httpx.Client, key: str) -> dict[str, httpx.Response]:
    """A staff read, a fault report and a chat turn: what customers and staff do all day."""
    return {"read": http.get("/api/tickets", headers=AUTH),
            "report": http.post("/api/tickets/faults", json=report(key), headers=AUTH),
            "chat": http.post("/api/chat/messages", json={"sender_id": f"res-db-{key}", "text": "我家停电了"},
                              headers=AUTH)}


def test_the_database_cut_gives_a_clear_503_and_the_api_recovers_on_its_own(database, tmp_path):
    target = make_url(database)
    with TcpProxy(target.host, target.port or 5432) as proxy, FakeRasa() as rasa:
        through_proxy = target.set(port=proxy.port).render_as_string(hide_password=False)
        settings = Settings(database_url=through_proxy, service_token=TEST_TOKEN, rasa_url=rasa.url,
                            kb_dir=tmp_path / "no-kb", background_workers=False)
        server, api = start_api(settings)
        try:
            with httpx.Client(base_url=api.url, timeout=30) as http:  # a hang fails the test at 30 s
                before = requests(http, f"before-{uuid.uuid4().hex[:8]}")
                assert {k: r.status_code for k, r in before.items()} == {"read": 200, "report": 201, "chat": 200}

                proxy.cut()
                key = f"during-{uuid.uuid4().hex[:8]}"
                during = requests(http, key)
                for name, response in during.items():
                    assert response.status_code == 503, (name, response.status_code, response.text)
                    detail = response.json()["detail"]
                    assert detail["code"] in ("database_unavailable", "chat_unavailable"), (name, detail)
                    assert "稍后再试" in detail["message"] and "95598" in detail["message"]
                assert during["read"].json()["detail"]["code"] == "database_unavailable"
                assert during["read"].headers["Retry-After"] == "5"

                proxy.restore()  # the same API process, not restarted
                after = requests(http, key)  # the report refused during the cut, sent again
                assert {k: r.status_code for k, r in after.items()} == {"read": 200, "report": 201, "chat": 200}
                assert after["chat"].json()["handled_by"] == "bot"
                numbers = [t["number"] for t in http.get("/api/tickets", headers=AUTH).json()["items"]]
                assert after["report"].json()["number"] in numbers and len(numbers) == 2  # before's and this one
        finally:
            server.stop()
