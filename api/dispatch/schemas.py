"""Dispatch I/O."""
from __future__ import annotations

from datetime import datetime

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
    active: bool = True  # False: taken out of dispatch (暂停派单) until a supervisor brings it back
    shift_ends_at: datetime | None = None  # while on shift (Beijing time)
    next_shift_starts_at: datetime | None = None  # while off shift (None: no shift planned)


class CrewDutyRead(BaseModel):
    """A crew's own duty now, for its mobile page: on shift or not, and when that changes."""

    id: str
    name: str
    on_shift: bool
    shift_ends_at: datetime | None  # while on shift
    next_shift_starts_at: datetime | None  # while off shift (None: no shift planned)


class ReassignCreate(BaseModel):
    """A supervisor's manual reassignment."""

    crew_id: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=500)


class ReasonCreate(BaseModel):
    """Why a supervisor re-plans or takes a crew out."""

    reason: str = Field(min_length=1, max_length=500)


class AvailableCreate(BaseModel):
    """A supervisor brings a crew back to dispatch (恢复派单), or puts it on call for some hours (值班待命)."""

    reason: str = Field(min_length=1, max_length=500)
    hours: int | None = Field(default=None, ge=1, le=24)  # on call from now; None: only resume dispatch


class MoveRead(BaseModel):
    """One ticket that went to a crew (from another crew, or from the waiting queue when from_crew_id is None)."""

    number: str
    type: str
    district: str | None
    from_crew_id: str | None
    from_crew: str | None
    to_crew_id: str
    to_crew: str


class ReplanRead(BaseModel):
    """How many tickets went to another crew, which ones, and the ones no crew could take."""

    moved: int
    moves: list[MoveRead] = []
    unplaced: list[str] = []  # ticket numbers left waiting (escalated) because no crew could take them


class OpenTicketRead(BaseModel):
    """An open work ticket as the dispatch screen shows it (times in Beijing time)."""

    number: str
    type: str
    priority: int
    status: str
    district: str | None
    address_text: str
    lat: float
    lon: float
    located: bool  # False: the address had no coordinates, the district seat stands in
    skill: str  # what the crew must be able to do
    crew_id: str | None
    crew: str | None
    crew_eta: datetime | None
    arrive_by: datetime  # 到场时限
    arrived_at: datetime | None
    overdue: bool  # past its arrival deadline and nobody on site (not while 挂起)
    escalation_level: int
    created_at: datetime
