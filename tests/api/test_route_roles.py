"""Every route, walked as anonymous, as the action server and as every staff role, against one
table of who may call it (issue 13). A route missing from the table fails the test: adding an
endpoint means deciding who may use it.

"Allowed" means the role gate lets the caller through (any answer but 401/403: 200, 404 for the
sample ids, 422 for the empty bodies); refused means 401 or 403. The sample ids name nothing, so
nothing is changed.
"""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from api.demo.showcase import SHOWCASE
from tests.api.staff.test_staff_auth import login
from tests.conftest import TEST_METERING_TOKEN

ANON, SERVICE, METERING, AGENT, SUPERVISOR, CREW, AUDITOR, ADMIN = CALLERS = (
    "anonymous", "service", "metering", "agent", "supervisor", "crew", "auditor", "admin")
USERS = {AGENT: "agent01", SUPERVISOR: "supervisor01", CREW: "crew.yz01", AUDITOR: "auditor01", ADMIN: "admin"}
EVERYONE = set(CALLERS)
STAFF = {AGENT, SUPERVISOR, CREW, AUDITOR, ADMIN}
BOT = {SERVICE}


def roles(*names: str) -> set[str]:
    """Staff roles allowed; admin may do what any role may."""
    return {*names, ADMIN}


# "METHOD path" → who may call it.
TABLE: dict[str, set[str]] = {
    # pages and their files are public; what they show needs sign-in (the APIs below)
    "GET /": EVERYONE, "GET /agent": EVERYONE, "GET /crew": EVERYONE, "GET /supervisor": EVERYONE,
    "GET /dispatch": EVERYONE,
    "GET /forecast": EVERYONE, "GET /audit": EVERYONE, "GET /charging": EVERYONE, "GET /static/{name:path}": EVERYONE,
    "GET /healthz": EVERYONE,
    # the API's documentation pages, public as FastAPI's own were (their files come from /static/vendor/)
    "GET /docs": EVERYONE, "GET /docs/oauth2-redirect": EVERYONE, "GET /redoc": EVERYONE,
    # the customers' chat (anonymous by nature; its history needs the conversation's key)
    "POST /api/chat/conversations": EVERYONE, "POST /api/chat/messages": EVERYONE,
    "GET /api/chat/{sender_id}/history": EVERYONE, "POST /api/chat/notice": EVERYONE,
    # the metering system (its own token) writes meter data; staff read what the proactive service did
    "POST /api/metering/readings": {METERING}, "POST /api/metering/events": {METERING},
    "GET /api/monitoring/alerts": roles(SUPERVISOR, AGENT),
    "POST /api/chat/conversations/{conversation_id}/callback": EVERYONE,  # the conversation's key, as messages
    # public knowledge; feedback comes through the bot
    "GET /api/kb/search": EVERYONE, "GET /api/kb/status": EVERYONE, "GET /api/kb/articles/{article_id}": EVERYONE,
    "POST /api/kb/feedback": BOT,
    # staff sign-in
    "POST /api/staff/login": EVERYONE, "POST /api/staff/logout": EVERYONE,
    "GET /api/staff/me": roles(AGENT, SUPERVISOR, CREW, AUDITOR), "POST /api/staff/users": roles(),
    # Twilio's webhooks are checked by their signature instead of a role
    "POST /api/notify/twilio/status": EVERYONE, "POST /api/notify/twilio/inbound": EVERYONE,
    # WeChat's server URL: WeChat's signature over our token decides, not a role (tests/api/channels)
    "GET /wechat": EVERYONE, "POST /wechat": EVERYONE,
    "GET /api/notify/dead-letters": BOT | roles(SUPERVISOR),
    "POST /api/notify/dead-letters/{message_id}/retry": BOT | roles(SUPERVISOR),
    # customers: the bot identifies and verifies; staff who serve customers read
    "POST /api/customers/identify": BOT, "POST /api/customers/verify": BOT,
    "GET /api/customers/bindings/{conversation_id}": BOT,
    "GET /api/customers/search": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}/overview": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}/bills": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}/balance": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}/usage": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/customers/{account_no}/meter-check": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/outages": BOT,
    "GET /api/metering/areas/{code}": BOT, "GET /api/metering/outages": BOT,
    # tickets: the bot, agents and supervisors open; crews read their own and act on them
    "POST /api/tickets/faults": BOT | roles(AGENT, SUPERVISOR), "POST /api/tickets": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/tickets": BOT | roles(AGENT, SUPERVISOR, CREW, AUDITOR),
    "GET /api/tickets/{number}": BOT | roles(AGENT, SUPERVISOR, CREW, AUDITOR),
    "GET /api/tickets/{number}/for-customer": BOT,
    "GET /api/tickets/crew": {CREW},  # a crew account's own queue (admin has no crew)
    "POST /api/tickets/{number}/transitions": BOT | roles(AGENT, SUPERVISOR, CREW),
    "POST /api/tickets/{number}/reassign": BOT | roles(SUPERVISOR),
    "GET /api/dispatch/crews": BOT | roles(SUPERVISOR), "POST /api/dispatch/replan": BOT | roles(SUPERVISOR),
    "POST /api/dispatch/crews/{crew_id}/unavailable": BOT | roles(SUPERVISOR),
    "POST /api/dispatch/crews/{crew_id}/available": BOT | roles(SUPERVISOR),
    "GET /api/dispatch/tickets": BOT | roles(SUPERVISOR),
    "GET /api/dispatch/crews/me": {CREW},  # a crew account's own duty (admin has no crew)
    # agent console
    "GET /api/conversations/{conversation_id}": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/conversations/{conversation_id}/images/{image_id}": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/agent/me": roles(AGENT, SUPERVISOR), "PUT /api/agent/me/status": roles(AGENT, SUPERVISOR),
    "GET /api/agent/queue": roles(AGENT, SUPERVISOR), "GET /api/agent/conversations": roles(AGENT, SUPERVISOR),
    "GET /api/agent/conversations/{conversation_id}": roles(AGENT, SUPERVISOR),
    "POST /api/agent/conversations/{conversation_id}/join": roles(AGENT, SUPERVISOR),
    "POST /api/agent/conversations/{conversation_id}/transfer": roles(SUPERVISOR),
    "GET /api/agent/agents": roles(SUPERVISOR),
    "POST /api/agent/conversations/{conversation_id}/release": roles(AGENT, SUPERVISOR),
    "POST /api/agent/conversations/{conversation_id}/messages": roles(AGENT, SUPERVISOR),
    "GET /api/agent/conversations/{conversation_id}/ticket-draft": roles(AGENT, SUPERVISOR),
    "GET /api/agent/suggestions": roles(AGENT, SUPERVISOR), "GET /api/agent/teams": roles(AGENT, SUPERVISOR),
    "PUT /api/agent/teams/{team}": roles(SUPERVISOR),
    # dashboards, forecasts, demand management, the access log
    "GET /api/analytics/filters": roles(SUPERVISOR), "GET /api/analytics/dashboard": roles(SUPERVISOR),
    "GET /api/analytics/export/{name}.csv": roles(SUPERVISOR),
    "GET /api/analytics/business": roles(SUPERVISOR), "GET /api/analytics/quality": roles(SUPERVISOR),
    "GET /api/forecasting/customers/{account_no}/bill": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/forecasting/customers/{account_no}/analysis": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/forecasting/customers/{account_no}/tou": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/forecasting/customers/{account_no}/advice": BOT | roles(AGENT, SUPERVISOR, AUDITOR),
    "GET /api/forecasting/segments/{kind}": roles(SUPERVISOR, AUDITOR),
    "GET /api/forecasting/segments/{kind}.csv": roles(SUPERVISOR, AUDITOR),
    "GET /api/forecasting/targets": BOT | roles(SUPERVISOR, AUDITOR),
    "GET /api/forecasting/load/{level}": BOT | roles(SUPERVISOR, AUDITOR),
    "POST /api/forecasting/load/{level}": BOT | roles(SUPERVISOR, AUDITOR),
    "GET /api/forecasting/overloads": BOT | roles(SUPERVISOR, AUDITOR),
    "POST /api/forecasting/overloads/{area_code}/ticket": roles(SUPERVISOR),
    "GET /charts/profile/{account_no}.svg": EVERYONE,  # a signed, expiring link instead of a role
    "GET /api/access-log": roles(SUPERVISOR),
    # marketing audit: 稽查 and supervisors (only supervisors approve: the service decides, see its tests);
    # crews reach their own crew's tasks; the bot and agents file customers' theft reports as leads
    "GET /api/audit/rules": roles(AUDITOR, SUPERVISOR, CREW), "POST /api/audit/scan": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/findings": roles(AUDITOR, SUPERVISOR), "GET /api/audit/findings.csv": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/findings/{finding_id}": roles(AUDITOR, SUPERVISOR),
    "POST /api/audit/themes": roles(AUDITOR, SUPERVISOR), "GET /api/audit/themes": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/themes/{number}": roles(AUDITOR, SUPERVISOR),
    "POST /api/audit/themes/{number}/transitions": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/tasks": roles(AUDITOR, SUPERVISOR, CREW), "GET /api/audit/tasks/{number}": roles(AUDITOR, SUPERVISOR, CREW),
    "POST /api/audit/tasks/{number}/result": roles(AUDITOR, SUPERVISOR, CREW),
    "POST /api/audit/tasks/{number}/photos": roles(AUDITOR, SUPERVISOR, CREW),
    "GET /api/audit/tasks/{number}/photos/{photo_id}": roles(AUDITOR, SUPERVISOR, CREW),
    "POST /api/audit/tasks/{number}/rectified": roles(AUDITOR, SUPERVISOR),
    "POST /api/audit/tasks/{number}/review": roles(AUDITOR, SUPERVISOR),
    "POST /api/audit/leads": BOT | roles(AGENT, SUPERVISOR), "GET /api/audit/stats": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/line-loss": roles(AUDITOR, SUPERVISOR),
    "GET /api/audit/line-loss/areas/{code}/customers": roles(AUDITOR, SUPERVISOR),
    # EV charging: the bot finds stations and reads a session; agents and supervisors see the same
    "GET /api/charging/stations": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/charging/stations/{code}": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/charging/nearby": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/charging/transactions/{transaction_id}": BOT | roles(AGENT, SUPERVISOR),
    # the queue: the bot joins and cancels for a verified customer, agents do it on the phone
    "POST /api/charging/stations/{code}/queue": BOT | roles(AGENT, SUPERVISOR),
    "POST /api/charging/stations/{code}/fault-reports": BOT,
    "GET /api/charging/stations/{code}/queue": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/charging/queue/{entry_id}": BOT | roles(AGENT, SUPERVISOR),
    "GET /api/charging/accounts/{account_no}": BOT | roles(AGENT, SUPERVISOR),
    "POST /api/charging/queue/{entry_id}/cancel": BOT | roles(AGENT, SUPERVISOR),
    "POST /api/charging/transactions/{transaction_id}/wish": BOT | roles(AGENT, SUPERVISOR),
    # the staff charging page (/charging): the live board, areas under orderly charging, analytics, segments
    "GET /api/charging/board": roles(AGENT, SUPERVISOR), "GET /api/charging/areas": roles(AGENT, SUPERVISOR),
    "GET /api/charging/analytics": roles(AGENT, SUPERVISOR), "GET /api/charging/segments.csv": roles(AGENT, SUPERVISOR),
}
# Websockets check their caller themselves (covered by their own tests): the agent console's feed
# needs an agent or supervisor session, a chat socket its conversation's key, a charger's OCPP socket
# the charger's own Basic-auth credentials (tests/api/charging).
WEBSOCKETS = {"/api/agent/live", "/ws/chat/{sender_id}", "/ocpp/{charge_point_id}"}
SAMPLES = {"sender_id": "web-nobody-0123456789abcdef", "conversation_id": "web-nobody-0123456789abcdef",
           "account_no": SHOWCASE["normal"][0], "number": "GD20200101-9999", "crew_id": "ZZ-99",
           "article_id": "no-such-article", "code": "TA9999", "message_id": "2147483647", "team": "no-such-team",
           "name": "no_such_table", "kind": "no_such_segment", "level": "system", "area_code": "TA9999",
           "name:path": "chat.js", "finding_id": "2147483647", "photo_id": "2147483647", "image_id": "2147483647",
           "transaction_id": "2147483647", "entry_id": "2147483647"}


