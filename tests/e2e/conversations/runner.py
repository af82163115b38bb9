"""Plays the conversation set through the real stack and judges each conversation by its outcome.

A conversation is what one customer types, turn by turn. A turn with `if` is typed only when the
bot's last reply asks for that (ASKS), the way a customer answers what is asked and nothing more;
so a bot that understands more from the first message needs fewer turns. The outcome is judged
from the API's database (the tickets of the conversation, its handoff, the account a verification
linked to it) and from the replies (answer topics, TOPICS, checked against the API's own figures),
never from exact wording. A conversation is completed when:

- its outcome is right: exactly the expected tickets (type, diagnosis from the meter data, number
  told to the customer), every expected answer given and no forbidden one, the expected handoff
  (or none), verified or not as expected;
- it has no loop: no bot question asked more than MAX_REPEATS times;
- it lost no turn: every customer turn got a real reply (no HTTP error, no silence, no "busy").

Used by tests/e2e/test_conversations.py (the goal) and bench/conversations.py (the figures).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text

from api.core.vocabulary import TICKET_TYPES
from api.demo.showcase import fixed_accounts

HERE = Path(__file__).resolve().parent
KB_DOCS = HERE.parents[2] / "knowledge_base" / "docs"
AREAS = ("faults", "verification", "billing", "outages", "tickets", "services", "knowledge",
         "charging", "chitchat")
GOAL = 0.95  # the goal: share of conversations completed
# Every simulated customer writes from 127.0.0.1, and the gateway limits messages per address
# (200 a minute): the set keeps under it, as customers behind many addresses would.
TURNS_PER_MINUTE = 150
MAX_REPEATS = 3  # a bot question asked more often than this is a loop
MIN_CONVERSATIONS = 60
HANDOFF_REASONS = ("request_human", "repeated_fallback", "angry", "complaint")
FAILURE_KINDS = {
    "lost_turn": "a customer turn got no real reply (HTTP error, silence, the gateway's fallback, 'busy')",
    "loop": f"a bot question was asked more than {MAX_REPEATS} times",
    "ticket": "not exactly the expected tickets (type, diagnosis, account, details, number told)",
    "answer": "an expected answer was not given",
    "forbidden": "an answer that must not be given was given",
    "handoff": "handed to a person when it should not be, or not (or for another reason)",
    "verification": "verified when it should not be, or not",
}

# What the bot's last reply asks for → a customer answers it (see the module docstring).
ASKS: dict[str, re.Pattern] = {name: re.compile(pattern) for name, pattern in {
    "contact": r"(告诉我|输入|提供|留下|留一个|请核对).{0,12}(户号|手机号)|没有查到户号"
               r"|(户号|手机号)是1?\d位",
    "account": r"(告诉我|输入|提供).{0,12}户号|户号是10位|没有查到户号",
    "address_confirm": r"是这个地址|地址附近吗|这个地址.{0,6}吗|是登记的地址",
    "address": r"(告诉我|输入|提供|说).{0,12}(地址|位置)|详细地址|在哪里|什么位置",
    "description": r"描述|什么情况|现场情况|具体.{0,8}(情况|问题)",
    "confirm": r"核对|确认无误|提交吗|是否提交|确认提交",
    "last4": r"后四位|尾号",
    "phone": r"(留|告诉我|输入|提供).{0,12}手机号|手机号是11位",
    "service": r"哪项业务|哪种业务|办理什么|办理哪",
    "time": r"什么时间|方便的时间|时间段|几点方便",
    "continue": r"还要继续|继续吗|先不|不报了|不登记",
    "register": r"在线登记|帮您登记|登记申请",
    "message": r"留言|留个言|回电|回访",
    "district_or_account": r"区县|户号",
    "verify": r"核验",
    "clarify": r"您是想|下面哪一项|不太确定您的意思",
}.items()}

PLACEHOLDER = re.compile(r"\{(account|mobile|last4|ticket|ticket_lower)(?::([a-z0-9_]+))?\}")
SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]{2,48}$")
BUSY = re.compile(r"暂时有点忙|系统暂时繁忙|系统繁忙")
QUESTION = re.compile(r"[？?]|请告诉我|请输入|请描述|请留|请问|请再|请从")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
TICKET_NO = re.compile(r"GD\d{8}-\d{4}", re.IGNORECASE)


class SetError(ValueError):
    """The conversation set is malformed (the message says which file and conversation)."""


# ---------------------------------------------------------------------------------- the set
@dataclass(frozen=True)
class Turn:
    say: str  # what the customer types; for a message left on the page's form, its text
    when: str | None = None  # an ASKS name: typed only when the bot's last reply asks that
    phone: str | None = None  # set: the page's leave-a-message form (phone and text), not a chat turn


@dataclass(frozen=True)
class Expect:
    tickets: tuple[dict, ...] = ()
    answers: tuple[tuple[str, ...], ...] = ()  # each: any one of these topics
    not_answers: tuple[str, ...] = ()
    handoff: Any = False  # False, True (any reason), "any" (not judged), a reason or a list of them
    verified: Any = False  # True, False or "any"


@dataclass(frozen=True)
class Conversation:
    id: str
    area: str
    why: str
    customer: str | None
    turns: tuple[Turn, ...]
    expect: Expect
    setup: dict = field(default_factory=dict)


def load(directory: Path = HERE) -> list[Conversation]:
    """Every conversation of every area file, checked for form (SetError says what is wrong)."""
    conversations: list[Conversation] = []
    for area in AREAS:
        path = directory / f"{area}.yml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("area") != area:
            raise SetError(f"{path.name}: 'area: {area}' expected at the top")
        for raw in data.get("conversations") or []:
            conversations.append(_conversation(raw, area, path.name))
    ids = [c.id for c in conversations]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SetError(f"conversation ids used twice: {twice}")
    return conversations


def _conversation(raw: dict, area: str, where: str) -> Conversation:
    cid = str(raw.get("id", ""))
    if not SLUG.match(cid):
        raise SetError(f"{where}: id {cid!r} is not a short lowercase slug")
    where = f"{where}:{cid}"
    unknown = set(raw) - {"id", "why", "customer", "setup", "turns", "expect"}
    if unknown:
        raise SetError(f"{where}: unknown keys {sorted(unknown)}")
    roles = fixed_accounts()
    customer = raw.get("customer")
    if customer is not None and customer not in roles:
        raise SetError(f"{where}: customer {customer!r} is not a showcase role")
    setup = raw.get("setup") or {}
    if set(setup) - {"ticket"} or ("ticket" in setup and setup["ticket"].get("customer") not in roles):
        raise SetError(f"{where}: setup takes ticket: {{customer: <role>, description, kind}}")
    turns = []
    for item in raw.get("turns") or []:
        if isinstance(item, str):
            turn = Turn(say=item)
        elif "leave_message" in item:
            form = item["leave_message"] or {}
            turn = Turn(say=str(form.get("text", "")), when=item.get("if"), phone=str(form.get("phone", "")))
        else:
            turn = Turn(say=str(item.get("say", "")), when=item.get("if"))
        if not turn.say.strip() or (turn.when is not None and turn.when not in ASKS) or turn.phone == "":
            raise SetError(f"{where}: bad turn {item!r} (say: text, or leave_message: {{phone, text}}; "
                           f"if: one of {sorted(ASKS)})")
        for name, role in PLACEHOLDER.findall(turn.say + (turn.phone or "")):
            if role and role not in roles:
                raise SetError(f"{where}: unknown role in {turn.say!r}")
            if not role and name in ("account", "mobile", "last4") and customer is None:
                raise SetError(f"{where}: {{{name}}} needs a customer")
            if name.startswith("ticket") and "ticket" not in setup:
                raise SetError(f"{where}: {{{name}}} needs setup.ticket")
        turns.append(turn)
    if not turns:
        raise SetError(f"{where}: no turns")
    return Conversation(id=cid, area=area, why=str(raw.get("why", "")).strip(), customer=customer,
                        turns=tuple(turns), expect=_expect(raw.get("expect") or {}, where), setup=setup)


def _expect(raw: dict, where: str) -> Expect:
    unknown = set(raw) - {"tickets", "answers", "not_answers", "handoff", "verified"}
    if unknown:
        raise SetError(f"{where}: unknown expect keys {sorted(unknown)}")
    tickets = tuple(raw.get("tickets") or ())
    for ticket in tickets:
        if ticket.get("type") not in TICKET_TYPES or set(ticket) - TICKET_KEYS:
            raise SetError(f"{where}: ticket {ticket!r}: type one of {TICKET_TYPES}, "
                           f"keys {sorted(TICKET_KEYS)}")
    answers = tuple(tuple(a) if isinstance(a, list) else (a,) for a in raw.get("answers") or ())
    not_answers = tuple(raw.get("not_answers") or ())
    for topic in [t for group in answers for t in group] + list(not_answers):
        _check_topic(topic, where)
    handoff = raw.get("handoff", False)
    reasons = handoff if isinstance(handoff, list) else [handoff]
    if not all(r in (True, False, "any") or r in HANDOFF_REASONS for r in reasons):
        raise SetError(f"{where}: handoff {handoff!r}: true, false, any or one of {HANDOFF_REASONS}")
    verified = raw.get("verified", False)
    if verified not in (True, False, "any"):
        raise SetError(f"{where}: verified is true, false or any")
    return Expect(tickets=tickets, answers=answers, not_answers=not_answers, handoff=handoff,
                  verified=verified)


TICKET_KEYS = {"type", "diagnosis", "account", "service_type", "description_contains", "address_contains"}


def _check_topic(topic: str, where: str) -> None:
    name, _, param = str(topic).partition(":")
    if name not in TOPICS:
        raise SetError(f"{where}: unknown answer topic {topic!r} (one of {sorted(TOPICS)})")
    if name == "kb":
        for article in param.split("|"):
            if not list(KB_DOCS.glob(f"*/{article}.md")):
                raise SetError(f"{where}: no knowledge-base article {article!r}")
    if name in ("balance", "bill", "usage", "pay") and param and param not in fixed_accounts():
        raise SetError(f"{where}: {topic!r}: unknown role")


def fill(text: str, conversation: Conversation, ticket: str | None = None) -> str:
    """The turn's text with {account}, {mobile}, {last4}, {account:role}, {ticket}, … filled in."""
    accounts = fixed_accounts()

    def value(match: re.Match) -> str:
        name, role = match.group(1), match.group(2) or conversation.customer
        if name == "ticket":
            return ticket or ""
        if name == "ticket_lower":
            return (ticket or "").lower()
        account, mobile = accounts[role]
        return {"account": account, "mobile": mobile, "last4": mobile[-4:]}[name]

    return PLACEHOLDER.sub(value, text)


