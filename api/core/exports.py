"""CSV downloads for Excel, one way: a UTF-8 BOM, CRLF lines, and every cell through `csv_cell`.

No export's purpose needs a customer's mobile, ID number or house number: contacting a customer goes
through a ticket, a notice or the customer view, where each access is logged, never through a
spreadsheet that leaves the system. So in every cell of every export these are masked inside text
(api.core.ids.mask_personal), and text a spreadsheet would run as a formula is quoted. Which roles see
a customer's 户号 and name in full is each export's own rule (audit findings: api.audit.service).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from api.core.ids import mask_personal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: None as empty; in text, mobiles, ID numbers and address numbers masked and a leading
    = + - @ (a formula in Excel) quoted with an apostrophe. Numbers stay numbers."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    text = mask_personal(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_document(rows: Iterable[Sequence[Any]]) -> str:
    """The rows as CSV for Excel: a UTF-8 BOM (so Excel reads the Chinese), CRLF lines, cells through `csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return "\ufeff" + out.getvalue()
