"""The public class catalogue: what a resident sees when choosing a class. Nothing here names a
person except a teacher's public display name.

msgspec structs rather than pydantic models: a page builds several hundred of them from rows the
database has already typed, so they need no validation, and the framework encodes them directly.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from booking.models import EnrolmentMode


class TimeOfDay(StrEnum):
    """Bands of a session's local start: morning before 12:00, afternoon until 18:00, evening after."""

    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class Named(Struct):
    """An id and a name: enough to show a region or an organisation and link to it."""

    id: int
    name: str


class CatalogueRegion(Struct):
    """Where the class is, as residents name it: the community of its (first) venue and its town."""

    community: Named | None
    town: Named | None


class CatalogueVenue(Struct, kw_only=True):
    id: int
    name: str
    address: str
    region_id: int
    region_name: str
    latitude: float | None
    longitude: float | None
    distance_km: Annotated[float | None, Meta(description="from `near`, when given")] = None


class WeeklyTime(Struct):
    """One weekly session in the venue's local time."""

    weekday: Annotated[int, Meta(description="0 = Monday … 6 = Sunday")]
    start: Annotated[str, Meta(description="HH:MM, local")]
    end: Annotated[str, Meta(description="HH:MM, local")]
    venue_id: int


class EnrolmentWindow(Struct):
    opens_at: datetime
    closes_at: datetime
    mode: EnrolmentMode


class FeedAddresses(Struct):
    https: str
    webcal: str


class CatalogueItem(Struct, kw_only=True):
    """A class of a committed term. ``seats`` and ``seats_left`` come from the class's enrolment
    policy and are null until it has one (no seats are given out before that)."""

    id: int
    title: str
    category: str
    target_group: str
    organisation: Annotated[Named, Meta(description="the organisation offering the class (id, name)")]
    venues: Annotated[list[CatalogueVenue], Meta(description="nearest first with `near`, otherwise by id")]
    region: CatalogueRegion
    weekly_times: list[WeeklyTime]
    term_start: date
    term_end: date
    seats: int | None
    seats_left: int | None
    applicants: Annotated[int, Meta(description="applications applied, enrolled or waitlisted")]
    enrolment: EnrolmentWindow | None
    teachers: Annotated[list[str], Meta(description="display names of the class's teachers")]
    feed: FeedAddresses
    distance_km: Annotated[float | None, Meta(description="to the nearest venue, from `near`, when given")] = None


class CataloguePage(Struct):
    """One page of the catalogue; ``total`` counts every match."""

    items: list[CatalogueItem]
    total: int
    limit: int
    offset: int