# ---------------------------------------------------------------------------------- a run
@dataclass
class TurnRecord:
    said: str
    replies: list[str]
    buttons: list[str]
    lost: str | None = None  # why this turn got no real reply
    seconds: float = 0.0


@dataclass
class Result:
    conversation: Conversation
    sender: str
    turns: list[TurnRecord]
    failures: list[tuple[str, str]]  # (kind, reason)
    seconds: float

    @property
    def completed(self) -> bool:
        return not self.failures

    def summary(self) -> dict:
        return {"id": self.conversation.id, "area": self.conversation.area, "why": self.conversation.why,
                "kinds": sorted({kind for kind, _ in self.failures}),
                "reasons": [f"{kind}: {reason}" for kind, reason in self.failures]}

    def transcript(self) -> list[dict]:
        return [{"customer": t.said, "bot": t.replies, **({"buttons": t.buttons} if t.buttons else {}),
                 **({"lost": t.lost} if t.lost else {})} for t in self.turns]


class Facts:
    """The API's own figures the answers are judged against (cached per run)."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self._cache: dict[tuple, Any] = {}

    async def get(self, path: str, **params) -> Any:
        key = (path, tuple(sorted(params.items())))
        if key not in self._cache:
            response = await self.http.get(path, params=params)
            self._cache[key] = response.json() if response.status_code == 200 else None
        return self._cache[key]


class Run:
    """One stack, one database: plays conversations and reads their outcome."""

    def __init__(self, *, api_url: str, token: str, database_url: str, concurrency: int = 3):
        self.api_url, self.token, self.concurrency = api_url, token, concurrency
        self.engine = create_engine(database_url)
        self.created: list[str] = []  # every ticket the set made (cancelled at the end)
        self._next_turn = 0.0  # monotonic time the next customer turn may be sent (TURNS_PER_MINUTE)

    async def play_all(self, conversations: list[Conversation]) -> list[Result]:
        """Every conversation, `concurrency` at a time; the set's tickets are cancelled afterwards."""
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(base_url=self.api_url, timeout=120) as chat, \
                httpx.AsyncClient(base_url=self.api_url, timeout=60,
                                  headers={"Authorization": f"Bearer {self.token}"}) as api:
            facts = Facts(api)

            async def one(conversation: Conversation) -> Result:
                async with gate:
                    return await self.play(conversation, chat, api, facts)

            try:
                return list(await asyncio.gather(*(one(c) for c in conversations)))
            finally:
                await self.cancel_tickets(api)
                self.engine.dispose()

    async def play(self, conversation: Conversation, chat: httpx.AsyncClient, api: httpx.AsyncClient,
                   facts: Facts) -> Result:
        started = time.perf_counter()
        sender, secret = await self.open_chat(chat, conversation)
        ticket = await self.setup_ticket(conversation, api)
        records: list[TurnRecord] = []
        last = ""
        for turn in conversation.turns:
            if turn.when and not ASKS[turn.when].search(last):
                continue
            said = fill(turn.say, conversation, ticket)
            if turn.phone is None:
                record = await self.say(chat, sender, secret, said, len(records))
            else:
                record = await self.leave_message(chat, sender, secret, fill(turn.phone, conversation), said)
            records.append(record)
            last = "\n".join(record.replies + record.buttons)
        failures = self.turn_failures(records)
        failures += await Judge(self, conversation, sender, records, facts, ticket).outcome()
        return Result(conversation, sender, records, failures, time.perf_counter() - started)

    async def open_chat(self, chat: httpx.AsyncClient, conversation: Conversation) -> tuple[str, dict]:
        """A new web chat as the page opens one: its id and the header with its secret.

        Where the gateway issues no secrets a chat is any new id; where it refuses more chats from
        this address (every simulated customer is 127.0.0.1) the chat comes in as a channel adapter
        would, with the service token: the turns go through the same gateway either way.
        """
        own_id = f"cv-{conversation.id}-{uuid.uuid4().hex[:6]}"
        response = await chat.post("/api/chat/conversations")
        if response.status_code in (404, 405):
            return own_id, {}
        if response.status_code == 429:
            return own_id, {"Authorization": f"Bearer {self.token}"}
        response.raise_for_status()
        issued = response.json()
        return issued["conversation_id"], {"X-Chat-Secret": issued["secret"]}

    async def pace(self) -> None:
        """Wait for this turn's place under TURNS_PER_MINUTE."""
        now = time.monotonic()
        slot = max(now, self._next_turn)
        self._next_turn = slot + 60 / TURNS_PER_MINUTE
        await asyncio.sleep(slot - now)

    async def setup_ticket(self, conversation: Conversation, api: httpx.AsyncClient) -> str | None:
        """A ticket the customer reported earlier (on the hotline), for progress questions."""
        spec = conversation.setup.get("ticket")
        if not spec:
            return None
        account, mobile = fixed_accounts()[spec["customer"]]
        response = await api.post("/api/tickets/faults", json={
            "kind": spec.get("kind", "outage"), "account_no": account, "phone": mobile, "channel": "hotline",
            "description": spec.get("description", "家里没电了")})
        response.raise_for_status()
        number = response.json()["number"]
        self.created.append(number)
        return number

    async def say(self, chat: httpx.AsyncClient, sender: str, secret: dict, said: str,
                  index: int) -> TurnRecord:
        """One customer turn; the replies as the chat page gets them (stored ones included)."""
        client_msg_id = f"t{index}-{uuid.uuid4().hex[:12]}"
        await self.pace()
        started = time.perf_counter()
        body = {"sender_id": sender, "text": said, "channel": "web", "client_msg_id": client_msg_id}
        try:
            response = await chat.post("/api/chat/messages", headers=secret, json=body)
            if response.status_code == 429:  # other tests' customers share the address: wait once
                await asyncio.sleep(min(int(response.headers.get("Retry-After") or 5), 60))
                response = await chat.post("/api/chat/messages", headers=secret, json=body)
        except httpx.HTTPError as exc:
            return TurnRecord(said, [], [], lost=f"no answer from the API ({type(exc).__name__})")
        if response.status_code != 200:
            return TurnRecord(said, [], [], lost=f"HTTP {response.status_code}: {response.text[:200]}")
        answer = response.json()
        messages = answer.get("messages") or []
        stored = await self.stored_replies(sender, client_msg_id)
        replies = [m.get("text") for m in messages if m.get("text")]
        replies += [t for t in stored if t not in replies]  # delivered later (a slow turn)
        buttons = [b["title"] for m in messages for b in m.get("buttons") or []]
        record = TurnRecord(said, replies, buttons, seconds=time.perf_counter() - started)
        if answer.get("handled_by") == "fallback":
            record.lost = "the gateway answered for the bot (fallback)"
        elif not replies and not any(m.get("image") for m in messages):
            record.lost = f"no reply (handled_by {answer.get('handled_by')})"
        elif any(BUSY.search(r) for r in replies):
            record.lost = "told the system is busy"
        return record

    async def leave_message(self, chat: httpx.AsyncClient, sender: str, secret: dict, phone: str,
                            said: str) -> TurnRecord:
        """The page's leave-a-message form (offered while waiting for a person): phone and text."""
        await self.pace()
        started = time.perf_counter()
        response = await chat.post(f"/api/chat/conversations/{sender}/callback", headers=secret,
                                   json={"phone": phone, "text": said})
        record = TurnRecord(f"（留言表单）{phone} {said}", [], [], seconds=time.perf_counter() - started)
        if response.status_code != 201:
            record.lost = f"the message could not be left: HTTP {response.status_code} {response.text[:120]}"
        else:
            record.replies = [response.json()["message"]["text"]]
        return record

    async def stored_replies(self, sender: str, client_msg_id: str, wait_seconds: float = 30) -> list[str]:
        """The replies stored for this turn, waiting while it is still being answered."""
        deadline = time.monotonic() + wait_seconds
        while True:
            with self.engine.connect() as db:
                turn = db.execute(text("SELECT id, delivery FROM messages WHERE conversation_id = :c "
                                       "AND client_msg_id = :m"), {"c": sender, "m": client_msg_id}).first()
                if turn is None:
                    return []
                if turn.delivery != "pending" or time.monotonic() > deadline:
                    return [row.text for row in db.execute(text(
                        "SELECT text FROM messages WHERE reply_to_id = :id ORDER BY id"), {"id": turn.id})
                        if row.text]
            await asyncio.sleep(0.2)

    @staticmethod
    def turn_failures(records: list[TurnRecord]) -> list[tuple[str, str]]:
        failures = [("lost_turn", f"turn {i + 1} «{r.said}»: {r.lost}")
                    for i, r in enumerate(records) if r.lost]
        asked: dict[str, int] = {}
        for record in records:
            for reply in record.replies:
                if QUESTION.search(reply):
                    key = re.sub(r"\s+", "", reply)
                    asked[key] = asked.get(key, 0) + 1
        failures += [("loop", f"asked {n} times: «{question[:60]}»")
                     for question, n in asked.items() if n > MAX_REPEATS]
        return failures

    def tickets_of(self, sender: str) -> list[dict]:
        with self.engine.connect() as db:
            rows = db.execute(text(
                "SELECT t.number, t.type, t.diagnosis_code, t.account_no, t.details, t.address_text, "
                "t.description, p.number AS parent FROM tickets t LEFT JOIN tickets p ON p.id = t.parent_id "
                "WHERE t.conversation_id = :c ORDER BY t.id"), {"c": sender}).mappings().all()
        tickets = []
        for row in rows:
            ticket = dict(row)
            if isinstance(ticket["details"], str):
                ticket["details"] = json.loads(ticket["details"])
            tickets.append(ticket)
        self.created += [t["number"] for t in tickets]
        return tickets

    def conversation_row(self, sender: str) -> dict:
        with self.engine.connect() as db:
            row = db.execute(text("SELECT handoff_requested, handoff_reason, account_no FROM conversations "
                                  "WHERE id = :c"), {"c": sender}).mappings().first()
        return dict(row) if row else {"handoff_requested": False, "handoff_reason": None, "account_no": None}

    async def cancel_tickets(self, api: httpx.AsyncClient) -> None:
        """Leave the stack as the other e2e tests expect it: no open ticket of ours (an area ticket
        left open would take their area reports)."""
        for number in dict.fromkeys(self.created):
            await api.post(f"/api/tickets/{number}/transitions",
                           json={"action": "cancel", "note": "对话测试集结束，撤销测试工单"})


