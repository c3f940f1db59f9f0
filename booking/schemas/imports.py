"""Calendar imports: the request for a URL import and the report of what an import does."""

from datetime import date, datetime

from pydantic import Field
from sqlmodel import SQLModel

from booking.models import ClosureReason

MAX_URL_LENGTH = 500


class UrlImport(SQLModel):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="an http(s) URL of an .ics calendar")


class CollidingBooking(SQLModel):
    """A session of a confirmed booking that the closure would cover (the booking is not changed)."""

    booking_id: int
    title: str
    space_id: int
    organisation_id: int
    starts_at: datetime
    ends_at: datetime


class ImportedClosure(SQLModel):
    """A closure the import creates, updates or removes; ``id`` is None for one a preview would create."""

    id: int | None
    source_uid: str
    reason: ClosureReason
    note: str
    starts_at: datetime
    ends_at: datetime
    start_date: date | None
    end_date: date | None
    collisions: list[CollidingBooking] = []


class SkippedEvent(SQLModel):
    source_uid: str
    summary: str
    why: str  # "cancelled", "transparent" or "empty"


class ImportReport(SQLModel):
    source: str
    preview: bool
    window_start: datetime
    window_end: datetime
    created: list[ImportedClosure]
    updated: list[ImportedClosure]
    removed: list[ImportedClosure]
    unchanged: int
    skipped: list[SkippedEvent]
