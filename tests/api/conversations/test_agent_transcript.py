"""The console's transcript carries what the customer was shown besides text (issue 18): the chart
image (the signed link the chat used, served from this origin) and the buttons offered."""
from __future__ import annotations

from api.billing import charts
from api.core.headers import CONTENT_SECURITY_POLICY
from tests.api.conversations.conftest import new_customer
from tests.api.staff.test_staff_auth import bearer

ACCOUNT = "0401000003"


def test_a_bot_turn_with_a_chart_and_buttons_reaches_the_agent_with_both(chat, rasa):
    link = charts.link(secret=chat.app.state.settings.staff_secret, account_no=ACCOUNT)
    rasa.on_message = lambda body: [
        {"recipient_id": body["sender"], "text": "这是您近30天的平均日负荷曲线："},
        {"recipient_id": body["sender"], "image": link},
        {"recipient_id": body["sender"], "text": "需要节能建议吗？",
         "buttons": [{"title": "要", "payload": "/energy_advice"}, {"title": "不用了", "payload": "/deny"}]},
    ]
    customer = new_customer(chat)
    customer.say("我家用电情况怎么样")

    agent01 = bearer(chat, "agent01")
    seen = chat.get(f"/api/agent/conversations/{customer.id}", headers=agent01)
    assert seen.status_code == 200, seen.text
    bot = [(t["text"], t["image"], t["buttons"]) for t in seen.json()["turns"] if t["sender"] == "bot"]
    assert bot == [
        ("这是您近30天的平均日负荷曲线：", None, []),
        (None, link, []),  # the turn that was an empty grey bubble
        ("需要节能建议吗？", None, [{"title": "要", "payload": "/energy_advice"},
                                   {"title": "不用了", "payload": "/deny"}]),
    ]
    # the customer's history has the same image, and the link is a same-origin picture the page may load
    assert [t["image"] for t in customer.history() if t["image"]] == [link]
    assert link.startswith("/charts/profile/") and "img-src 'self'" in CONTENT_SECURITY_POLICY
    picture = chat.get(link)
    assert picture.status_code == 200 and picture.headers["content-type"].startswith("image/svg+xml")
    assert picture.text.lstrip().startswith("<svg")
