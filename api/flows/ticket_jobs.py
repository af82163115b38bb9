"""Background work on tickets: SLA warnings and breaches, re-dispatch, the waiting backlog.

`run_ticket_jobs` runs in the API process (embedded mode) or in a worker process; every pass is
idempotent (warnings and breaches are recorded once per ticket), so several may run.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.orm import Session

from api.core.time import utcnow
from api.core.vocabulary import BEFORE_ARRIVAL, ON_SITE_TYPES
from api.dispatch import service as dispatch
from api.flows.dispatching import dispatch_backlog, expire_offers
from api.notify import messages
from api.notify import service as notify
from api.tickets import service as tickets
from api.tickets import sla

log = logging.getLogger(__name__)


@dataclass
class SlaPass:
    """What one pass did."""

    warned: int = 0
    breached: int = 0


def watch_deadlines(*, session: Session, now: datetime, supervisors: list[str]) -> SlaPass:
    """Warn the crew and supervisors before a breach; escalate and record it at the breach."""
    result = SlaPass()
    for ticket in tickets.list_unbreached(session=session):
        if ticket.type in ON_SITE_TYPES and ticket.status not in BEFORE_ARRIVAL:
            continue
        policy = sla.policy_for(ticket.type, ticket.area_class)
        left = sla.remaining(policy, ticket.arrive_by, now)
        crew = dispatch.get_crew(session=session, crew_id=ticket.crew_id) if ticket.crew_id else None
        if left < 0:
            ticket.sla_breached_at = now
            tickets.transition(session=session, ticket=ticket, action="escalate", actor="system:sla", now=now,
                               note=f"超过承诺时限（{policy.what}）")
            for mobile in supervisors:
                notify.enqueue(session=session, key=f"ticket:{ticket.id}:breach:{mobile}", channel="sms",
                               recipient=mobile, audience="supervisor", body=messages.sla_breach(ticket),
                               ticket_id=ticket.id, now=now)
            result.breached += 1
        elif ticket.sla_warned_at is None and left <= policy.minutes * (1 - policy.warn_share):
            body = messages.sla_warning(ticket, max(1, round(left)))
            for mobile in [crew.leader_mobile] if crew else []:
                notify.enqueue(session=session, key=f"ticket:{ticket.id}:warn:crew", channel="sms", recipient=mobile,
                               audience="crew", body=body, ticket_id=ticket.id, now=now)
            for mobile in supervisors:
                notify.enqueue(session=session, key=f"ticket:{ticket.id}:warn:{mobile}", channel="sms",
                               recipient=mobile, audience="supervisor", body=body, ticket_id=ticket.id, now=now)
            tickets.record_sla_warning(ticket=ticket, now=now, minutes_left=max(1, round(left)))
            result.warned += 1
    session.commit()
    return result


def run_pass(*, sessionmaker, now: datetime, supervisors: list[str], offer_timeout: timedelta) -> dict:
    """One pass of every ticket job."""
    with sessionmaker() as session:
        moved = expire_offers(session=session, now=now, timeout=offer_timeout)
        backlog = dispatch_backlog(session=session, now=now)
        deadlines = watch_deadlines(session=session, now=now, supervisors=supervisors)
    return {"redispatched": moved, "batch_assigned": backlog, "warned": deadlines.warned,
            "breached": deadlines.breached}


async def run_ticket_jobs(*, sessionmaker, supervisors: list[str], offer_timeout: timedelta,
                          every_seconds: float = 30.0, clock: Callable[[], datetime] = utcnow) -> None:
    """Repeat run_pass forever; a failing pass is logged and the next one tries again."""
    while True:
        try:
            await asyncio.to_thread(run_pass, sessionmaker=sessionmaker, now=clock(), supervisors=supervisors,
                                    offer_timeout=offer_timeout)
        except Exception:
            log.exception("ticket jobs pass failed")
        await asyncio.sleep(every_seconds)
