from datetime import date, datetime

from sqlmodel import Field, SQLModel

from booking.models import SpaceKind, VenueKind


class IntervalPublic(SQLModel):
    starts_at: datetime
    ends_at: datetime


class SpaceAvailability(SQLModel):
    """Within the window: when the space is open, when it is taken, and what is left free."""

    space_id: int
    timezone: str
    start: datetime
    end: datetime
    open: list[IntervalPublic]
    busy: list[IntervalPublic]  # no names, no organisations: free/busy only
    free: list[IntervalPublic]


class VenueBrief(SQLModel):
    id: int
    name: str
    kind: VenueKind
    region_id: int
    address: str
    latitude: float | None
    longitude: float | None
    timezone: str


class SpaceMatch(SQLModel):
    space_id: int
    name: str
    kind: SpaceKind
    capacity: int
    features: list[str]
    venue: VenueBrief
    distance_m: float | None = Field(default=None, description="from `near`, when given")


class FreeSlot(SQLModel):
    space_id: int
    venue_id: int
    starts_at: datetime
    ends_at: datetime
    local_starts_at: datetime
    # How long the space stays free from starts_at (at least the requested duration).
    free_until: datetime
    distance_m: float | None = None


class SlotSearch(SQLModel):
    slots: list[FreeSlot]
    spaces_considered: int
    truncated: bool = Field(description="more spaces matched than one search considers; narrow the filters")
    from_date: date
    to_date: date
