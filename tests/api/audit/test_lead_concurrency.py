"""A customer's theft report retried at the same moment (a chat reconnect resends it) is one lead, never a 500."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from api.audit.models import AuditTask
from tests.conftest import run_coroutine, start_api

TRIALS, DUPLICATES = 4, 5


@pytest.fixture
def running(settings):
    server, api = start_api(settings)
    try:
        yield api
    finally:
        server.stop()


async def burst(url: str, token: str) -> list[list[httpx.Response]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        trials = []
        for trial in range(TRIALS):
            body = {"phone": "13995551234", "address_text": "原州区文化街菜市场后面", "channel": "web",
                    "description": f"有人从路灯杆上私拉电线（第{trial}处）", "idempotency_key": f"web-9:lead:{trial}"}
            trials.append(await asyncio.gather(*(http.post("/api/audit/leads", json=body)
                                                 for _ in range(DUPLICATES))))
        return trials


def test_duplicate_reports_at_the_same_moment_are_one_lead(running, session):
    trials = run_coroutine(burst(running.url, running.token))
    for responses in trials:
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.json()["ticket_number"] for r in responses}) == 1
    tasks = session.scalar(select(func.count()).select_from(AuditTask).where(AuditTask.source == "customer_report"))
    assert tasks == TRIALS
