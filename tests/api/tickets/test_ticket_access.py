"""Who sees and opens which ticket (issue 13): crews only their own crew's, crews and auditors open
none, and a chat learns a ticket's details only when the ticket is that customer's."""
from __future__ import annotations

import pytest

from api.demo.showcase import SHOWCASE
from tests.api.staff.test_staff_auth import bearer

HOUSEHOLD, HOUSEHOLD_PHONE = SHOWCASE["household_outage"]
NORMAL, NORMAL_PHONE = SHOWCASE["normal"]


def report(client, auth, account_no: str, phone: str, **extra) -> dict:
    response = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "channel": "web", "account_no": account_no, "phone": phone,
        **extra})
    assert response.status_code == 201, response.text
    return response.json()


def give_to(client, auth, ticket: dict, crew_id: str) -> None:
    if (ticket.get("crew") or {}).get("id") != crew_id:
        moved = client.post(f"/api/tickets/{ticket['number']}/reassign", headers=auth,
                            json={"crew_id": crew_id, "reason": "测试指定班组"})
        assert moved.status_code == 200, moved.text


def test_a_crew_account_reads_only_its_own_crews_tickets(client, auth):
    mine = report(client, auth, HOUSEHOLD, HOUSEHOLD_PHONE)
    theirs = report(client, auth, NORMAL, NORMAL_PHONE)
    give_to(client, auth, mine, "YZ-01")
    give_to(client, auth, theirs, "YZ-02")
    crew = bearer(client, "crew.yz01")

    listed = client.get("/api/tickets", headers=crew, params={"limit": 500}).json()
    numbers = {t["number"] for t in listed["items"]}
    assert mine["number"] in numbers and theirs["number"] not in numbers
    assert all(t["crew"]["id"] == "YZ-01" for t in listed["items"])
    by_phone = client.get("/api/tickets", headers=crew, params={"phone": NORMAL_PHONE}).json()
    assert theirs["number"] not in {t["number"] for t in by_phone["items"]}

    assert client.get(f"/api/tickets/{mine['number']}", headers=crew).status_code == 200
    hidden = client.get(f"/api/tickets/{theirs['number']}", headers=crew)
    assert hidden.status_code == 404 and hidden.json()["detail"]["code"] == "ticket_not_found"
    # staff other than crews still read every ticket
    assert client.get(f"/api/tickets/{theirs['number']}", headers=bearer(client, "agent01")).status_code == 200


@pytest.mark.parametrize("username, allowed", [("agent01", True), ("supervisor01", True),
                                               ("crew.yz01", False), ("auditor01", False)])
def test_who_may_open_tickets(client, username, allowed):
    headers = bearer(client, username)
    fault = client.post("/api/tickets/faults", headers=headers, json={
        "kind": "outage", "description": "客户来电：家里没电", "channel": "hotline", "account_no": NORMAL})
    other = client.post("/api/tickets", headers=headers, json={
        "type": "咨询回访", "phone": NORMAL_PHONE, "description": "客户要求回电说明电费构成", "channel": "hotline"})
    expected = 201 if allowed else 403
    assert (fault.status_code, other.status_code) == (expected, expected), (fault.text, other.text)


def test_a_chat_sees_a_ticket_only_when_it_is_that_customers(client, auth):
    ticket = report(client, auth, HOUSEHOLD, HOUSEHOLD_PHONE, conversation_id="web-reporter-conversation-1")
    url = f"/api/tickets/{ticket['number']}/for-customer"

    by_conversation = client.get(url, headers=auth, params={"conversation_id": "web-reporter-conversation-1"}).json()
    assert by_conversation["owned"] is True and by_conversation["status"] == ticket["status"]
    by_account = client.get(url, headers=auth, params={"conversation_id": "web-someone-else-000000001",
                                                       "account_no": HOUSEHOLD}).json()
    assert by_account["owned"] is True and by_account["diagnosis"]["code"] == ticket["diagnosis"]["code"]

    stranger = client.get(url, headers=auth, params={"conversation_id": "web-someone-else-000000001",
                                                     "account_no": NORMAL})
    assert stranger.status_code == 200
    assert stranger.json() == {"number": ticket["number"], "exists": True, "owned": False}
    assert client.get(url, headers=auth).json()["owned"] is False

    unknown = client.get("/api/tickets/GD20200101-9999/for-customer", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "ticket_not_found"
    assert client.get(url, headers=bearer(client, "agent01")).status_code == 401  # the bot's route only


def test_paging_far_beyond_the_tickets_is_a_clear_error(client, auth):
    response = client.get("/api/tickets", headers=auth, params={"offset": 9223372036854775808})
    assert response.status_code == 422 and response.json()["detail"]["code"] == "validation_error"
