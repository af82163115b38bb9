"""Customer rules: finding a customer by 户号 or mobile, verifying the caller, masking for read-back."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import Invalid, NotFound, TooMany
from api.core.ids import (
    ACCOUNT_NO,
    MOBILE,
    compact_digits,
    mask_address,
    mask_name,
    normalize_account_no,
    normalize_mobile,
    normalize_text,
)
from api.customers.models import AccountBinding, Customer, VerificationAttempt
from api.customers.schemas import CustomerRead, IdentifiedCustomer, IdentifyRead


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer with this id, or None."""
    return session.get(Customer, customer_id)


def get_by_account_no(*, session: Session, account_no: str) -> Customer | None:
    """The customer with this 户号 (normalised first), or None (also for a malformed number)."""
    try:
        number = normalize_account_no(account_no)
    except ValueError:
        return None
    return session.scalar(select(Customer).where(Customer.account_no == number))


def require_by_account_no(*, session: Session, account_no: str) -> Customer:
    """The customer for a 户号 given in a request: Invalid when malformed, NotFound when unknown."""
    try:
        number = normalize_account_no(account_no)
    except ValueError:
        raise Invalid("invalid_account_no", "户号应为10位数字") from None
    customer = session.scalar(select(Customer).where(Customer.account_no == number))
    if customer is None:
        raise NotFound("customer_not_found", f"未找到户号 {number} 对应的用电客户")
    return customer


def list_by_mobile(*, session: Session, mobile: str) -> list[Customer]:
    """Every account registered with this mobile (one person may hold several), by 户号."""
    try:
        number = normalize_mobile(mobile)
    except ValueError:
        return []
    return list(session.scalars(select(Customer).where(Customer.mobile == number).order_by(Customer.account_no)))


def identify(*, session: Session, account_no: str | None = None, phone: str | None = None) -> IdentifyRead:
    """Accounts matching the 户号 and/or the mobile, masked for reading back."""
    found: dict[str, Customer] = {}
    if account_no:
        customer = get_by_account_no(session=session, account_no=account_no)
        if customer is not None:
            found[customer.account_no] = customer
    if phone:
        for customer in list_by_mobile(session=session, mobile=phone):
            found.setdefault(customer.account_no, customer)
    customers = [
        IdentifiedCustomer(
            account_no=c.account_no, masked_name=mask_name(c.name),
            masked_address=mask_address(c.address, c.district, c.town),
            district=c.district, area_class=c.area_class,
        )
        for c in sorted(found.values(), key=lambda c: c.account_no)
    ]
    return IdentifyRead(found=bool(customers), customers=customers)


def matches_last4(*, session: Session, account_no: str, phone_last4: str) -> bool:
    """True when the last four digits of the account's registered mobile match (no attempt recorded)."""
    customer = get_by_account_no(session=session, account_no=account_no)
    given = normalize_text(str(phone_last4))
    if customer is None or len(given) != 4 or not given.isdigit():
        return False
    return hmac.compare_digest(customer.mobile[-4:], given)


@dataclass(frozen=True)
class VerifyLimits:
    """How many wrong answers are allowed in the window: per conversation, per account across
    conversations (so the 10,000 possible endings cannot be tried out from many chats), and per
    client address across accounts (so one machine cannot try a few endings on many accounts)."""

    per_conversation: int = 5
    per_account: int = 10
    per_address: int = 20
    window: timedelta = timedelta(hours=1)


def verify(*, session: Session, account_no: str, phone_last4: str, conversation_id: str | None,
           now: datetime, limits: VerifyLimits = VerifyLimits(), address: str | None = None) -> bool:
    """Check the caller against the account's mobile, counting the attempt; TooMany once the
    conversation, the account or the caller's address has used up its wrong answers in the window
    (checked first, so guessing on gains nothing)."""
    number = compact_digits(account_no)
    since = now - limits.window
    failures = lambda *where: session.scalar(  # noqa: E731
        select(func.count()).select_from(VerificationAttempt).where(
            VerificationAttempt.ok.is_(False), VerificationAttempt.at >= since, *where))
    if ((conversation_id and failures(VerificationAttempt.conversation_id == conversation_id)
         >= limits.per_conversation) or failures(VerificationAttempt.account_no == number) >= limits.per_account
            or (address and failures(VerificationAttempt.address == address) >= limits.per_address)):
        raise TooMany("too_many_attempts", "验证失败次数较多，为保护账户安全，暂时不能继续验证。"
                      "请稍后再试，或转人工客服帮您核实身份。")
    ok = matches_last4(session=session, account_no=number, phone_last4=phone_last4)
    session.add(VerificationAttempt(account_no=number[:10], conversation_id=conversation_id, at=now, ok=ok,
                                    address=address))
    session.commit()
    return ok


# ---- accounts bound to a chat user (WeChat): verified once, served without asking again ----

def bindings(*, session: Session, chat_user: str) -> list[AccountBinding]:
    """The user's bound accounts in the order they were bound (the numbers the user replies with)."""
    return list(session.scalars(select(AccountBinding).where(AccountBinding.chat_user == chat_user)
                                .order_by(AccountBinding.bound_at, AccountBinding.id)))


