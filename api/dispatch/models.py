"""Field crews (抢修班组): skills, coverage, shifts, where they are; and every offer of a ticket."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime


class Crew(Base):
    """A crew that takes tickets; its leader's mobile gets the SMS."""

    __tablename__ = "crews"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # YZ-01
    name: Mapped[str] = mapped_column(String(64))
    leader_mobile: Mapped[str] = mapped_column(String(11), unique=True)
    skills: Mapped[list] = mapped_column(JSON)  # of api.dispatch.optimizer.SKILLS
    districts: Mapped[list] = mapped_column(JSON)  # districts it covers
    home_district: Mapped[str] = mapped_column(String(16))
    base_lat: Mapped[float]
    base_lon: Mapped[float]
    lat: Mapped[float]  # last known position
    lon: Mapped[float]
    located_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    experience: Mapped[int] = mapped_column(Integer, default=2)  # 1 junior … 3 senior
    capacity: Mapped[int] = mapped_column(Integer, default=3)  # open tickets it may hold
    active: Mapped[bool] = mapped_column(default=True)

    members: Mapped[list[CrewMember]] = relationship(back_populates="crew", cascade="all, delete-orphan")
    shifts: Mapped[list[CrewShift]] = relationship(back_populates="crew", cascade="all, delete-orphan",
                                                   order_by="CrewShift.starts_at")


class CrewMember(Base):
    """A person in a crew."""

    __tablename__ = "crew_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    crew_id: Mapped[str] = mapped_column(ForeignKey("crews.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    mobile: Mapped[str] = mapped_column(String(11))
    role: Mapped[str] = mapped_column(String(8))  # 班长 / 组员

    crew: Mapped[Crew] = relationship(back_populates="members")


class CrewShift(Base):
    """When a crew is on duty (UTC); outside every shift it gets no new tickets."""

    __tablename__ = "crew_shifts"
    __table_args__ = (Index("ix_crew_shifts_crew_time", "crew_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crew_id: Mapped[str] = mapped_column(ForeignKey("crews.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    crew: Mapped[Crew] = relationship(back_populates="shifts")


class TicketAssignment(Base):
    """One offer of a ticket to a crew and how it ended (accepted, rejected, timed out, reassigned)."""

    __tablename__ = "ticket_assignments"
    __table_args__ = (Index("ix_ticket_assignments_open", "outcome", "offered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    crew_id: Mapped[str] = mapped_column(ForeignKey("crews.id"), index=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(64))  # system:dispatch / system:batch / supervisor:<name>
    travel_minutes: Mapped[float | None]
    cost: Mapped[float | None]
    outcome: Mapped[str] = mapped_column(String(12), default="offered")  # offered accepted rejected timeout reassigned
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
