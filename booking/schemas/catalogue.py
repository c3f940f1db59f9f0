"""The public class catalogue: what a resident sees when choosing a class. Nothing here names a
person except a teacher's public display name.

Plain pydantic models rather than SQLModel ones: a page builds several hundred of them, and
SQLModel's constructor costs about four times as much.
"""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from booking.models import EnrolmentMode
from booking.schemas.feeds import FeedLinks


class TimeOfDay(StrEnum):
    """Bands of a session's local start: morning before 12:00, afternoon until 18:00, evening after."""

    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class Named(BaseModel):
    """An id and a name: enough to show a region or an organisation and link to it."""

    id: int
    name: str


class CatalogueRegion(BaseModel):
    """Where the class is, as residents name it: the community of its (first) venue and its town."""

    community: Named | None
    town: Named | None


class CatalogueVenue(BaseModel):
    id: int
    name: str
    address: str
    region_id: int
    region_name: str
    latitude: float | None
    longitude: float | None
    distance_km: float | None = Field(default=None, description="from `near`, when given")


class WeeklyTime(BaseModel):
    """One weekly session in the venue's local time."""

    weekday: int = Field(description="0 = Monday … 6 = Sunday")
    start: str = Field(description="HH:MM, local")
    end: str = Field(description="HH:MM, local")
    venue_id: int


class EnrolmentWindow(BaseModel):
    opens_at: datetime
    closes_at: datetime
    mode: EnrolmentMode


class CatalogueItem(BaseModel):
    """A class of a committed term. ``seats`` and ``seats_left`` come from the class's enrolment
    policy and are null until it has one (no seats are given out before that)."""

    id: int
    title: str
    category: str
    target_group: str
    organisation: Named = Field(description="the organisation offering the class (id, name)")
    venues: list[CatalogueVenue] = Field(description="nearest first with `near`, otherwise by id")
    region: CatalogueRegion
    weekly_times: list[WeeklyTime]
    term_start: date
    term_end: date
    seats: int | None
    seats_left: int | None
    applicants: int = Field(description="applications applied, enrolled or waitlisted")
    enrolment: EnrolmentWindow | None
    teachers: list[str] = Field(description="display names of the class's teachers")
    feed: FeedLinks
    distance_km: float | None = Field(default=None, description="to the nearest venue, from `near`, when given")
