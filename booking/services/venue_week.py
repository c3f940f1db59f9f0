"""A venue as its public page shows it: its spaces, opening hours and one week of open and busy
time per space (no names, no organisations: free/busy only)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest
from booking.models import Region, Space, Venue
from booking.rules.availability import availability
from booking.rules.intervals import Interval
from booking.schemas.calendars import OpeningHoursPublic
from booking.services.calendars import busy_by_space, calendars, venue_infos, venue_opening_hours
from booking.services.common import get_or_404

WEEKS_AROUND = 104  # a week page may be asked for up to two years either side of today


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    open: list[tuple[datetime, datetime]]  # local to the venue
    busy: list[tuple[datetime, datetime]]


@dataclass(frozen=True, slots=True)
class SpaceWeek:
    space: Space
    days: list[Day]


@dataclass(frozen=True, slots=True)
class VenueWeek:
    venue: Venue
    region: str
    hours: OpeningHoursPublic
    monday: date
    spaces: list[SpaceWeek]


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def venue_week(session: AsyncSession, venue_id: int, monday: date | None, *, now: datetime) -> VenueWeek:
    venue = await get_or_404(session, Venue, venue_id)
    zone = ZoneInfo(venue.timezone)
    this_week = week_of(now.astimezone(zone).date())
    monday = week_of(monday) if monday is not None else this_week
    if abs((monday - this_week).days) > WEEKS_AROUND * 7:
        raise InvalidRequest(f"a week within {WEEKS_AROUND} weeks of today, please", field="week")
    spaces = list(
        (await session.scalars(select(Space).where(Space.venue_id == venue_id).order_by(Space.name, Space.id))).all()
    )
    start = datetime.combine(monday, datetime.min.time(), zone)
    end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), zone)
    ids = [space.id for space in spaces]
    by_space = await calendars(session, await venue_infos(session, ids), start, end) if ids else {}
    busy = await busy_by_space(session, ids, start, end) if ids else {}
    weeks = []
    for space in spaces:
        opened, taken, _ = availability(by_space[space.id], busy[space.id], start, end)
        days = [
            Day(day, _on(opened, day, zone), _on(taken, day, zone))
            for day in (monday + timedelta(days=n) for n in range(7))
        ]
        weeks.append(SpaceWeek(space, days))
    region = await session.scalar(select(Region.name).where(Region.id == venue.region_id))
    return VenueWeek(venue, region or "", await venue_opening_hours(session, venue_id), monday, weeks)


def _on(intervals: list[Interval], day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The parts of ``intervals`` on a local day, in local time."""
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return [
        (max(a, start).astimezone(zone), min(b, end).astimezone(zone)) for a, b in intervals if a < end and b > start
    ]