# ---------------------------------------------------------------------------------- judging
def amounts(reply: str) -> list[Decimal]:
    return [Decimal(n) for n in NUMBER.findall(reply.replace(",", ""))]


def near(value: Decimal, target: Any, tolerance: Decimal) -> bool:
    try:
        return abs(value - Decimal(str(target))) <= tolerance
    except (InvalidOperation, TypeError):
        return False


def told(reply: str, figures: list[Any]) -> bool:
    """The reply states one of the amounts in 元 (to the fen)."""
    return any(near(a, f, Decimal("0.005")) for a in amounts(reply) for f in figures)


NO_BILL = r"(还没有|暂无|没有|尚未|未).{0,12}(账单|出账)|账单.{0,8}(还没有|未|尚未)生成"


def says(replies: list[str], *patterns: str) -> bool:
    """Some single reply matches every pattern."""
    return any(all(re.search(p, r) for p in patterns) for r in replies)


TopicCheck = Callable[["Judge", str], Awaitable[str | None]]  # None: given; else why not
TOPICS: dict[str, TopicCheck] = {}


def topic(name: str):
    def register(check: TopicCheck) -> TopicCheck:
        TOPICS[name] = check
        return check
    return register


class Judge:
    """The outcome of one played conversation against its expectations."""

    def __init__(self, run: Run, conversation: Conversation, sender: str, records: list[TurnRecord],
                 facts: Facts, ticket: str | None):
        self.run, self.conversation, self.sender, self.records = run, conversation, sender, records
        self.facts, self.setup_ticket = facts, ticket
        self.replies = [r for record in records for r in record.replies]
        self.tickets: list[dict] = []

    def account(self, role: str = "") -> str | None:
        role = role or self.conversation.customer
        return fixed_accounts()[role][0] if role else None

    async def outcome(self) -> list[tuple[str, str]]:
        expect = self.conversation.expect
        self.tickets = self.run.tickets_of(self.sender)
        failures = [("ticket", reason) for reason in self.ticket_failures()]
        for group in expect.answers:
            whys = [await self.topic(t) for t in group]
            if all(whys):
                failures.append(("answer", " / ".join(w for w in whys if w)))
        for forbidden in expect.not_answers:
            if await self.topic(forbidden) is None:
                failures.append(("forbidden", f"{forbidden} was given"))
        row = self.run.conversation_row(self.sender)
        failures += [("handoff", reason) for reason in self.handoff_failures(row)]
        failures += [("verification", reason) for reason in self.verification_failures(row)]
        return failures

    async def topic(self, spec: str) -> str | None:
        name, _, param = spec.partition(":")
        return await TOPICS[name](self, param)

    # ---- tickets
    def ticket_failures(self) -> list[str]:
        expected = list(self.conversation.expect.tickets)
        got = list(self.tickets)
        described = ", ".join(f"{t['number']} {t['type']}/{t['diagnosis_code']}" for t in got) or "none"
        if len(got) != len(expected):
            want = ", ".join(f"{t['type']}/{t.get('diagnosis', '?')}" for t in expected) or "none"
            return [f"expected {len(expected)} ticket(s) [{want}], got {len(got)} [{described}]"]
        failures = []
        for spec in expected:
            match = next((t for t in got if not self.ticket_mismatch(spec, t)), None)
            if match is None:
                failures.append(f"no ticket matches {spec} (got {described}: "
                                f"{'; '.join(self.ticket_mismatch(spec, t) for t in got)})")
                continue
            got.remove(match)
            shown = [n for n in (match["number"], match["parent"]) if n]
            if not any(n in r for n in shown for r in self.replies):
                failures.append(f"ticket {match['number']} was created but its number never reached "
                                "the customer")
            elif match["parent"] and any(all(n in r for n in shown) for r in self.replies):
                failures.append(f"two numbers ({match['parent']} and {match['number']}) told for one report")
        return failures

    def ticket_mismatch(self, spec: dict, ticket: dict) -> str:
        """'' when the ticket is the one expected, else what differs."""
        wrong = []
        if ticket["type"] != spec["type"]:
            wrong.append(f"type {ticket['type']}")
        if "diagnosis" in spec and ticket["diagnosis_code"] != spec["diagnosis"]:
            wrong.append(f"diagnosis {ticket['diagnosis_code']}")
        account = spec.get("account", self.conversation.customer)
        if account != "any":
            want = self.account(account) if account else None
            if ticket["account_no"] != want:
                wrong.append(f"account {ticket['account_no']} (expected {want})")
        details = ticket["details"] or {}
        if "service_type" in spec and details.get("service_type") != spec["service_type"]:
            wrong.append(f"service_type {details.get('service_type')}")
        if spec.get("description_contains", "") not in ticket["description"]:
            wrong.append(f"description «{ticket['description'][:40]}»")
        if spec.get("address_contains", "") not in ticket["address_text"]:
            wrong.append(f"address «{ticket['address_text'][:40]}»")
        return ", ".join(wrong)

    # ---- handoff and verification
    def handoff_failures(self, row: dict) -> list[str]:
        expected = self.conversation.expect.handoff
        if expected == "any":
            return []
        requested, reason = bool(row["handoff_requested"]), row["handoff_reason"]
        allowed = expected if isinstance(expected, list) else [expected]
        if not requested:
            return [] if False in allowed else [f"not handed to a person (expected {expected})"]
        if True in allowed or reason in allowed:
            return []
        if allowed == [False]:
            return [f"handed to a person ({reason}) though the bot should have finished it"]
        return [f"handed over as {reason}, expected {expected}"]

    def verification_failures(self, row: dict) -> list[str]:
        expected = self.conversation.expect.verified
        linked = row["account_no"]
        if expected == "any":
            return []
        if expected and linked != self.account():
            return [f"not verified (conversation linked to {linked}, expected {self.account()})"]
        if not expected and linked:
            return [f"verified as {linked} though it should not be"]
        return []


