"""When spaces are open: weekly opening hours and dated closures."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from booking.models.base import UTCDateTime


class OpeningHours(SQLModel, table=True):
    """One weekly window of a venue (inherited by its spaces) or of a space (overriding the venue's)."""

    __tablename__ = "opening_hours"

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int | None = Field(default=None, foreign_key="venues.id", index=True, ondelete="CASCADE")
    space_id: int | None = Field(default=None, foreign_key="spaces.id", index=True, ondelete="CASCADE")
    weekday: int
    opens_min: int
    closes_min: int
    valid_from: date | None = None
    valid_until: date | None = None


class ClosureReason(StrEnum):
    holiday = "holiday"
    exam = "exam"
    maintenance = "maintenance"
    host_timetable = "host_timetable"
    event = "event"
    other = "other"


class Closure(SQLModel, table=True):
    """A period a venue or a space cannot be booked. Whole-day closures keep their local dates."""

    __tablename__ = "closures"

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int | None = Field(default=None, foreign_key="venues.id", ondelete="CASCADE")
    space_id: int | None = Field(default=None, foreign_key="spaces.id", ondelete="CASCADE")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    start_date: date | None = None
    end_date: date | None = None
    reason: ClosureReason = Field(sa_type=String(40))
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Closures imported from a calendar: which calendar (see booking/services/imports.py) and which
    # event instance in it (UID, plus "#<original start>" in a series), so a re-import updates them.
    source: str | None = Field(default=None, max_length=500)
    source_uid: str | None = Field(default=None, max_length=300)


class SpaceTree(SQLModel, table=True):
    """Closure table of divisible spaces: every (ancestor, descendant) pair, each space with itself."""

    __tablename__ = "space_tree"

    ancestor_id: int = Field(foreign_key="spaces.id", primary_key=True, ondelete="CASCADE")
    descendant_id: int = Field(foreign_key="spaces.id", primary_key=True, ondelete="CASCADE")
    depth: int
