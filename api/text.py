"""Chinese text normalisation, applied once at the edge (NFKC, ASCII digits, trimmed)."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Chinese punctuation stays as typed (NFKC would turn ，。？ into ASCII and change the transcript).
_KEEP = set("，。？！：；（）【】《》、“”‘’…—～")


def normalize_text(text: str) -> str:
    """NFKC except Chinese punctuation (full-width digits/letters become ASCII); trim spaces."""
    folded = "".join(ch if ch in _KEEP else unicodedata.normalize("NFKC", ch) for ch in text)
    return _SPACES.sub(" ", folded).strip()


def mask_phone(phone: str | None) -> str | None:
    """138****5678: what logs and other customers may see of a mobile number."""
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_name(name: str) -> str:
    """张*明 / 李*: keeps the surname and, for longer names, the last character."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