# ---- answer topics: each returns None when the replies carry it, else why not
@topic("kb")
async def _kb(judge: Judge, ids: str) -> str | None:
    titles = []
    for article in ids.split("|"):
        data = await judge.facts.get(f"/api/kb/articles/{article}")
        title = (data or {}).get("title") or article
        if any(title in r for r in judge.replies):
            return None
        titles.append(title)
    return f"no answer from 《{'》 or 《'.join(titles)}》"


@topic("balance")
async def _balance(judge: Judge, role: str) -> str | None:
    account = judge.account(role)
    data = await judge.facts.get(f"/api/customers/{account}/balance")
    if data is None:
        return f"no balance for {account} in the API"
    if data["in_arrears"]:
        owed = Decimal(str(data["arrears_yuan"]))
        ok = any("欠" in r and told(r, [owed]) for r in judge.replies)
        return None if ok else f"the arrears of {account} ({owed} 元) were not told"
    balance = Decimal(str(data["balance_yuan"]))
    ok = any("余额" in r and told(r, [balance]) for r in judge.replies)
    return None if ok else f"the balance of {account} ({balance} 元) was not told"


@topic("bill")
async def _bill(judge: Judge, role: str) -> str | None:
    account = judge.account(role)
    data = await judge.facts.get(f"/api/customers/{account}/bills", months=12)
    bills = (data or {}).get("bills") or []
    if not bills:
        ok = says(judge.replies, NO_BILL)
        return None if ok else f"{account} has no bill yet and was not told so"
    figures = [Decimal(str(b.get("amount_yuan"))) for b in bills]
    ok = any(re.search("电费|账单", r) and told(r, figures) for r in judge.replies)
    return None if ok else f"no bill amount of {account} was told"


