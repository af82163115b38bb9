"""Staff sign-in: argon2 passwords, expiring tokens, rate limiting, and roles on staff endpoints."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from api.core.ratelimit import RateCounter, RedisRateLimiter, SqlRateLimiter
from api.demo.showcase import SHOWCASE
from api.demo.staff import DEMO_STAFF
from api.main import create_app
from api.staff.models import StaffUser
from api.staff.security import hash_password, verify_password
from api.core.security import issue_token, read_token

PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}


def login(client, username, password=None):
    return client.post("/api/staff/login", json={"username": username, "password": password or PASSWORDS[username]})


def pin_clock(*clients) -> datetime:
    """Stop the apps' clock at the start of the current sign-in window (failures are counted per fixed
    window: none ends in the middle of a test); returns that moment (in the past, so tokens stay valid)."""
    seconds = clients[0].app.state.settings.login_window_minutes * 60
    epoch = int(time.time())
    moment = datetime.fromtimestamp(epoch - epoch % seconds, timezone.utc)
    for client in clients:
        client.app.state.clock = lambda: moment
    return moment


def bearer(client, username) -> dict:
    response = login(client, username)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_passwords_are_argon2_and_tokens_expire():
    stored = hash_password("Correct-horse-1")
    assert stored.startswith("$argon2id$") and "Correct-horse-1" not in stored
    assert verify_password("Correct-horse-1", stored) and not verify_password("wrong", stored)
    assert not verify_password("x", "not-a-hash")
    now = datetime.now(timezone.utc)
    token = issue_token(user_id=1, username="a", role="agent", secret="s" * 32, now=now, minutes=5)
    assert read_token(token, secret="s" * 32)["role"] == "agent"
    assert read_token(token, secret="o" * 32) is None
    old = issue_token(user_id=1, username="a", role="agent", secret="s" * 32, now=now - timedelta(hours=1), minutes=5)
    assert read_token(old, secret="s" * 32) is None


def test_demo_accounts_exist_for_every_role_with_hashed_passwords(session):
    rows = {u.username: u for u in session.scalars(select(StaffUser))}
    assert {u.role for u in rows.values()} == {"agent", "supervisor", "crew", "auditor", "admin"}
    assert all(u.password_hash.startswith("$argon2id$") for u in rows.values())
    assert rows["crew.yz01"].crew_id == "YZ-01"


def test_sign_in_sets_an_httponly_cookie_and_me_says_who(client):
    response = login(client, "agent01")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"username": "agent01", "display_name": "王丽", "role": "agent", "role_name": "坐席",
                            "crew_id": None, "team": "95598一组"}
    cookie = response.headers["set-cookie"]
    assert "zhidian_staff=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert client.get("/api/staff/me").json()["username"] == "agent01"  # by the cookie
    client.post("/api/staff/logout")
    client.cookies.clear()
    assert client.get("/api/staff/me").status_code == 401


def test_wrong_password_is_refused_and_repeated_failures_are_rate_limited(client):
    pin_clock(client)
    for _ in range(5):
        wrong = login(client, "supervisor01", "not-the-password")
        assert wrong.status_code == 401 and wrong.json()["detail"]["code"] == "bad_credentials"
    locked = login(client, "supervisor01")  # even the right password waits now
    assert locked.status_code == 429 and locked.json()["detail"]["code"] == "too_many_attempts"
    assert locked.headers["Retry-After"] == "900"  # the rest of the 15-minute window
    assert locked.json()["detail"]["message"] == "登录失败次数过多，请15分钟后再试"
    assert login(client, "agent02").status_code == 200  # other accounts are not locked


def test_a_successful_sign_in_clears_the_failures_of_its_account_and_address(client):
    pin_clock(client)
    assert [login(client, "agent01", "typo-typo").status_code for _ in range(4)] == [401] * 4
    assert login(client, "agent01").status_code == 200
    assert [login(client, "agent01", "typo-typo").status_code for _ in range(4)] == [401] * 4  # a fresh budget
    assert login(client, "agent01", "typo-typo").status_code == 401  # the fifth in a row
    assert login(client, "agent01").status_code == 429


def test_without_redis_failures_are_counted_in_the_limiters_table(settings, session):
    """Without REDIS_URL the shared limiter's table holds the counts, hashed (no user name or address in it);
    the old table of attempts is gone."""
    with TestClient(create_app(settings.model_copy(update={"redis_url": None}))) as client:
        assert isinstance(client.app.state.limiter, SqlRateLimiter)
        pin_clock(client)
        assert login(client, "supervisor01", "not-the-password").status_code == 401
    keys = session.scalars(select(RateCounter.key)).all()
    assert sorted(k.split(":")[0] for k in keys) == ["staff.login.account", "staff.login.address", "staff.login.pair"]
    assert not any("supervisor01" in k or "testclient" in k for k in keys)
    assert "staff_login_attempts" not in inspect(session.get_bind()).get_table_names()


def test_with_redis_every_api_process_sees_the_failures_counted_there(settings, redis_url, session):
    """Two API processes (apps) sharing one Redis and one database: failures at either count towards the
    lockout at both, and they live in Redis (a process counting in the database sees none)."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    with TestClient(create_app(shared)) as one, TestClient(create_app(shared)) as two:
        assert isinstance(one.app.state.limiter, RedisRateLimiter)
        pin_clock(one, two)
        assert [login(c, "supervisor01", "not-the-password").status_code
                for c in (one, two, one, two, one)] == [401] * 5
        for locked in (login(one, "supervisor01"), login(two, "supervisor01")):
            assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
        prefix = one.app.state.limiter._prefix
        stored = redis.Redis.from_url(redis_url).keys(f"{prefix}staff.login.*")
        assert len(stored) == 3  # pair, account, address
        assert not session.scalars(select(RateCounter.key)).all()  # nothing of it in the database
        # an API process without Redis (counting in the database) has seen no failure
        with TestClient(create_app(settings.model_copy(update={"redis_url": None}))) as alone:
            pin_clock(alone)
            assert login(alone, "supervisor01").status_code == 200


