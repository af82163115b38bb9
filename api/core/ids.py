"""Identifiers people type and read: 户号, mobiles, ticket numbers, districts; normalised and masked once.

Text from customers is normalised at the edge with `normalize_text` (NFKC, full-width digits to
ASCII, trimmed); these helpers accept what people really type (spaces, dashes, +86) and give back
the canonical form, or ValueError.
"""
from __future__ import annotations

import re

from knowledge_base.text import normalize_text

__all__ = [
    "ACCOUNT_NO", "MOBILE", "MOBILE_IN_TEXT", "TICKET_NO", "CITY_CENTRE", "DISTRICTS", "DISTRICT_NAMES",
    "normalize_text", "normalize_account_no", "normalize_mobile", "ticket_number",
    "mask_phone", "mask_name", "mask_account", "mask_address", "mask_personal",
]

ACCOUNT_NO = re.compile(r"^\d{10}$")  # 户号: ten digits
MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile
MOBILE_PATTERN = MOBILE.pattern  # for pydantic Field(pattern=…) and Query(pattern=…)
ACCOUNT_NO_PATTERN = ACCOUNT_NO.pattern
MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
TICKET_NO = re.compile(r"GD\d{8}-\d{4}", re.IGNORECASE)  # GD20261123-0042
_ID_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")  # 18-digit resident ID
_MOBILE_PARTS_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# The numbers of a detailed address inside free text: after a street, village, estate … the house, building,
# unit, room and village-group numbers (文化街12号3号楼2单元501, 龙王坝村三组). Not a 台区, line or station
# named after a street (文化街1号台区), nor a date (12月10号: no place before it).
_NUMERAL = r"[0-9０-９一二三四五六七八九十百零〇两]+"
_ADDRESS_NUMBERS_IN_TEXT = re.compile(
    r"(街道|大街|大道|街|路|巷|村|社区|小区|区|花园|家园|苑|园|庄|弄|大厦|公寓|院)"
    rf"((?:{_NUMERAL}(?:[-－—]{_NUMERAL})?(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|组|队|社))+(?:{_NUMERAL})?)"
    r"(?![台变线杆站箱柜])")
_NUMERAL_RUN = re.compile(_NUMERAL)
_SEPARATORS = re.compile(r"[\s\-—_.()（）]+")

# The service area: 固原市's district and counties, each with the seat of its government (lat, lon).
CITY_CENTRE: tuple[float, float] = (36.0160, 106.2420)
DISTRICTS: dict[str, tuple[float, float]] = {
    "原州区": (36.0050, 106.2800),
    "西吉县": (35.9640, 105.7300),
    "隆德县": (35.6250, 106.1110),
    "泾源县": (35.4980, 106.3300),
    "彭阳县": (35.8500, 106.6400),
}
DISTRICT_NAMES: tuple[str, ...] = tuple(DISTRICTS)


def normalize_account_no(value: str) -> str:
    """户号 as 10 ASCII digits (full-width digits and separators accepted); ValueError otherwise."""
    text = _SEPARATORS.sub("", normalize_text(str(value)))
    if not ACCOUNT_NO.match(text):
        raise ValueError("account number must be 10 digits")
    return text


def normalize_mobile(value: str) -> str:
    """A mainland mobile as 11 digits (drops +86 and separators); ValueError otherwise."""
    text = _SEPARATORS.sub("", normalize_text(str(value)))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == 11 + len(prefix):
            text = text[len(prefix):]
    if not MOBILE.match(text):
        raise ValueError("mobile must be 11 digits starting with 13-19")
    return text


def compact_digits(value: str) -> str:
    """What a person typed with spaces, dashes and brackets taken out (a 户号 or mobile candidate)."""
    return _SEPARATORS.sub("", normalize_text(str(value)))


def ticket_number(day, seq: int) -> str:
    """The number customers read: GD + the local day + the day's sequence, GD20261123-0042."""
    return f"GD{day:%Y%m%d}-{seq:04d}"


def mask_phone(phone: str | None) -> str:
    """138****5678: what logs, other customers and read-backs show of a mobile number."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_name(name: str) -> str:
    """张*明 / 李*: keeps the surname and, for longer names, the last character."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_account(account_no: str | None) -> str:
    """6403****34: enough for the customer to recognise, useless to anyone else."""
    if not account_no:
        return ""
    s = str(account_no)
    return s[:4] + "*" * max(len(s) - 6, 0) + s[-2:] if len(s) > 6 else s


_PLACE = re.compile(r".+?(?:街道|大街|街|路|巷|道|村|社区)")
_GROUP = re.compile(r"[一二三四五六七八九十\d]+(组|队|社)")
_HOUSE = re.compile(r"\d+号")


def mask_address(address: str, district: str, town: str) -> str:
    """Keep district, town and street/village; mask numbers: 原州区南关街道文化街**号***."""
    head = f"{district}{town}"
    if not address.startswith(head):
        return address[:6] + "***"
    rest = address[len(head):]
    place = _PLACE.match(rest)
    kept = place.group(0) if place else ""
    tail = rest[len(kept):]
    masked = ""
    group = _GROUP.match(tail)
    if group:
        masked += "*" + group.group(1)
        tail = tail[group.end():]
    house = _HOUSE.match(tail)
    if house:
        masked += "**号"
        tail = tail[house.end():]
    if tail:
        masked += "***"
    return head + kept + masked


def mask_personal(text: str) -> str:
    """Mask 18-digit ID numbers, 11-digit mobiles and the house/room numbers of addresses anywhere inside a
    text (logs, exports): 640402********1234, 139****5678, 文化街**号**号楼**单元**."""
    text = _MOBILE_PARTS_IN_TEXT.sub(r"\1****\2", _ID_NUMBER_IN_TEXT.sub(r"\1********\2", text))
    return _ADDRESS_NUMBERS_IN_TEXT.sub(
        lambda m: m.group(1) + _NUMERAL_RUN.sub("**", m.group(2)), text)


def chat_address(conversation_id: str) -> tuple[str, str]:
    """(outbox channel, recipient) of a conversation's notices: a WeChat user (wx-<openid>) by WeChat, an SMS
    conversation (sms-<mobile>) by SMS, anything else into the web chat."""
    if conversation_id.startswith("wx-"):
        return "wechat", conversation_id[3:]
    if conversation_id.startswith("sms-") and MOBILE.fullmatch(conversation_id[4:]):
        return "sms", conversation_id[4:]
    return "web", conversation_id