@topic("usage")
async def _usage(judge: Judge, role: str) -> str | None:
    account = judge.account(role)
    data = await judge.facts.get(f"/api/customers/{account}/usage", days=30)
    if not data:
        return f"no usage for {account} in the API"
    total = Decimal(str(data["total_kwh"]))
    told = [r for r in judge.replies if re.search("千瓦时|度", r)
            and any(near(a, total, max(Decimal("0.1"), total / 100)) for a in amounts(r))]
    if not told:
        return f"the usage of {account} ({total:.1f} kWh in 30 days) was not told"
    average = Decimal(str(data.get("average_daily_kwh") or 0))
    for reply in told:
        for said in re.findall(r"日均(\d+(?:\.\d+)?)", reply):
            if not near(Decimal(said), average, max(Decimal("0.1"), average / 20)):
                return f"told 日均{said} kWh but the meter data says {average} kWh a day"
    return None


@topic("pay")
async def _pay(judge: Judge, role: str) -> str | None:
    if not says(judge.replies, r"网上国网|微信|支付宝|营业厅", r"交费|缴费|交电费"):
        return "no payment channels"
    account = judge.account(role)
    data = await judge.facts.get(f"/api/customers/{account}/balance") if account else None
    if data and data["in_arrears"]:
        owed = Decimal(str(data["arrears_yuan"]))
        if not any(told(r, [owed]) for r in judge.replies):
            return f"the amount owed ({owed} 元) was not told"
    return None