def test_unknown_user_and_bad_body_get_clear_errors(client):
    assert login(client, "nobody", "whatever-123").status_code == 401
    assert client.post("/api/staff/login", json={"username": "agent01"}).status_code == 422


@pytest.mark.parametrize("username, allowed", [
    ("supervisor01", True), ("admin", True), ("agent01", False), ("crew.yz01", False), ("auditor01", False),
])
def test_supervisor_endpoints_check_the_role(client, username, allowed):
    response = client.get("/api/dispatch/crews", headers=bearer(client, username))
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["detail"] == {"code": "forbidden", "message": "您的账号没有权限进行此操作"}


def test_staff_endpoints_refuse_anonymous_and_forged_tokens(client):
    assert client.get("/api/dispatch/crews").status_code == 401
    forged = issue_token(user_id=1, username="admin", role="admin", secret="guessed-" * 5, now=datetime.now(timezone.utc),
                         minutes=60)
    assert client.get("/api/dispatch/crews", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_crew_account_acts_only_on_its_own_crews_tickets(client, auth):
    ticket = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "channel": "hotline", "account_no": SHOWCASE["household_outage"][0]
    }).json()
    crew = bearer(client, "crew.yz01")
    response = client.post(f"/api/tickets/{ticket['number']}/transitions", json={"action": "accept"}, headers=crew)
    if ticket["crew"]["id"] == "YZ-01":
        assert response.status_code == 200
        assert response.json()["events"][-1]["actor"] == "crew:crew.yz01"
    else:
        assert response.status_code == 403
    escalate = client.post(f"/api/tickets/{ticket['number']}/transitions", headers=crew,
                           json={"action": "escalate", "note": "x"})
    assert escalate.status_code == 403  # not a crew step


def test_an_agent_moves_a_ticket_and_the_timeline_names_them(client, auth):
    ticket = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "channel": "hotline", "account_no": SHOWCASE["household_outage"][0]
    }).json()
    agent = bearer(client, "agent01")
    moved = client.post(f"/api/tickets/{ticket['number']}/transitions", headers=agent,
                        json={"action": "suspend", "note": "客户要求明天再来"})
    assert moved.status_code == 200 and moved.json()["events"][-1]["actor"] == "agent:agent01"
    assert client.post(f"/api/tickets/{ticket['number']}/reassign", headers=agent,
                       json={"crew_id": "YZ-02", "reason": "x"}).status_code == 403


