"""Which 户号 a WeChat user is served for: their bound accounts, managed by a few typed commands.

A WeChat user binds a 户号 by passing the bot's verification (户号 + the last four digits of the phone
on file) in WeChat: the API keeps it (api.customers ``AccountBinding``) and makes it the default, and
the bot serves the default at every new session without asking again (actions/session.py). Like an
official account's keyword replies, these messages are answered here, not by the bot:

- 我的户号 (also the menu's 我的户号): the bound accounts, numbered, the one in use marked;
- 切换N: serve the N-th account from now on; 解绑N: remove it;
- 绑定新户号: verify another account (the bot asks for it; passing binds it and makes it the default).

After a change the bot's session is restarted (``/session_start``), so the next question is served for
the new default at once. A command and its answer are kept in the transcript like any turn, once per
WeChat message id (WeChat resends a message it thinks unanswered: 解绑1 must not remove two accounts).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import service as chats
from api.conversations.models import Message
from api.conversations.rasa import BotUnavailable, RasaClient
from api.conversations.schemas import BotMessage
from api.core.ids import mask_account
from api.core.time import utcnow
from api.customers import service as customers

log = logging.getLogger(__name__)

LIST = re.compile(r"^(?:我的户号|户号管理|我绑定的户号|切换户号|解绑户号)$")
SWITCH = re.compile(r"^切换\s*(?:第)?\s*(\d{1,2})\s*(?:个)?$")
UNBIND = re.compile(r"^解绑\s*(?:第)?\s*(\d{1,2})\s*(?:个)?$")
BIND_NEW = re.compile(r"^(?:绑定新户号|绑定户号|添加户号|新增户号)$")
HOW_TO_BIND = "回复“绑定新户号”，按提示输入10位户号和登记手机号的后四位，核验通过即绑定，以后查电费、报修都不用再输。"
BOT_DOWN = "系统暂时忙，请稍后再发一次；着急的话可以拨打95598。"


@dataclass
class Command:
    kind: str  # list, switch, unbind, bind_new
    number: int | None = None


def parse(text: str) -> Command | None:
    """The account command these words are, if any (spaces and a final full stop ignored)."""
    words = re.sub(r"[\s。.！!]+$", "", text.strip())
    if LIST.match(words):
        return Command("list")
    if BIND_NEW.match(words):
        return Command("bind_new")
    for kind, pattern in (("switch", SWITCH), ("unbind", UNBIND)):
        if found := pattern.match(words):
            return Command(kind, int(found.group(1)))
    return None


def listing(session: Session, chat_user: str) -> str:
    """The bound accounts, numbered as the user replies with them."""
    rows = customers.bindings(session=session, chat_user=chat_user)
    if not rows:
        return "您的微信还没有绑定户号。" + HOW_TO_BIND
    lines = ["您的微信已绑定以下户号："]
    lines += [f"{i}. 户号 {mask_account(b.account_no)}{'（当前使用）' if b.is_default else ''}"
              for i, b in enumerate(rows, 1)]
    example = 2 if len(rows) > 1 else 1
    lines.append(f"回复“切换{example}”改用该户号办理业务，回复“解绑{example}”解除绑定，"
                 "回复“绑定新户号”再绑定一个。")
    return "\n".join(lines)


def _change(session: Session, chat_user: str, command: Command) -> tuple[str, bool]:
    """Apply switch/unbind/bind_new; (the answer, whether the bot's session must restart)."""
    rows = customers.bindings(session=session, chat_user=chat_user)
    if command.kind == "bind_new":
        customers.make_default(session=session, chat_user=chat_user, account_no=None)
        return "", True
    if not rows:
        return "您的微信还没有绑定户号。" + HOW_TO_BIND, False
    if not 1 <= (command.number or 0) <= len(rows):
        return f"没有第{command.number}个户号。\n" + listing(session, chat_user), False
    chosen = rows[command.number - 1].account_no
    if command.kind == "switch":
        customers.make_default(session=session, chat_user=chat_user, account_no=chosen)
        return f"已切换到户号 {mask_account(chosen)}，接下来查电费、余额和报修都按这个户号办理。", True
    current = customers.unbind(session=session, chat_user=chat_user, account_no=chosen)
    answer = f"已解除户号 {mask_account(chosen)} 的绑定。"
    answer += f"现在使用户号 {mask_account(current)}。" if current else "您的微信已没有绑定的户号。" + HOW_TO_BIND
    return answer, True


async def answer(*, command: Command, said: str, conversation_id: str, key: str,
                 sessionmaker: sessionmaker[Session], bot: RasaClient | None) -> list[BotMessage]:
    """Carry out the command for this WeChat user and keep it in the transcript; the replies."""
    turn_id, earlier = await run_in_threadpool(_receive, sessionmaker, conversation_id, said, key)
    if turn_id is None:  # WeChat resent the message: the same answer, nothing done twice
        return earlier
    text, restart = await run_in_threadpool(_apply, sessionmaker, conversation_id, command)
    replies = [BotMessage(text=text)] if text else []
    if restart and bot is not None:
        try:
            await bot.send(sender_id=conversation_id, text="/session_start", channel="wechat")
            if command.kind == "bind_new":  # the bot's verification asks for the account to bind
                replies = (await bot.send(sender_id=conversation_id, text="/verify_identity",
                                          channel="wechat")).messages
        except BotUnavailable:
            log.warning("bot unavailable restarting the session of a WeChat user after %s", command.kind)
            if command.kind == "bind_new":
                replies = [BotMessage(text=BOT_DOWN)]
    await run_in_threadpool(_answered, sessionmaker, turn_id, replies)
    return replies


def _receive(sessionmaker: sessionmaker[Session], conversation_id: str, said: str,
             key: str) -> tuple[int | None, list[BotMessage]]:
    """Keep the command as the customer's turn first; (its id, []) or, for a resent message, (None, the
    answer it had: none yet while the first is still being carried out)."""
    with sessionmaker() as session:
        earlier = chats.find_customer_turn(session=session, conversation_id=conversation_id, client_msg_id=key)
        if earlier is not None:
            return None, chats.replies_to(session=session, message_id=earlier.id)
        _, turn = chats.record_customer_turn(session=session, conversation_id=conversation_id, channel="wechat",
                                             text=said, client_msg_id=key, now=utcnow())
        try:
            session.commit()
        except IntegrityError:  # the same message resent while the first was being kept
            return None, []
        return turn.id, []


def _apply(sessionmaker: sessionmaker[Session], conversation_id: str, command: Command) -> tuple[str, bool]:
    with sessionmaker() as session:
        result = (listing(session, conversation_id), False) if command.kind == "list" \
            else _change(session, conversation_id, command)
        session.commit()
    return result


def _answered(sessionmaker: sessionmaker[Session], turn_id: int, replies: list[BotMessage]) -> None:
    with sessionmaker() as session:
        turn = session.get(Message, turn_id)
        chats.record_replies(session=session, customer_message=turn, replies=replies, now=utcnow())
        chats.settle_turn(session=session, message_id=turn_id, delivery="ok")
        session.commit()