@topic("forecast")
async def _forecast(judge: Judge, _: str) -> str | None:
    return None if says(judge.replies, r"预测|预计", r"元") else "no bill forecast in 元"


@topic("advice")
async def _advice(judge: Judge, _: str) -> str | None:
    ok = says(judge.replies, r"建议", r"省电|节电|电费", r"\d")
    return None if ok else "no advice with the customer's figures"


@topic("outage_notice")
async def _outage_notice(judge: Judge, where: str) -> str | None:
    """where: a district, or 'account' for the customer's own area."""
    params = {"account_no": judge.account()} if where == "account" else {"district": where}
    data = await judge.facts.get("/api/outages", **params)
    if data is None:
        return f"no outage data for {where} in the API"
    planned = data.get("planned") or []
    if planned:
        first = planned[0]
        ok = any(first["notice_no"] in r for r in judge.replies) or says(
            judge.replies, re.escape(first.get("transformer_area_name") or first["scope"][:6]), r"计划|检修")
        return None if ok else f"the planned outage {first['notice_no']} ({first['scope']}) was not told"
    if data.get("area_outage"):
        ok = says(judge.replies, r"停电", r"抢修|处理|修复|检修")
        return None if ok else "the area outage under repair was not told"
    ok = says(judge.replies, r"(没有|无).{0,8}停电")
    return None if ok else f"not told that {where} has no outage"


