"""Geo input and output shapes: a parsed and matched customer address."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MatchLevel = Literal["road", "village", "town", "district", "none"]
AreaClass = Literal["城区", "农村", "边远"]


class ParsedAddress(BaseModel):
    """A free-text address split into parts and matched to the 固原市 gazetteer.

    Place fields (district, town, road, village) hold canonical gazetteer names.
    House-number fields hold ASCII digits only (``number`` may be ``"28-1"``):
    "3号楼2单元401室" gives building "3", unit "2", room "401"; "二组" gives group "2".
    ``lat``/``lon`` are the centre of the matched town (or district at district level):
    the gazetteer has no coordinates below the town, so ``level`` says what was recognised,
    not how precise the point is. ``issues`` lists machine codes explaining a low
    confidence (e.g. ``town_not_in_district``, ``ambiguous_road``, ``outside_guyuan``).
    """

    model_config = ConfigDict(frozen=True)

    raw: str
    normalized: str
    district: str | None = None
    town: str | None = None
    road: str | None = None
    number: str | None = None
    village: str | None = None
    group: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    lat: float | None = None
    lon: float | None = None
    area_class: AreaClass | None = None
    level: MatchLevel = "none"
    matched: bool = False
    needs_review: bool = True
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    issues: tuple[str, ...] = ()
