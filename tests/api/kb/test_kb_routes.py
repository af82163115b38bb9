"""GET /api/kb/search, /api/kb/articles/{id}, /api/kb/status and POST /api/kb/feedback."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.kb.models import KbFeedback


@pytest.fixture
def kb_home(built_kb, tmp_path):
    """The API serves a private copy of the session's built knowledge base."""
    return built_kb.copy(tmp_path / "kb")


def test_search_answers_a_tariff_question_with_its_article(client):
    response = client.get("/api/kb/search", params={"q": "居民峰谷电价几点算低谷？", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["hits"][0]["article_id"] == "price-tou-periods-prices"
    assert body["answerable"] is True and body["confidence"] >= body["threshold"]
    assert len(body["hits"]) == 3 and body["truncated"] is False
    assert "22:00" in body["hits"][0]["answer"]


@pytest.mark.parametrize("query", ["", "   ", "\u3000"])
def test_an_empty_question_is_a_clear_422(client, query):
    response = client.get("/api/kb/search", params={"q": query})
    assert response.status_code == 422
    assert response.json()["detail"] == {"code": "empty_query", "message": "请输入要查询的问题"}


def test_a_2000_character_question_is_searched_by_its_start(client):
    query = "我家这个月电费特别高，想问问阶梯电价是怎么算的。" + "我们家平时就两个人住，" * 180
    assert len(query) >= 2000
    response = client.get("/api/kb/search", params={"q": query})
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True and body["hits"]


def test_too_long_and_bad_parameters_are_structured_422s(client):
    assert client.get("/api/kb/search", params={"q": "电" * 4001}).json()["detail"]["code"] == "validation_error"
    assert client.get("/api/kb/search", params={"q": "电费", "k": 0}).status_code == 422
    assert client.get("/api/kb/search", params={"q": "电费", "mode": "magic"}).status_code == 422
    assert client.get("/api/kb/search").status_code == 422


@pytest.mark.parametrize("query", ["How much is electricity per kWh?", "1234567890", "😀😀", "<script>alert(1)</script>"])
def test_non_chinese_questions_get_an_answer_not_an_error(client, query):
    response = client.get("/api/kb/search", params={"q": query})
    assert response.status_code == 200
    assert response.json()["answerable"] is False


def test_an_article_with_its_figures_region_and_feedback(client):
    response = client.get("/api/kb/articles/price-tiered-residential")
    assert response.status_code == 200
    article = response.json()
    assert article["title"] == "居民阶梯电价怎么计算"
    assert "0.4486" in article["body"] and "{{" not in article["body"]
    assert article["region"] == "宁夏固原（演示地区）" and article["notice"]
    assert article["feedback"] == {"helpful": 0, "not_helpful": 0}
    missing = client.get("/api/kb/articles/no-such-article")
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "article_not_found"


def test_feedback_needs_the_service_token(client):
    body = {"article_id": "price-tiered-residential", "conversation_id": "web-1", "helpful": True}
    assert client.post("/api/kb/feedback", json=body).status_code == 401


def test_feedback_is_idempotent_per_conversation_and_can_change(client, auth, session):
    body = {"article_id": "price-tiered-residential", "conversation_id": "web-1", "helpful": True,
            "query": "阶梯电价怎么算"}
    for _ in range(2):  # a retry stores nothing new
        response = client.post("/api/kb/feedback", json=body, headers=auth)
        assert response.status_code == 200
        assert response.json()["totals"] == {"helpful": 1, "not_helpful": 0}
    client.post("/api/kb/feedback", json={**body, "conversation_id": "web-2", "helpful": False}, headers=auth)
    changed = client.post("/api/kb/feedback", json={**body, "helpful": False}, headers=auth).json()
    assert changed["totals"] == {"helpful": 0, "not_helpful": 2}
    assert client.get("/api/kb/articles/price-tiered-residential").json()["feedback"] == {
        "helpful": 0, "not_helpful": 2}
    assert session.scalar(select(func.count()).select_from(KbFeedback)) == 2


def test_feedback_on_an_unknown_article_or_bad_body_is_refused(client, auth):
    unknown = client.post("/api/kb/feedback", headers=auth,
                          json={"article_id": "nope", "conversation_id": "web-1", "helpful": True})
    assert unknown.status_code == 404
    bad = client.post("/api/kb/feedback", headers=auth, json={"article_id": "price-tiered-residential"})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "validation_error"


def test_status_names_the_version_and_the_api_swaps_to_a_new_build(client, kb_home):
    from knowledge_base.config import KbConfig
    from knowledge_base.encoder import SentenceTransformerEncoder
    from knowledge_base.index import build

    before = client.get("/api/kb/status").json()
    assert before["articles"] >= 150 and before["index_kind"] == "flat"
    config = KbConfig(kb_dir=kb_home)
    build(config, encoder=SentenceTransformerEncoder(before["encoder"]), force=True)
    assert client.app.state.kb.refresh()  # what the API's watcher does every KB_RELOAD_SECONDS
    after = client.get("/api/kb/status").json()
    assert after["version"] != before["version"]
    assert client.get("/api/kb/search", params={"q": "电费发票怎么开"}).status_code == 200


def test_without_an_index_the_kb_says_it_is_unavailable(settings, tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(settings.model_copy(update={"kb_dir": tmp_path / "empty"}))) as client:
        response = client.get("/api/kb/search", params={"q": "电费"})
    assert response.status_code == 503
    assert response.json()["detail"]["code"] == "kb_unavailable"