STATUS_TOLD = r"当前状态|状态[:：]|已受理|已派|已接单|已到达|已处理|正在安排|赶往"
NOT_TOLD = re.compile(r"没有查到|没查到|不存在|核验")


@topic("ticket_status")
async def _ticket_status(judge: Judge, which: str) -> str | None:
    """which: 'setup' (the ticket reported earlier), 'own' (made in this chat) or 'none' (no ticket)."""
    if which == "none":
        return None if says(judge.replies, r"(没有|无).{0,10}(工单|报修)") else "not told there is no ticket"
    if which == "setup":
        numbers, after = [judge.setup_ticket], 0
    else:
        own = [n for t in judge.tickets for n in (t["number"], t["parent"]) if n]
        if not own:
            return "no ticket was made in the chat to ask about"
        first = next((i for i, rec in enumerate(judge.records)
                      if any(n in r for n in own for r in rec.replies)), len(judge.records))
        numbers, after = own, first + 1
    for record in judge.records[after:]:
        for reply in record.replies:
            if any(n.upper() in reply.upper() for n in numbers) and re.search(STATUS_TOLD, reply) \
                    and not NOT_TOLD.search(reply):
                return None
    return f"the progress of {'/'.join(numbers)} was not told"


@topic("apply_info")
async def _apply_info(judge: Judge, service: str) -> str | None:
    ok = says(judge.replies, re.escape(service), r"材料|准备|身份证|证明")
    return None if ok else f"not told how to apply for {service} or what to bring"


CHARGING = {"find": (r"充电站", r"空闲|使用中|没有接入"), "status": (r"订单|充电进度|扣费|退款",),
            "book": (r"排队",), "fault": (r"哪个充电站|充电桩故障报修",)}


@topic("charging")
async def _charging(judge: Judge, what: str) -> str | None:
    return None if says(judge.replies, *CHARGING[what]) else f"no charging answer ({what})"


