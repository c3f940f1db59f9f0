"""Teachers, community classes and the solver runs that allocate them."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList, UTCDateTime


class Teacher(SQLModel, table=True):
    """Staff or a volunteer; ``availability`` holds weekly local windows {weekday, opens, closes}."""

    __tablename__ = "teachers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(default="staff", sa_type=String(20))
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", ondelete="RESTRICT")
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    availability: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    max_minutes_per_week: int = 600
    home_region_id: int | None = Field(default=None, foreign_key="regions.id", ondelete="RESTRICT")
    refused_venue_ids: list[int] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    # What the public catalogue shows (e.g. "王老师"); the name itself stays with staff.
    display_name: str = Field(default="", max_length=100)
    # The account that teaches as this teacher: records attendance, shows check-in codes.
    user_id: int | None = Field(default=None, foreign_key="users.id", unique=True, ondelete="SET NULL")


class CommunityClass(SQLModel, table=True):
    """A course offered for a term: what it needs, who may teach it, when its learners can come."""

    __tablename__ = "classes"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    category: str = Field(default="", max_length=100)
    target_group: str = Field(default="", max_length=100)
    organisation_id: int = Field(foreign_key="organisations.id", ondelete="RESTRICT")
    term_start: date
    term_end: date
    sessions_per_week: int = 1
    session_minutes: int = 90
    learners: int = 10
    required_features: list[str] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    # Space kinds the class accepts; empty: any kind.
    allowed_kinds: list[str] = Field(
        default_factory=list, sa_column=Column(JSONList, nullable=False, server_default="[]")
    )
    required_skill: str | None = Field(default=None, max_length=100)
    fixed_teacher_id: int | None = Field(default=None, foreign_key="teachers.id", ondelete="RESTRICT")
    preferred_region_ids: list[int] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    allowed_windows: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    cohorts: list[str] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))


class AllocationStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    committed = "committed"


class Allocation(SQLModel, table=True):
    """One solver run for a term: its request, progress, result and what committing it made."""

    __tablename__ = "allocations"

    id: int | None = Field(default=None, primary_key=True)
    term_start: date
    term_end: date
    class_ids: list[int] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    status: AllocationStatus = Field(sa_type=String(20), index=True)
    time_limit_s: float = 30.0
    seed: int = 0
    weights: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONList, nullable=False))
    locks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    forbids: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    progress: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONList, nullable=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONList, nullable=True))
    commit_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONList, nullable=True))
    error: str | None = Field(default=None, max_length=2000)
    cancel_requested: bool = False
    parent_id: int | None = Field(default=None, foreign_key="allocations.id", ondelete="SET NULL")
    # The region subtree whose district administrators run and see it; None: the whole district.
    region_id: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ClassBooking(SQLModel, table=True):
    """A booking series that holds one weekly session of a class, with its teacher."""

    __tablename__ = "class_bookings"

    booking_id: int = Field(foreign_key="bookings.id", primary_key=True, ondelete="CASCADE")
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="RESTRICT")
    teacher_id: int = Field(foreign_key="teachers.id", index=True, ondelete="RESTRICT")
    allocation_id: int | None = Field(default=None, foreign_key="allocations.id", ondelete="SET NULL")
    session_index: int = 0
