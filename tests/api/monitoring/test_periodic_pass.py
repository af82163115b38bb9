"""The every-minute pass over the demo's planted situations: the area outage, the household without supply,
the measured and forecast overload are each raised once, with the policy each kind has; a second pass
raises nothing new."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.flows import load_forecasting, proactive
from api.metering.models import Meter, Reading, TransformerArea
from api.monitoring.models import Alert
from api.tickets.models import Ticket

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def area_of(session, role: str) -> TransformerArea:
    customer = session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))
    return session.get(TransformerArea, customer.transformer_area_id)


def test_the_pass_raises_each_planted_situation_once_by_its_policy(session, settings):
    now = session.scalar(select(func.max(Reading.ts))) + timedelta(minutes=20)
    load_forecasting.overload_warnings(session=session, now=now)  # the nightly forecasts, made now
    raised = proactive.run(session=session, settings=settings, now=now)
    alerts = {(a.kind, a.subject): a for a in session.scalars(select(Alert))}
    assert raised == len(alerts)

    outage = alerts[("area_outage", area_of(session, "area_outage").code)]
    ticket = session.scalar(select(Ticket).where(Ticket.number == outage.ticket_number))
    assert ticket.status == "已派单" and ticket.channel == "monitoring" and outage.customers_notified > 0

    household = session.scalar(select(Customer).where(Customer.account_no == SHOWCASE["household_outage"][0]))
    meter_no = session.scalar(select(Meter.meter_no).where(Meter.customer_id == household.id))
    held = alerts[("household_outage", meter_no)]
    ticket = session.scalar(select(Ticket).where(Ticket.number == held.ticket_number))
    assert ticket.status == "挂起" and ticket.customer_id == household.id  # a supervisor decides

    overloaded = area_of(session, "overloaded_area").code
    forecast = alerts[("overload_forecast", overloaded)]
    assert forecast.ticket_number is None and "负荷预测页" in forecast.summary  # alert only, the page dispatches

    assert proactive.run(session=session, settings=settings, now=now + timedelta(minutes=1)) == 0
    assert session.scalar(select(func.count()).select_from(Alert)) == len(alerts)