CAPABILITIES = ("电费", "余额", "用电量", "报修", "停电", "工单", "业务")


def lists_capabilities(reply: str) -> bool:
    return sum(word in reply for word in CAPABILITIES) >= 3


# What a customer waiting for a person should hear: the queue, the wait, or why nobody will come soon.
WAITING = (r"排队|前面还有|第\s*\d+\s*位|预计.{0,8}分钟|没有.{0,10}(在线|空闲)|非工作时间"
           r"|不在服务时间|服务时间是|下班")
SIMPLE_TOPICS: dict[str, tuple[str, ...]] = {
    "greeting": (r"您好",),
    "thanks": (r"不客气|很高兴.{0,4}帮",),
    "goodbye": (r"再见|祝您|随时找我|欢迎.{0,4}再来",),
    "identity": (r"智能客服|机器人|自动应答|智能助手",),
    "safety": (r"远离", r"触碰|靠近"),
    "account_help": (r"电费单|网上国网|App|营业厅",),
    "handoff_notice": (r"人工", r"转接|接入|排队|稍候|留言"),
    "waiting_info": (WAITING,),
    "not_understood": (r"没太看懂|没能理解|没明白|不太明白|没看懂|没太明白|不太理解|没太懂",),
    "language_note": (r"[A-Za-z]{3,}.*[A-Za-z]{3,}.*[A-Za-z]{3,}", r"95598"),
    "form_restart": (r"请告诉我您的10位户号|我来帮您报修",),
}


def _simple(name: str, patterns: tuple[str, ...]) -> TopicCheck:
    async def check(judge: Judge, _: str) -> str | None:
        if name in ("greeting", "not_understood"):
            ok = any(all(re.search(p, r) for p in patterns) and lists_capabilities(r) for r in judge.replies)
        else:
            ok = says(judge.replies, *patterns)
        return None if ok else f"no {name.replace('_', ' ')}"
    return check


for _name, _patterns in SIMPLE_TOPICS.items():
    TOPICS[_name] = _simple(_name, _patterns)


@topic("capabilities")
async def _capabilities(judge: Judge, _: str) -> str | None:
    return None if any(lists_capabilities(r) for r in judge.replies) else "not told what the bot can do"


ASKING = r"确认无误|提交吗|请留|请告诉我|请您说一下|请描述|请输入"
TRANSFERRING = r"正在为您转接|正在转接"


@topic("ask_and_transfer")
async def _ask_and_transfer(judge: Judge, _: str) -> str | None:
    """One turn's replies both ask the customer for something and say a person is taking over."""
    for record in judge.records:
        joined = "\n".join(record.replies)
        if re.search(ASKING, joined) and re.search(TRANSFERRING, joined):
            return None
    return "never asked for an answer while handing over"


# ---------------------------------------------------------------------------------- figures
def play(conversations: list[Conversation], *, api_url: str, token: str, database_url: str,
         concurrency: int = 3) -> list[Result]:
    """Play the set (from synchronous code: the test and the benchmark).

    In a thread of its own: Playwright's sync API, once a browser test has started it, keeps an
    event loop running in the main thread, where asyncio.run refuses to start another.
    """
    run = Run(api_url=api_url, token=token, database_url=database_url, concurrency=concurrency)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as own_thread:
        return own_thread.submit(asyncio.run, run.play_all(conversations)).result()


def figures(results: list[Result]) -> dict:
    """Completion rate, turns per completed conversation, failures by kind and by area."""
    completed = [r for r in results if r.completed]
    turns = [len(r.turns) for r in completed]
    kinds = {kind: sum(1 for r in results if any(k == kind for k, _ in r.failures)) for kind in FAILURE_KINDS}
    areas = {area: {"conversations": sum(1 for r in results if r.conversation.area == area),
                    "completed": sum(1 for r in completed if r.conversation.area == area)} for area in AREAS}
    latencies = [t.seconds for r in results for t in r.turns if not t.lost]
    return {
        "conversations": len(results),
        "completed": len(completed),
        "completion_rate": round(len(completed) / len(results), 3) if results else 0.0,
        "goal": GOAL,
        "turns_per_completed": {"mean": round(statistics.mean(turns), 2) if turns else None,
                                "median": statistics.median(turns) if turns else None},
        "customer_turns": sum(len(r.turns) for r in results),
        "turn_seconds_mean": round(statistics.mean(latencies), 3) if latencies else None,
        "failures_by_kind": kinds,
        "by_area": areas,
        "failing": [r.summary() for r in results if not r.completed],
    }


def failure_text(results: list[Result]) -> str:
    """The failing conversations, one line each, for an assertion message."""
    lines = []
    for result in results:
        if not result.completed:
            lines.append(f"- {result.conversation.id} ({result.conversation.area}): "
                         + " | ".join(f"{k}: {w}" for k, w in result.failures))
    return "\n".join(lines)
