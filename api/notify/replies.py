"""Crews answer by SMS: `1 GD…` accept, `2` arrived, `3 说明` done, `0 原因` reject.

Parsing is strict on the command digit and lenient on everything else (full-width digits,
spaces or punctuation between parts, lower-case gd, the ticket number anywhere).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from api.core.ids import normalize_text

COMMANDS = {"1": "accept", "2": "arrive", "3": "resolve", "0": "reject"}
_TICKET = re.compile(r"GD\d{8}-\d{4}", re.IGNORECASE)
_COMMAND = re.compile(r"^\s*([0-3])(?=$|[\s,，.。:：;；、#-]|GD|gd)")
_SEPARATORS = " \t,，.。:：;；、#-"

FORMAT_HELP = ("未能识别您的回复。请按以下格式回复：1 工单号 接单；2 工单号 到达现场；"
               "3 工单号 处理完成（可附处理说明）；0 工单号 原因 退单。只有一张工单时可省略工单号。")


@dataclass(frozen=True)
class CrewReply:
    """What a crew's SMS asks for."""

    action: str  # accept | arrive | resolve | reject
    ticket_no: str | None
    note: str


def parse_crew_reply(text: str) -> CrewReply | None:
    """The command in a crew's SMS, or None when it does not follow the format."""
    clean = normalize_text(text or "")
    match = _COMMAND.match(clean)
    if not match:
        return None
    rest = clean[match.end():]
    ticket = _TICKET.search(rest)
    if ticket:
        rest = rest[:ticket.start()] + " " + rest[ticket.end():]
    note = re.sub(r"\s+", " ", rest).strip(_SEPARATORS + " ")
    return CrewReply(action=COMMANDS[match.group(1)], ticket_no=ticket.group(0).upper() if ticket else None,
                     note=note)


def parse_satisfaction(text: str) -> int | None:
    """A customer's 1–5 answer to the satisfaction survey ("5", "５分", "满意 4")."""
    digits = re.findall(r"[1-5]", normalize_text(text or ""))
    return int(digits[0]) if len(digits) == 1 else None
