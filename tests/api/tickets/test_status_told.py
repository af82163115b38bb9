"""One status vocabulary (issue 18): every ticket read carries its status as the customer is told it,
from api.core.vocabulary.TICKET_STATUS_TOLD, and a report attached to an area ticket carries that
ticket (number, status, crew, deadline) for the console and the 客户360."""
from __future__ import annotations

from api.core.vocabulary import TICKET_STATUS_TOLD, TICKET_STATUSES, status_told
from api.demo.showcase import SHOWCASE
from tests.api.staff.test_staff_auth import bearer


def report(client, auth, account_no: str) -> dict:
    response = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里突然没电了", "channel": "web", "account_no": account_no})
    assert response.status_code == 201, response.text
    return response.json()


def test_every_status_has_its_customer_words():
    assert set(TICKET_STATUS_TOLD) == set(TICKET_STATUSES)
    assert status_told("新建") == "已受理，正在安排处理人员"
    assert status_told("某个新状态") == "某个新状态" and status_told(None) == ""


def test_a_report_attached_to_an_area_ticket_carries_it_and_both_status_words(client, auth):
    area = report(client, auth, SHOWCASE["area_outage"][0])
    assert area["status_told"] == TICKET_STATUS_TOLD[area["status"]] and area["parent"] is None
    mine = report(client, auth, SHOWCASE["area_outage_neighbour"][0])
    assert (mine["status"], mine["status_told"]) == ("新建", "已受理，正在安排处理人员")
    area_now = client.get(f"/api/tickets/{area['number']}", headers=auth).json()
    assert area_now["status"] == "已派单" and area_now["crew"]  # the area ticket is dispatched at once
    parent = mine["parent"]
    assert parent == {
        "number": area["number"], "type": "故障报修", "status": "已派单",
        "status_told": TICKET_STATUS_TOLD["已派单"], "crew": area_now["crew"], "crew_eta": area_now["crew_eta"],
        "arrive_by": area_now["sla"]["arrive_by"]}
    assert mine["parent_number"] == area["number"] and mine["attached_to_existing"] is True

    # read again (list and one ticket) the parent is as it stands now
    again = client.get(f"/api/tickets/{mine['number']}", headers=auth).json()
    assert again["parent"] == parent and again["status_told"] == mine["status_told"]
    [listed] = [t for t in client.get("/api/tickets", headers=auth,
                                      params={"account_no": SHOWCASE["area_outage_neighbour"][0]}).json()["items"]
                if t["number"] == mine["number"]]
    assert listed["parent"] == parent

    # the 客户360 the console shows: the status, what the customer was told, the area ticket
    overview = client.get(f"/api/customers/{SHOWCASE['area_outage_neighbour'][0]}/overview",
                          headers=bearer(client, "agent01"))
    assert overview.status_code == 200, overview.text
    [brief] = [t for t in overview.json()["tickets"] if t["number"] == mine["number"]]
    assert (brief["status"], brief["status_told"]) == ("新建", "已受理，正在安排处理人员")
    assert brief["parent"] == parent


def test_a_ticket_of_its_own_has_no_parent(client, auth):
    account_no, _ = SHOWCASE["household_outage"]
    ticket = report(client, auth, account_no)
    assert ticket["parent"] is None and ticket["parent_number"] is None
    assert ticket["status_told"] == TICKET_STATUS_TOLD[ticket["status"]]
    [brief] = [t for t in client.get(f"/api/customers/{account_no}/overview", headers=bearer(client, "agent01"))
               .json()["tickets"] if t["number"] == ticket["number"]]
    assert brief["parent"] is None and brief["status_told"] == ticket["status_told"]
