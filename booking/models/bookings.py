from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from booking.models.base import UTCDateTime


class BookingState(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"
    cancelled = "cancelled"
    completed = "completed"
    released = "released"
    moved = "moved"  # occurrences only: the session now lives in newer rows


# Occurrences in these states hold their slot: the database refuses any other holding
# occurrence whose buffered range overlaps theirs on the same leaf space. Pending requests
# do not hold a slot; they compete until one is approved.
SLOT_HOLDING_STATES: tuple[str, ...] = (BookingState.confirmed.value, BookingState.completed.value)


class Booking(SQLModel, table=True):
    """A request by an organisation for a space; its occurrences carry the dated instances."""

    __tablename__ = "bookings"

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="spaces.id", index=True, ondelete="RESTRICT")
    organisation_id: int = Field(foreign_key="organisations.id", index=True, ondelete="RESTRICT")
    title: str = Field(max_length=200)
    attendees: int = 1
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    state: BookingState = Field(sa_type=String(20), index=True)
    # RRULE of a series (venue-local wall time); None for a one-off booking.
    rrule: str | None = Field(default=None, max_length=500)
    # Who asked (None for bookings made before accounts, or by the system).
    requested_by_id: int | None = None
    # Bumped by every change; the ETag a PATCH must match.
    version: int = 1
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Occurrence(SQLModel, table=True):
    """One dated instance of a booking on one leaf space: the row the no-overlap rule guards."""

    __tablename__ = "occurrences"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", index=True, ondelete="CASCADE")
    space_id: int = Field(foreign_key="spaces.id", ondelete="RESTRICT")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    # The occupied range including the space's set-up and clean-up buffers.
    blocked_start_at: datetime = Field(sa_type=UTCDateTime)
    blocked_end_at: datetime = Field(sa_type=UTCDateTime)
    state: BookingState = Field(sa_type=String(20))
    # The session's place in its series; a moved session keeps it (iCal's RECURRENCE-ID).
    original_starts_at: datetime = Field(sa_type=UTCDateTime)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
