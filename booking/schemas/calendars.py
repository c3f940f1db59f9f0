"""Opening hours and closures."""

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from sqlmodel import SQLModel

from booking.models import ClosureReason
from booking.rules.hours import parse_clock
from booking.schemas.common import Instant

MAX_WINDOWS = 100


def _clock(text: str) -> str:
    parse_clock(text)
    return text


Clock = Annotated[str, Field(description="HH:MM local time; closes may be 24:00"), AfterValidator(_clock)]


class OpeningWindow(SQLModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    opens: Clock
    closes: Clock
    valid_from: date | None = None
    valid_until: date | None = None


OpeningWindows = Annotated[list[OpeningWindow], Field(max_length=MAX_WINDOWS)]


class OpeningHoursPublic(SQLModel):
    # "space": the space's own; "venue": inherited; "none": no hours kept, bookable at any time.
    source: str
    windows: list[OpeningWindow]


class ClosureCreate(SQLModel):
    """Either instants (``starts_at``/``ends_at``) or whole local days (``start_date``/``end_date``)."""

    venue_id: int | None = None
    space_id: int | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    start_date: date | None = None
    end_date: date | None = None
    reason: ClosureReason
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _one_owner_one_period(self) -> "ClosureCreate":
        if (self.venue_id is None) == (self.space_id is None):
            raise ValueError("give exactly one of venue_id and space_id")
        instants = self.starts_at is not None or self.ends_at is not None
        days = self.start_date is not None or self.end_date is not None
        if instants == days:
            raise ValueError("give either starts_at/ends_at or start_date/end_date")
        if instants and (self.starts_at is None or self.ends_at is None or self.ends_at <= self.starts_at):
            raise ValueError("ends_at must be after starts_at")
        if days and (self.start_date is None or self.end_date is None or self.end_date < self.start_date):
            raise ValueError("end_date must be on or after start_date")
        return self


class ClosurePublic(SQLModel):
    id: int
    venue_id: int | None
    space_id: int | None
    starts_at: datetime
    ends_at: datetime
    start_date: date | None
    end_date: date | None
    reason: ClosureReason
    note: str