def chat_users_of(*, session: Session, account_nos: list[str]) -> dict[str, str]:
    """户号 → the chat user (wx-<openid>) served for it now (their default binding, the latest when several):
    where its notices reach the customer — and, being the default, the phone their SMS fallback uses is this
    account's own."""
    found: dict[str, str] = {}
    for i in range(0, len(account_nos), 900):
        rows = session.execute(select(AccountBinding.account_no, AccountBinding.chat_user).where(
            AccountBinding.account_no.in_(account_nos[i:i + 900]), AccountBinding.is_default.is_(True))
            .order_by(AccountBinding.bound_at, AccountBinding.id))
        found.update({account_no: chat_user for account_no, chat_user in rows})
    return found


def bind(*, session: Session, chat_user: str, account_no: str, now: datetime) -> None:
    """Bind a verified account (once; bound again, it is kept) and make it the default: the user just
    proved it theirs and is asking about it."""
    try:
        with session.begin_nested():
            session.add(AccountBinding(chat_user=chat_user, account_no=account_no, is_default=False, bound_at=now))
    except IntegrityError:  # bound before, or by a concurrent verification
        pass
    make_default(session=session, chat_user=chat_user, account_no=account_no)


def make_default(*, session: Session, chat_user: str, account_no: str | None) -> None:
    """Serve the user for this bound account from now on (None: for none, until another is verified)."""
    if account_no is not None and account_no not in {b.account_no for b in bindings(session=session,
                                                                                     chat_user=chat_user)}:
        raise NotFound("not_bound", "这个户号还没有绑定")
    session.execute(update(AccountBinding).where(AccountBinding.chat_user == chat_user)
                    .values(is_default=AccountBinding.account_no == account_no if account_no else False))


def unbind(*, session: Session, chat_user: str, account_no: str) -> str | None:
    """Remove a binding; when it was the default, the most recently bound other account becomes the
    default. Returns the default after (None when nothing is bound)."""
    rows = bindings(session=session, chat_user=chat_user)
    row = next((b for b in rows if b.account_no == account_no), None)
    if row is None:
        raise NotFound("not_bound", "这个户号还没有绑定")
    session.delete(row)
    rest = [b for b in rows if b is not row]
    current = next((b.account_no for b in rest if b.is_default), None)
    if row.is_default and rest:
        current = rest[-1].account_no
        make_default(session=session, chat_user=chat_user, account_no=current)
    return current


def to_read(*, customer: Customer, transformer_area_code: str | None) -> CustomerRead:
    """The API view of a customer (the area's code comes from metering, which owns the areas)."""
    return CustomerRead(
        account_no=customer.account_no, name=customer.name, mobile=customer.mobile,
        address=customer.address, district=customer.district, town=customer.town,
        area_class=customer.area_class, lat=customer.lat, lon=customer.lon,
        customer_class=customer.customer_class, tariff_code=customer.tariff_code,
        contract_capacity_kva=float(customer.contract_capacity_kva),
        transformer_area_code=transformer_area_code, opened_on=customer.opened_on,
    )


def search(*, session: Session, query: str) -> list[Customer]:
    """Customers by 户号 or registered mobile, as an agent types them (hotline 360 view)."""
    digits = compact_digits(query)
    if ACCOUNT_NO.fullmatch(digits):
        customer = get_by_account_no(session=session, account_no=digits)
        return [customer] if customer else []
    if MOBILE.fullmatch(digits):
        return list_by_mobile(session=session, mobile=digits)
    raise Invalid("invalid_query", "请输入10位户号或11位手机号")


def list_all(*, session: Session) -> list[Customer]:
    """Every customer, by 户号."""
    return list(session.scalars(select(Customer).order_by(Customer.account_no)))


def list_ids(*, session: Session, customer_class: str, transformer_area_id: int | None = None,
             district: str | None = None, tariff_codes: list[str] | None = None) -> list[int]:
    """Ids of the customers of a class, optionally in one transformer area or district or on some tariffs."""
    query = select(Customer.id).where(Customer.customer_class == customer_class)
    if transformer_area_id is not None:
        query = query.where(Customer.transformer_area_id == transformer_area_id)
    if district is not None:
        query = query.where(Customer.district == district)
    if tariff_codes is not None:
        query = query.where(Customer.tariff_code.in_(tariff_codes))
    return list(session.scalars(query.order_by(Customer.id)))


def get_many(*, session: Session, customer_ids: list[int]) -> dict[int, Customer]:
    """The customers with these ids, by id."""
    if not customer_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}


def ids_by_account_no(*, session: Session, account_nos: list[str]) -> dict[str, int]:
    """户号 → customer id, for the accounts that exist."""
    found: dict[str, int] = {}
    for chunk in range(0, len(account_nos), 500):  # stay under every database's bound-parameter limit
        part = account_nos[chunk:chunk + 500]
        found.update({account_no: cid for account_no, cid in session.execute(
            select(Customer.account_no, Customer.id).where(Customer.account_no.in_(part)))})
    return found


def list_in_areas(*, session: Session, transformer_area_ids: list[int]) -> list[Customer]:
    """The customers supplied by these transformer areas, by 户号."""
    return list(session.scalars(select(Customer).where(Customer.transformer_area_id.in_(transformer_area_ids))
                                .order_by(Customer.account_no)))
