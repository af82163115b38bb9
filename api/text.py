"""Text helpers of the API: normalisation (shared with the knowledge base) and masking."""
from __future__ import annotations

from knowledge_base.text import normalize_text

__all__ = ["normalize_text", "mask_phone", "mask_name"]


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
