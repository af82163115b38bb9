"""Who viewed or changed customer data and tickets is recorded and supervisors can look it up (issue 13)."""
from __future__ import annotations

from api.demo.showcase import SHOWCASE
from tests.api.staff.test_staff_auth import bearer

ACCOUNT, MOBILE = SHOWCASE["normal"]


def test_reads_changes_and_refusals_are_recorded_with_who_and_what(client, auth):
    agent, crew, supervisor = (bearer(client, u) for u in ("agent01", "crew.yz01", "supervisor01"))
    assert client.get(f"/api/customers/{ACCOUNT}/overview", headers=agent).status_code == 200
    assert client.get(f"/api/customers/{ACCOUNT}/bills", headers=auth).status_code == 200
    assert client.get(f"/api/customers/{ACCOUNT}", headers=crew).status_code == 403
    ticket = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "account_no": ACCOUNT}).json()
    assert client.get(f"/api/tickets/{ticket['number']}", headers=agent).status_code == 200
    assert client.get("/api/tickets", headers=agent, params={"phone": MOBILE}).status_code == 200
    assert client.get("/api/kb/status").status_code in (200, 503)  # names no customer: not recorded

    customer = client.get("/api/access-log", headers=supervisor, params={"subject": ACCOUNT}).json()["items"]
    seen = {(r["actor"], r["method"], r["path"], r["status"]) for r in customer}
    assert ("agent:agent01", "GET", f"/api/customers/{ACCOUNT}/overview", 200) in seen
    assert ("service", "GET", f"/api/customers/{ACCOUNT}/bills", 200) in seen
    assert ("crew:crew.yz01", "GET", f"/api/customers/{ACCOUNT}", 403) in seen
    assert all(r["subject_kind"] == "customer" and r["at"].endswith("+08:00") for r in customer)

    tickets = client.get("/api/access-log", headers=supervisor, params={"subject": ticket["number"]}).json()
    assert [r["actor"] for r in tickets["items"]] == ["agent:agent01"] and tickets["total"] == 1
    by_phone = client.get("/api/access-log", headers=supervisor, params={"actor": "agent:agent01"}).json()["items"]
    phone_rows = [r for r in by_phone if r["subject_kind"] == "phone"]
    assert phone_rows and all(r["subject"] == MOBILE[:3] + "****" + MOBILE[-4:] for r in phone_rows)
    assert not any(r["path"].startswith("/api/kb") for r in by_phone)


def test_only_supervisors_read_the_access_log(client, auth):
    assert client.get("/api/access-log", headers=bearer(client, "agent01")).status_code == 403
    client.cookies.clear()  # the sign-in above left the agent's cookie
    assert client.get("/api/access-log", headers=auth).status_code == 401
    assert client.get("/api/access-log").status_code == 401
