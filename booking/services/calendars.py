"""Opening hours, closures, and the calendar of one space assembled from them."""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Closure, OpeningHours, Space, SpaceTree, Venue
from booking.rules import hours
from booking.rules.availability import SpaceCalendar, holiday_intervals, whole_days
from booking.schemas.calendars import ClosureCreate, ClosurePublic, OpeningHoursPublic, OpeningWindow
from booking.services.common import PageRequest, get_or_404, page_of
from integrations.holidays import public_holidays


def _window(row: OpeningHours) -> hours.Window:
    return hours.Window(row.weekday, row.opens_min, row.closes_min, row.valid_from, row.valid_until)


def _public(source: str, windows: list[hours.Window]) -> OpeningHoursPublic:
    return OpeningHoursPublic(
        source=source,
        windows=[
            OpeningWindow(
                weekday=w.weekday,
                opens=hours.clock(w.opens_min),
                closes=hours.clock(w.closes_min),
                valid_from=w.valid_from,
                valid_until=w.valid_until,
            )
            for w in windows
        ],
    )


async def set_opening_hours(
    session: AsyncSession, *, venue_id: int | None = None, space_id: int | None = None, windows: list[OpeningWindow]
) -> OpeningHoursPublic:
    """Replace the venue's or the space's own weekly windows. An empty list removes them."""
    if space_id is not None:
        await get_or_404(session, Space, space_id)
    else:
        await get_or_404(session, Venue, venue_id)
    checked = hours.check(
        [
            hours.Window(w.weekday, hours.parse_clock(w.opens), hours.parse_clock(w.closes), w.valid_from, w.valid_until)
            for w in windows
        ]
    )
    owner = OpeningHours.space_id == space_id if space_id is not None else OpeningHours.venue_id == venue_id
    await session.execute(delete(OpeningHours).where(owner))
    session.add_all(
        OpeningHours(
            venue_id=venue_id,
            space_id=space_id,
            weekday=w.weekday,
            opens_min=w.opens_min,
            closes_min=w.closes_min,
            valid_from=w.valid_from,
            valid_until=w.valid_until,
        )
        for w in checked
    )
    await session.flush()
    return _public("space" if space_id is not None else "venue", checked)


async def _windows(session: AsyncSession, space_id: int, venue_id: int) -> tuple[str, list[hours.Window]]:
    """A space's own windows, else its venue's; ("none", []) when neither keeps hours."""
    rows = (
        await session.scalars(
            select(OpeningHours).where(or_(OpeningHours.space_id == space_id, OpeningHours.venue_id == venue_id))
        )
    ).all()
    own = [_window(row) for row in rows if row.space_id == space_id]
    if own:
        return "space", sorted(own)
    inherited = [_window(row) for row in rows if row.venue_id == venue_id]
    return ("venue", sorted(inherited)) if inherited else ("none", [])


async def space_opening_hours(session: AsyncSession, space_id: int) -> OpeningHoursPublic:
    space = await get_or_404(session, Space, space_id)
    return _public(*await _windows(session, space_id, space.venue_id))


async def venue_opening_hours(session: AsyncSession, venue_id: int) -> OpeningHoursPublic:
    await get_or_404(session, Venue, venue_id)
    rows = (await session.scalars(select(OpeningHours).where(OpeningHours.venue_id == venue_id))).all()
    windows = sorted(_window(row) for row in rows)
    return _public("venue" if windows else "none", windows)


def relatives(space_id: int):
    """Ids of the space, every space it is part of, and every part of it."""
    up = select(SpaceTree.ancestor_id).where(SpaceTree.descendant_id == space_id)
    down = select(SpaceTree.descendant_id).where(SpaceTree.ancestor_id == space_id)
    return up.union(down)


async def space_calendar(session: AsyncSession, space_id: int, start: datetime, end: datetime) -> SpaceCalendar:
    """The calendar of one space over [start, end): hours, closures, public holidays."""
    space = await get_or_404(session, Space, space_id)
    venue = await session.get(Venue, space.venue_id)
    zone = ZoneInfo(venue.timezone)
    _, windows = await _windows(session, space_id, venue.id)
    closed = await session.execute(
        select(Closure.starts_at, Closure.ends_at).where(
            Closure.starts_at < end,
            Closure.ends_at > start,
            or_(Closure.venue_id == venue.id, Closure.space_id.in_(relatives(space_id))),
        )
    )
    closures = [tuple(row) for row in closed]
    if venue.closes_on_public_holidays:
        first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        days = [day for day, _ in public_holidays(venue.country, first, last)]
        closures += holiday_intervals(days, zone)
    return SpaceCalendar(zone=zone, windows=windows, closures=sorted(closures))


async def create_closure(session: AsyncSession, data: ClosureCreate, *, now: datetime) -> ClosurePublic:
    if data.space_id is not None:
        space = await get_or_404(session, Space, data.space_id)
        venue = await session.get(Venue, space.venue_id)
    else:
        venue = await get_or_404(session, Venue, data.venue_id)
    starts_at, ends_at = data.starts_at, data.ends_at
    if data.start_date is not None:
        starts_at, ends_at = whole_days(data.start_date, data.end_date, ZoneInfo(venue.timezone))
    closure = Closure(
        venue_id=data.venue_id,
        space_id=data.space_id,
        starts_at=starts_at,
        ends_at=ends_at,
        start_date=data.start_date,
        end_date=data.end_date,
        reason=data.reason,
        note=data.note,
        created_at=now,
    )
    session.add(closure)
    await session.flush()
    return ClosurePublic.model_validate(closure)


async def list_closures(
    session: AsyncSession,
    page: PageRequest,
    *,
    venue_id: int | None,
    space_id: int | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[ClosurePublic], int]:
    """Closures, filtered; ``space_id`` also finds those of its venue, its parents and its parts."""
    stmt = select(Closure).order_by(Closure.starts_at, Closure.id)
    if space_id is not None:
        space = await get_or_404(session, Space, space_id)
        stmt = stmt.where(or_(Closure.venue_id == space.venue_id, Closure.space_id.in_(relatives(space_id))))
    if venue_id is not None:
        in_venue = select(Space.id).where(Space.venue_id == venue_id)
        stmt = stmt.where(or_(Closure.venue_id == venue_id, Closure.space_id.in_(in_venue)))
    if start is not None:
        stmt = stmt.where(Closure.ends_at > start)
    if end is not None:
        stmt = stmt.where(Closure.starts_at < end)
    closures, total = await page_of(session, stmt, page)
    return [ClosurePublic.model_validate(closure) for closure in closures], total
