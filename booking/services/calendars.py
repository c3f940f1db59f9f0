"""Opening hours, closures, and the calendar of one space assembled from them."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, delete, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import SLOT_HOLDING_STATES, Closure, Occurrence, OpeningHours, Space, SpaceTree, Venue
from booking.rules import hours
from booking.rules.availability import SpaceCalendar, holiday_intervals, whole_days
from booking.rules.intervals import Interval
from booking.rules.permissions import Actor
from booking.schemas.calendars import ClosureCreate, ClosurePublic, OpeningHoursPublic, OpeningWindow
from booking.services.common import PageRequest, delete_unreferenced, get_or_404, page_of
from booking.services.guards import require_space_manager, require_venue_manager
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
    session: AsyncSession,
    actor: Actor,
    *,
    venue_id: int | None = None,
    space_id: int | None = None,
    windows: list[OpeningWindow],
) -> OpeningHoursPublic:
    """Replace the venue's or the space's own weekly windows. An empty list removes them."""
    if space_id is not None:
        await require_space_manager(session, actor, space_id, "set this space's opening hours")
    else:
        await require_venue_manager(session, actor, venue_id, "set this venue's opening hours")
    checked = hours.check(
        [
            hours.Window(
                w.weekday, hours.parse_clock(w.opens), hours.parse_clock(w.closes), w.valid_from, w.valid_until
            )
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


def _effective(rows: list[OpeningHours], space_id: int, venue_id: int) -> tuple[str, list[hours.Window]]:
    """A space's own windows, else its venue's; ("none", []) when neither keeps hours."""
    own = [_window(row) for row in rows if row.space_id == space_id]
    if own:
        return "space", sorted(own, key=hours.ordering)
    inherited = [_window(row) for row in rows if row.venue_id == venue_id]
    return ("venue", sorted(inherited, key=hours.ordering)) if inherited else ("none", [])


_HOURS = OpeningHours.__table__.c
_HOURS_ROWS = select(
    _HOURS.space_id,
    _HOURS.venue_id,
    _HOURS.weekday,
    _HOURS.opens_min,
    _HOURS.closes_min,
    _HOURS.valid_from,
    _HOURS.valid_until,
).where(
    or_(
        _HOURS.space_id.in_(bindparam("space_ids", expanding=True)),
        _HOURS.venue_id.in_(bindparam("venue_ids", expanding=True)),
    )
)


async def _hours_rows(session: AsyncSession, space_ids, venue_ids) -> list:
    """The weekly windows of the spaces and of the venues (rows with the columns of OpeningHours)."""
    return list(await session.execute(_HOURS_ROWS, {"space_ids": list(space_ids), "venue_ids": list(venue_ids)}))


async def space_opening_hours(session: AsyncSession, space_id: int) -> OpeningHoursPublic:
    space = await get_or_404(session, Space, space_id)
    rows = await _hours_rows(session, [space_id], [space.venue_id])
    return _public(*_effective(rows, space_id, space.venue_id))


async def venue_opening_hours(session: AsyncSession, venue_id: int) -> OpeningHoursPublic:
    await get_or_404(session, Venue, venue_id)
    rows = (await session.scalars(select(OpeningHours).where(OpeningHours.venue_id == venue_id))).all()
    windows = sorted((_window(row) for row in rows), key=hours.ordering)
    return _public("venue" if windows else "none", windows)


def relatives(space_ids):
    """(space, related) pairs: each space with itself, every space it is part of, every part of it."""
    up = select(SpaceTree.descendant_id, SpaceTree.ancestor_id).where(SpaceTree.descendant_id.in_(space_ids))
    down = select(SpaceTree.ancestor_id, SpaceTree.descendant_id).where(SpaceTree.ancestor_id.in_(space_ids))
    return up.union(down)


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """What a space's calendar needs to know about its venue."""

    id: int
    timezone: str
    closes_on_public_holidays: bool
    country: str


async def venue_infos(session: AsyncSession, space_ids: list[int]) -> dict[int, VenueInfo]:
    rows = await session.execute(
        select(Space.id, Venue.id, Venue.timezone, Venue.closes_on_public_holidays, Venue.country)
        .join(Venue, Venue.id == Space.venue_id)
        .where(Space.id.in_(space_ids))
    )
    return {space_id: VenueInfo(*venue) for space_id, *venue in rows}


def _closures():
    """Built once: the closures over [start, end) of each of ``space_ids``: its own, those of the
    spaces it is part of or that are part of it, and its venue's."""
    space_ids = bindparam("space_ids", expanding=True)
    pairs = relatives(space_ids).subquery()
    closure, space = Closure.__table__.c, Space.__table__.c
    overlapping = and_(closure.starts_at < bindparam("end"), closure.ends_at > bindparam("start"))
    own_or_related = (
        select(pairs.c[0], closure.starts_at, closure.ends_at)
        .join(Closure.__table__, closure.space_id == pairs.c[1])
        .where(overlapping)
    )
    of_venue = (
        select(space.id, closure.starts_at, closure.ends_at)
        .join(Closure.__table__, closure.venue_id == space.venue_id)
        .where(space.id.in_(space_ids), overlapping)
    )
    return union_all(own_or_related, of_venue)


