from datetime import datetime

from pydantic import ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from booking.models import BookingState
from booking.schemas.common import Instant, Name


class BookingCreate(SQLModel):
    space_id: int
    organisation_id: int
    title: Name
    attendees: int = Field(default=1, ge=1, le=100_000)
    starts_at: Instant
    ends_at: Instant

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise ValueError("ends_at must be after starts_at")
        return ends_at


class OccurrencePublic(SQLModel):
    id: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
    state: BookingState


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
    created_at: datetime
    updated_at: datetime
    occurrences: list[OccurrencePublic]


class ConflictPublic(SQLModel):
    occurrence_id: int
    booking_id: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
