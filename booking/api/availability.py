"""Free/busy of a space, the search for free spaces, and the slot finder."""

from datetime import date, datetime, timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from booking.api.deps import Now, PageParams, Session
from booking.errors import InvalidRequest
from booking.models import SpaceKind
from booking.rules.hours import parse_clock
from booking.schemas.availability import SlotSearch, SpaceAvailability, SpaceMatch
from booking.schemas.common import Page, aware
from booking.services import availability
from booking.services.availability import SlotQuery, SpaceFilter

Features = Annotated[str | None, QueryParameter(description="comma-separated; a space must have all of them")]
Near = Annotated[str | None, QueryParameter(description="lat,lon: rank by distance from here")]


def space_filter(capacity: int | None, features: str | None, kind, region_id: int | None, near: str | None):
    point = None
    if near:
        try:
            lat, lon = (float(part) for part in near.split(","))
        except ValueError as error:
            raise InvalidRequest("near must be lat,lon", field="near") from error
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidRequest("near is outside the globe", field="near")
        point = (lat, lon)
    wanted = tuple(sorted({f.strip().lower() for f in (features or "").split(",") if f.strip()}))
    return SpaceFilter(capacity=capacity, features=wanted, kind=kind, region_id=region_id, near=point)


def _weekdays(text: str) -> frozenset[int]:
    try:
        days = frozenset(int(part) for part in text.split(","))
    except ValueError as error:
        raise InvalidRequest("weekdays must be numbers 0 (Monday) to 6 (Sunday)", field="weekdays") from error
    if not days or not days <= set(range(7)):
        raise InvalidRequest("weekdays must be numbers 0 (Monday) to 6 (Sunday)", field="weekdays")
    return days


def _clock(field: str, text: str) -> int:
    try:
        return parse_clock(text)
    except ValueError as error:
        raise InvalidRequest(str(error), field=field) from error


class AvailabilityController(Controller):
    tags = ["availability"]

    @get("/spaces/{space_id:int}/availability")
    async def space_availability(
        self, session: Session, space_id: FromPath[int], start: FromQuery[datetime], end: FromQuery[datetime]
    ) -> SpaceAvailability:
        """Open, busy and free intervals of one space within [start, end) (at most 31 days)."""
        return await availability.space_availability(session, space_id, aware("start", start), aware("end", end))

    @get("/availability")
    async def search(
        self,
        session: Session,
        page: PageParams,
        start: FromQuery[datetime],
        end: FromQuery[datetime],
        capacity: FromQuery[int | None] = None,
        features: Features = None,
        kind: FromQuery[SpaceKind | None] = None,
        region_id: FromQuery[int | None] = None,
        near: Near = None,
    ) -> Page[SpaceMatch]:
        """Spaces free for the whole window, filtered (features: all; region: whole subtree), ranked."""
        where = space_filter(capacity, features, kind, region_id, near)
        items, total = await availability.search(session, where, aware("start", start), aware("end", end), page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/availability/slots")
    async def find_slots(
        self,
        session: Session,
        now: Now,
        duration_min: Annotated[int, QueryParameter(ge=5, le=24 * 60)],
        from_date: FromQuery[date],
        to_date: FromQuery[date],
        weekdays: Annotated[str, QueryParameter(description="e.g. 0,1,2,3,4 (0 = Monday)")] = "0,1,2,3,4,5,6",
        time_from: Annotated[str, QueryParameter(description="local time of day, HH:MM")] = "00:00",
        time_to: Annotated[str, QueryParameter(description="local time of day, HH:MM (24:00 = midnight)")] = "24:00",
        step_min: Annotated[int, QueryParameter(ge=5, le=240)] = 15,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
        capacity: FromQuery[int | None] = None,
        features: Features = None,
        kind: FromQuery[SpaceKind | None] = None,
        region_id: FromQuery[int | None] = None,
        near: Near = None,
    ) -> SlotSearch:
        """The earliest free slots of ``duration_min`` on the given weekdays and local hours."""
        query = SlotQuery(
            duration=timedelta(minutes=duration_min),
            from_date=from_date,
            to_date=to_date,
            weekdays=_weekdays(weekdays),
            from_min=_clock("time_from", time_from),
            to_min=_clock("time_to", time_to),
            step_min=step_min,
            limit=limit,
        )
        return await availability.find_slots(
            session, space_filter(capacity, features, kind, region_id, near), query, now=now
        )
