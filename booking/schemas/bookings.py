from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from booking.models import BookingState
from booking.schemas.common import Instant, Name


class OnConflict(StrEnum):
    fail = "fail"  # create nothing and list every failing date
    skip = "skip"  # create the dates that fit and list the skipped ones


class Recurrence(SQLModel):
    rrule: str = Field(
        min_length=1,
        max_length=500,
        description="RRULE subset: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY, COUNT or UNTIL; "
        "e.g. FREQ=WEEKLY;BYDAY=TU,TH;COUNT=24",
    )


class BookingCreate(SQLModel):
    """A one-off booking, or with ``recurrence`` a series whose first session is starts_at–ends_at."""

    space_id: int
    organisation_id: int
    title: Name
    attendees: int = Field(default=1, ge=1, le=100_000)
    starts_at: Instant
    ends_at: Instant
    recurrence: Recurrence | None = None
    on_conflict: OnConflict = OnConflict.fail

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise ValueError("ends_at must be after starts_at")
        return ends_at


class SessionMove(SQLModel):
    """Move one session of a booking to another time and/or space."""

    starts_at: Instant
    ends_at: Instant
    space_id: int | None = Field(default=None, description="default: the booking's space")

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        return BookingCreate._ends_after_start(ends_at, info)


class SessionAdd(SQLModel):
    """Re-add a date of the series (one that was skipped or cancelled)."""

    starts_at: Instant


class OccurrencePublic(SQLModel):
    id: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
    state: BookingState
    # The session's place in its series; differs from starts_at once the session was moved.
    original_starts_at: datetime
    checked_in_at: datetime | None = None


class ConflictPublic(SQLModel):
    occurrence_id: int
    booking_id: int
    space_id: int
    starts_at: datetime
    ends_at: datetime


class FailurePublic(SQLModel):
    """A date of a request that could not be booked, and why."""

    starts_at: datetime
    ends_at: datetime
    reason: str  # booking_conflict | space_closed | outside_opening_hours
    conflicts: list[ConflictPublic] = Field(default_factory=list)


class BookingPublic(SQLModel):
    id: int
    space_id: int
    organisation_id: int
    title: str
    attendees: int
    state: BookingState
    starts_at: datetime
    ends_at: datetime
    # The same instants as wall-clock time in the venue's zone.
    timezone: str
    local_starts_at: datetime
    local_ends_at: datetime
    recurrence: Recurrence | None = None
    version: int = 1  # also the ETag; send it back in If-Match to change the booking
    created_at: datetime
    updated_at: datetime
    occurrences: list[OccurrencePublic]
    # Only in the answer to a request with on_conflict=skip: the dates left out.
    skipped: list[FailurePublic] = Field(default_factory=list)


class BookingUpdate(SQLModel):
    """What an organiser may change without a new request: the title and the number of attendees.
    Anything else (the space, the time) is refused rather than ignored: it needs a move or a new request."""

    model_config = ConfigDict(extra="forbid")

    title: Name | None = None
    attendees: int | None = Field(default=None, ge=1, le=100_000)


class Decision(SQLModel):
    """A manager's approval (reason optional) or rejection (reason required)."""

    reason: str = Field(default="", max_length=500)


class BookingEventPublic(SQLModel):
    id: int
    booking_id: int
    kind: str
    occurrence_ids: list[int]
    from_state: str | None
    to_state: str | None
    reason: str
    actor_user_id: int | None
    at: datetime


class PendingPublic(SQLModel):
    """A request waiting for a manager, with what stands in its way."""

    booking: BookingPublic
    # Other pending requests for an overlapping time: approving this one rejects them.
    competing_booking_ids: list[int]
    # Confirmed bookings overlapping it: this request cannot be approved while they hold.
    conflicts: list[ConflictPublic]