_CLOSURES = _closures()


async def calendars(
    session: AsyncSession, venues: dict[int, VenueInfo], start: datetime, end: datetime
) -> dict[int, SpaceCalendar]:
    """The calendars of spaces (keyed with their venues) over [start, end): hours, closures, holidays.

    Two queries however many spaces: their hours, and the closures that concern them.
    """
    space_ids = list(venues)
    hours_rows = await _hours_rows(session, space_ids, {venue.id for venue in venues.values()})
    closures: dict[int, list] = {space_id: [] for space_id in space_ids}
    found = await session.execute(_CLOSURES, {"space_ids": space_ids, "start": start, "end": end})
    for space_id, starts_at, ends_at in found:
        closures[space_id].append((starts_at, ends_at))
    own_rows: dict[int, list[OpeningHours]] = {}
    venue_rows: dict[int, list[OpeningHours]] = {}
    for row in hours_rows:
        if row.space_id is not None:
            own_rows.setdefault(row.space_id, []).append(row)
        else:
            venue_rows.setdefault(row.venue_id, []).append(row)
    return {
        space_id: space_calendar(
            space_id, venue, own_rows.get(space_id, []) + venue_rows.get(venue.id, []), closures[space_id], start, end
        )
        for space_id, venue in venues.items()
    }


class HoursRow(NamedTuple):
    """A row of opening hours as the calendar reads it (the columns of ``_HOURS_ROWS``)."""

    space_id: int | None
    venue_id: int | None
    weekday: int
    opens_min: int
    closes_min: int
    valid_from: date | None
    valid_until: date | None


def space_calendar(
    space_id: int, venue: VenueInfo, hours_rows: list, closures: list[Interval], start: datetime, end: datetime
) -> SpaceCalendar:
    """The calendar of a space over [start, end) from the hours rows of it and its venue and the
    closures that concern it; public holidays added where the venue closes on them."""
    zone = ZoneInfo(venue.timezone)
    if venue.closes_on_public_holidays:
        closures = closures + _holidays(venue.country, zone, start, end)
    _, windows = _effective(hours_rows, space_id, venue.id)
    return SpaceCalendar(zone=zone, windows=windows, closures=sorted(closures))


def _holidays(country: str, zone: ZoneInfo, start: datetime, end: datetime):
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return holiday_intervals([day for day, _ in public_holidays(country, first, last)], zone)


async def busy_by_space(
    session: AsyncSession, space_ids: list[int], start: datetime, end: datetime, *, except_bookings=None
) -> dict[int, list[Interval]]:
    """Blocked ranges of every slot-holding occurrence on any leaf under each space
    (leaving out the bookings ``except_bookings`` selects, e.g. those being re-planned)."""
    stmt = (
        select(SpaceTree.ancestor_id, Occurrence.blocked_start_at, Occurrence.blocked_end_at)
        .join(Occurrence, Occurrence.space_id == SpaceTree.descendant_id)
        .where(
            SpaceTree.ancestor_id.in_(space_ids),
            Occurrence.state.in_(SLOT_HOLDING_STATES),
            Occurrence.blocked_start_at < end,
            Occurrence.blocked_end_at > start,
        )
    )
    if except_bookings is not None:
        stmt = stmt.where(Occurrence.booking_id.not_in(except_bookings))
    busy: dict[int, list[Interval]] = {space_id: [] for space_id in space_ids}
    for space_id, blocked_start, blocked_end in await session.execute(stmt):
        busy[space_id].append((blocked_start, blocked_end))
    return busy


async def create_closure(session: AsyncSession, actor: Actor, data: ClosureCreate, *, now: datetime) -> ClosurePublic:
    if data.space_id is not None:
        await require_space_manager(session, actor, data.space_id, "close this space")
        space = await get_or_404(session, Space, data.space_id)
        venue = await session.get(Venue, space.venue_id)
    else:
        await require_venue_manager(session, actor, data.venue_id, "close this venue")
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


async def delete_closure(session: AsyncSession, actor: Actor, closure_id: int) -> None:
    closure = await get_or_404(session, Closure, closure_id)
    if closure.space_id is not None:
        await require_space_manager(session, actor, closure.space_id, "reopen this space")
    else:
        await require_venue_manager(session, actor, closure.venue_id, "reopen this venue")
    await delete_unreferenced(session, closure, "closure")


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
        related = select(relatives([space_id]).subquery().c[1])
        stmt = stmt.where(or_(Closure.venue_id == space.venue_id, Closure.space_id.in_(related)))
    if venue_id is not None:
        in_venue = select(Space.id).where(Space.venue_id == venue_id)
        stmt = stmt.where(or_(Closure.venue_id == venue_id, Closure.space_id.in_(in_venue)))
    if start is not None:
        stmt = stmt.where(Closure.ends_at > start)
    if end is not None:
        stmt = stmt.where(Closure.starts_at < end)
    closures, total = await page_of(session, stmt, page)
    return [ClosurePublic.model_validate(closure) for closure in closures], total