def test_admin_creates_accounts_and_the_cli_does_too(client, settings):
    admin = bearer(client, "admin")
    created = client.post("/api/staff/users", headers=admin, json={
        "username": "agent09", "display_name": "赵敏", "role": "agent", "password": "Longer-pass-09"})
    assert created.status_code == 201 and created.json()["role_name"] == "坐席"
    assert login(client, "agent09", "Longer-pass-09").status_code == 200
    assert client.post("/api/staff/users", headers=admin, json={
        "username": "agent09", "display_name": "x", "role": "agent", "password": "Longer-pass-09"}).status_code == 409
    assert client.post("/api/staff/users", headers=bearer(client, "agent01"), json={
        "username": "agent10", "display_name": "x", "role": "agent", "password": "Longer-pass-10"}).status_code == 403
    cli = subprocess.run([sys.executable, "-m", "api", "create-user", "auditor02", "--role", "auditor", "--name", "周杰",
                          "--password-stdin"], input="Auditor-pass-02\n", capture_output=True, text=True,
                         env={"DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert login(client, "auditor02", "Auditor-pass-02").json()["user"]["role"] == "auditor"


def test_a_crew_sees_its_open_tickets_with_the_customers_number(client, auth):
    ticket = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "channel": "hotline", "account_no": SHOWCASE["household_outage"][0],
        "phone": SHOWCASE["household_outage"][1]}).json()
    if ticket["crew"]["id"] != "YZ-01":
        client.post(f"/api/tickets/{ticket['number']}/reassign", headers=auth,
                    json={"crew_id": "YZ-01", "reason": "班组就在附近"})
    mine = client.get("/api/tickets/crew", headers=bearer(client, "crew.yz01"))
    assert mine.status_code == 200
    [item] = mine.json()
    assert item["ticket"]["number"] == ticket["number"] and item["contact_phone"] == SHOWCASE["household_outage"][1]
    assert client.get("/api/tickets/crew", headers=bearer(client, "agent01")).status_code == 403


def test_sign_out_revokes_the_session_token(client):
    token = login(client, "agent01").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/staff/me", headers=headers).status_code == 200
    assert client.post("/api/staff/logout", headers=headers).status_code == 204
    client.cookies.clear()
    assert client.get("/api/staff/me", headers=headers).status_code == 401  # the copied token is dead too
    assert login(client, "agent01").status_code == 200  # signing in again gives a new session


def test_an_unknown_username_costs_a_password_check_like_a_known_one(client, monkeypatch):
    from api.staff import service

    checked = []
    real = service.verify_password
    monkeypatch.setattr(service, "verify_password", lambda pw, stored: checked.append(stored) or real(pw, stored))
    assert login(client, "nobody-here", "whatever-123").status_code == 401
    assert login(client, "agent01", "not-the-password").status_code == 401
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)


def test_one_address_cannot_lock_out_the_colleagues_who_sign_in_from_it(client):
    pin_clock(client)
    assert login(client, "agent01").status_code == 200  # agent01 works from this (proxy) address
    for i in range(20):  # someone behind the same proxy guesses at other names
        assert login(client, f"guess{i % 5}", "wrong-password").status_code == 401
    assert login(client, "agent01").status_code == 200  # a known user of this address still signs in
    assert login(client, "supervisor01").status_code == 429  # a first sign-in from the address waits


def test_a_known_address_is_remembered_into_the_next_30_day_window(client):
    """The addresses an account signed in from are kept per 30-day window and read from this one and the last."""
    moment = pin_clock(client)
    assert login(client, "agent01").status_code == 200
    month = 30 * 86400
    epoch = int(moment.timestamp())
    later = datetime.fromtimestamp(epoch - epoch % month + month + 3600, timezone.utc)  # early in the next window
    client.app.state.clock = lambda: later
    for i in range(20):  # someone behind the same proxy guesses at other names
        assert login(client, f"guess{i % 5}", "wrong-password").status_code == 401
    assert login(client, "agent01").status_code == 200  # signed in from here in the last window: known
    assert login(client, "supervisor01").status_code == 429
