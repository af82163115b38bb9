"""Dispatch I/O."""
from __future__ import annotations

from pydantic import BaseModel, Field


class CrewRead(BaseModel):
    """A crew as supervisors see it (no personal numbers)."""

    id: str
    name: str
    skills: list[str]
    districts: list[str]
    experience: int
    capacity: int
    load: int
    on_shift: bool
    lat: float
    lon: float


class ReassignCreate(BaseModel):
    """A supervisor's manual reassignment."""

    crew_id: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=500)


class ReasonCreate(BaseModel):
    """Why a supervisor re-plans or takes a crew out."""

    reason: str = Field(min_length=1, max_length=500)


class ReplanRead(BaseModel):
    """How many tickets went to another crew."""

    moved: int