def walk(routes):
    """(kind, method, path) of every route, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield "http", method, route.path
        elif isinstance(route, APIWebSocketRoute):
            yield "ws", "WS", route.path
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from walk(route.original_router.routes)
        elif getattr(route, "path", None) and getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD"}):
                yield "http", method, route.path


def fill(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLES[m.group(1)], path)


@pytest.fixture
def callers(client, auth) -> dict[str, dict]:
    headers = {ANON: {}, SERVICE: auth, METERING: {"Authorization": f"Bearer {TEST_METERING_TOKEN}"}}
    for role, username in USERS.items():
        response = login(client, username)
        assert response.status_code == 200, response.text
        headers[role] = {"Authorization": f"Bearer {response.json()['token']}"}
    client.cookies.clear()  # every request below carries only its own credentials
    return headers


def test_every_route_is_in_the_table_and_the_table_holds(client, callers):
    routes = [(m, p) for kind, m, p in walk(client.app.routes)
              if kind == "http" and p != "/openapi.json"]
    websockets = {p for kind, _m, p in walk(client.app.routes) if kind == "ws"}
    missing = [f"{m} {p}" for m, p in routes if f"{m} {p}" not in TABLE]
    assert not missing, f"routes without a decision on who may call them: {missing}"
    assert websockets == WEBSOCKETS
    wrong = []
    routes.sort(key=lambda r: r == ("POST", "/api/staff/logout"))  # signing out ends the sessions: last
    for method, path in routes:
        allowed = TABLE[f"{method} {path}"]
        for caller, headers in callers.items():
            kwargs = {"json": {}} if method in ("POST", "PUT") else {}
            status = client.request(method, fill(path), headers=headers, **kwargs).status_code
            client.cookies.clear()
            broken = status >= 500 and status != 503  # 503: a part is not there (no KB index, no SMS)
            if (caller in allowed) == (status in (401, 403)) or broken:
                wrong.append(f"{caller} {method} {path} → {status}")
    assert not wrong, "\n".join(wrong)
