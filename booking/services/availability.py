"""Free/busy of one space, the search for spaces free for a whole window, and the slot finder.

The search is one SQL query (filters, opening hours, closures, holidays and bookings all in
the database, on indexes); the slot finder narrows candidates in SQL and then works out free
intervals for a bounded number of spaces with the pure rules.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, literal, not_, or_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, WindowTooLong
from booking.models import SLOT_HOLDING_STATES, Closure, Occurrence, OpeningHours, Space, SpaceTree, Venue
from booking.rules import hours
from booking.rules.availability import availability, holiday_intervals
from booking.rules.intervals import Interval, overlaps
from booking.schemas.availability import (
    FreeSlot,
    IntervalPublic,
    SlotSearch,
    SpaceAvailability,
    SpaceMatch,
    VenueBrief,
)
from booking.schemas.common import local
from booking.services.calendars import busy_by_space, calendars, venue_infos
from booking.services.common import PageRequest, get_or_404
from booking.services.places import region_subtree
from integrations.holidays import public_holidays

MAX_WINDOW = timedelta(days=31)
MAX_SLOT_SPACES = 300  # candidate spaces one slot search looks at
METRES_PER_DEGREE = 111_195.0


@dataclass(frozen=True, slots=True)
class SpaceFilter:
    capacity: int | None = None
    features: tuple[str, ...] = ()
    kind: str | None = None
    region_id: int | None = None
    near: tuple[float, float] | None = None


def check_window(start: datetime, end: datetime, *, limit: timedelta = MAX_WINDOW) -> None:
    if end <= start:
        raise InvalidRequest("end must be after start", field="end")
    if end - start > limit:
        raise WindowTooLong(f"a window may span at most {limit.days} days", limit_days=limit.days)


def _interval_list(intervals: list[Interval]) -> list[IntervalPublic]:
    return [IntervalPublic(starts_at=s, ends_at=e) for s, e in intervals]


async def space_availability(session: AsyncSession, space_id: int, start: datetime, end: datetime) -> SpaceAvailability:
    check_window(start, end)
    await get_or_404(session, Space, space_id)
    calendar = (await calendars(session, await venue_infos(session, [space_id]), start, end))[space_id]
    opened, busy, free = availability(
        calendar, (await busy_by_space(session, [space_id], start, end))[space_id], start, end
    )
    return SpaceAvailability(
        space_id=space_id,
        timezone=calendar.zone.key,
        start=start,
        end=end,
        open=_interval_list(opened),
        busy=_interval_list(busy),
        free=_interval_list(free),
    )


# ---- the search: one query -------------------------------------------------------------------


def _has_features(dialect: str, features: tuple[str, ...]):
    if dialect == "postgresql":
        return type_coerce(Space.features, JSONB).op("@>")(type_coerce(list(features), JSONB))
    clauses = []
    for feature in features:
        each = func.json_each(Space.features).table_valued("value")
        clauses.append(exists(select(literal(1)).select_from(each).where(each.c.value == feature)))
    return and_(*clauses)


def _matching(dialect: str, where: SpaceFilter):
    """Spaces and their venues that match the static filters, best first."""
    stmt = select(Space, Venue).join(Venue, Venue.id == Space.venue_id)
    if where.capacity is not None:
        stmt = stmt.where(Space.capacity >= where.capacity)
    if where.kind is not None:
        stmt = stmt.where(Space.kind == where.kind)
    if where.region_id is not None:
        stmt = stmt.where(Venue.region_id.in_(select(region_subtree(where.region_id))))
    if where.features:
        stmt = stmt.where(_has_features(dialect, where.features))
    if where.near is not None:
        lat, lon = where.near
        squeeze = math.cos(math.radians(lat))
        squared = (Venue.latitude - lat) * (Venue.latitude - lat) + (Venue.longitude - lon) * (
            Venue.longitude - lon
        ) * (squeeze * squeeze)
        stmt = stmt.order_by(case((Venue.latitude.is_(None), 1), else_=0), squared)
    # Without a place to be near, the best fit comes first: the smallest space that is big enough.
    return stmt.order_by(Space.capacity, Space.id)


def _not_booked(start: datetime, end: datetime):
    """No slot-holding occurrence on any leaf of the space reaches into [start, end).

    Two bounded probes on the (space_id, blocked_start_at) index instead of a range scan: one
    for occurrences starting inside the window; one for the last occurrence starting before it,
    the only one that can reach into it, since a leaf's holding occurrences never overlap.
    """
    holding_on_leaf = and_(Occurrence.space_id == SpaceTree.descendant_id, Occurrence.state.in_(SLOT_HOLDING_STATES))
    starting_inside = exists(
        select(literal(1)).where(
            holding_on_leaf, Occurrence.blocked_start_at >= start, Occurrence.blocked_start_at < end
        )
    )
    last_before = (
        select(Occurrence.blocked_end_at)
        .where(holding_on_leaf, Occurrence.blocked_start_at < start)
        .order_by(Occurrence.blocked_start_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return ~exists(
        select(literal(1))
        .select_from(SpaceTree)
        .where(SpaceTree.ancestor_id == Space.id, or_(starting_inside, last_before > start))
    )


def _not_closed(start: datetime, end: datetime):
    """No closure of the venue, of a space the space is part of, or of a part of it (three probes)."""
    live = and_(Closure.starts_at < end, Closure.ends_at > start)
    of_venue = exists(select(literal(1)).where(Closure.venue_id == Space.venue_id, live))
    above = exists(
        select(literal(1))
        .select_from(SpaceTree)
        .join(Closure, Closure.space_id == SpaceTree.ancestor_id)
        .where(SpaceTree.descendant_id == Space.id, live)
    )
    below = exists(
        select(literal(1))
        .select_from(SpaceTree)
        .join(Closure, Closure.space_id == SpaceTree.descendant_id)
        .where(SpaceTree.ancestor_id == Space.id, live)
    )
    return and_(~of_venue, ~above, ~below)


def _open_throughout(pieces: list[hours.DayPiece]):
    """Open for every piece of the window: under the space's own hours, else its venue's, else always.

    Written as uncorrelated IN-lists so each runs once per query, not once per space.
    """

    def covering(owner, piece: hours.DayPiece):
        return select(owner).where(
            OpeningHours.weekday == piece.day.weekday(),
            OpeningHours.opens_min <= piece.from_min,
            OpeningHours.closes_min >= piece.to_min,
            or_(OpeningHours.valid_from.is_(None), OpeningHours.valid_from <= piece.day),
            or_(OpeningHours.valid_until.is_(None), OpeningHours.valid_until >= piece.day),
        )

    keeps_own = select(OpeningHours.space_id).where(OpeningHours.space_id.is_not(None))
    venue_keeps = select(OpeningHours.venue_id).where(OpeningHours.venue_id.is_not(None))
    return case(
        (Space.id.in_(keeps_own), and_(*(Space.id.in_(covering(OpeningHours.space_id, p)) for p in pieces))),
        (
            Space.venue_id.in_(venue_keeps),
            and_(*(Space.venue_id.in_(covering(OpeningHours.venue_id, p)) for p in pieces)),
        ),
        else_=true(),
    )


def _hours_by_zone(zones: set[str], start: datetime, end: datetime):
    """Per venue time zone in use: the opening-hours condition for the window."""
    return or_(
        *(
            and_(Venue.timezone == zone, _open_throughout(hours.day_pieces(start, end, ZoneInfo(zone))))
            for zone in sorted(zones)
        )
    )


def _not_holiday(closing: set[tuple[str, str]], start: datetime, end: datetime):
    """Venues that close on public holidays are out when a holiday of theirs touches the window."""
    affected = []
    for country, zone_name in sorted(closing):
        zone = ZoneInfo(zone_name)
        days = [day for day, _ in public_holidays(country, start.astimezone(zone).date(), end.astimezone(zone).date())]
        if any(overlaps(s, e, start, end) for s, e in holiday_intervals(days, zone)):
            affected.append(and_(Venue.country == country, Venue.timezone == zone_name))
    return not_(and_(Venue.closes_on_public_holidays, or_(*affected))) if affected else true()


def venue_distance_m(near: tuple[float, float] | None, venue: Venue) -> float | None:
    if near is None or venue.latitude is None or venue.longitude is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*near, venue.latitude, venue.longitude))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * 6_371_000 * math.asin(math.sqrt(a)), 1)


def _match(space: Space, venue: Venue, near) -> SpaceMatch:
    return SpaceMatch(
        space_id=space.id,
        name=space.name,
        kind=space.kind,
        capacity=space.capacity,
        features=space.features,
        venue=VenueBrief.model_validate(venue),
        distance_m=venue_distance_m(near, venue),
    )


async def search(
    session: AsyncSession, where: SpaceFilter, start: datetime, end: datetime, page: PageRequest
) -> tuple[list[SpaceMatch], int]:
    """Spaces free for the whole of [start, end): open, not closed, not booked; ranked, paged."""
    check_window(start, end)
    dialect = session.bind.dialect.name
    # The zones and holiday calendars in use shape the query: one small look first.
    kinds = (
        await session.execute(select(Venue.timezone, Venue.country, Venue.closes_on_public_holidays).distinct())
    ).all()
    stmt = (
        _matching(dialect, where)
        .add_columns(func.count().over().label("total"))
        .where(
            _hours_by_zone({zone for zone, _, _ in kinds}, start, end),
            _not_holiday({(country, zone) for zone, country, closes in kinds if closes}, start, end),
            _not_closed(start, end),
            _not_booked(start, end),
        )
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = (await session.execute(stmt)).all()
    total = rows[0].total if rows else 0
    return [_match(space, venue, where.near) for space, venue, _ in rows], total


# ---- the slot finder ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotQuery:
    duration: timedelta
    from_date: date
    to_date: date
    weekdays: frozenset[int]
    from_min: int  # local minutes after midnight
    to_min: int  # up to 1440 (24:00)
    step_min: int = 15
    limit: int = 20


def _candidate_windows(query: SlotQuery, zone: ZoneInfo) -> list[Interval]:
    """The local time-of-day window on each wanted date, as instants."""
    found = []
    for offset in range((query.to_date - query.from_date).days + 1):
        day = query.from_date + timedelta(days=offset)
        if day.weekday() in query.weekdays:
            midnight = datetime.combine(day, time())
            start = (midnight + timedelta(minutes=query.from_min)).replace(tzinfo=zone)
            end = (midnight + timedelta(minutes=query.to_min)).replace(tzinfo=zone)
            found.append((start.astimezone(UTC), end.astimezone(UTC)))
    return found


def _earliest(free: list[Interval], wanted: Interval, query: SlotQuery, now: datetime) -> list[Interval]:
    """Per free stretch inside ``wanted``: the first step-aligned start that fits, and where it ends."""
    found = []
    step = timedelta(minutes=query.step_min)
    for free_start, free_end in free:
        start, end = max(free_start, wanted[0], now), min(free_end, wanted[1])
        offset = (start - wanted[0]) % step
        if offset:
            start += step - offset
        if start + query.duration <= end:
            found.append((start, free_end))
    return found


async def find_slots(session: AsyncSession, where: SpaceFilter, query: SlotQuery, *, now: datetime) -> SlotSearch:
    """The earliest free slots of ``duration`` across matching spaces, on the wanted days and hours."""
    if query.to_date < query.from_date:
        raise InvalidRequest("to_date must not be before from_date", field="to_date")
    if (query.to_date - query.from_date).days + 1 > MAX_WINDOW.days:
        raise WindowTooLong(f"a slot search may span at most {MAX_WINDOW.days} days", limit_days=MAX_WINDOW.days)
    if query.to_min <= query.from_min:
        raise InvalidRequest("time_to must be after time_from", field="time_to")
    rows = (await session.execute(_matching(session.bind.dialect.name, where).limit(MAX_SLOT_SPACES + 1))).all()
    truncated = len(rows) > MAX_SLOT_SPACES
    rows = rows[:MAX_SLOT_SPACES]
    slots: list[FreeSlot] = []
    if rows:
        span_start = datetime.combine(query.from_date - timedelta(days=1), time(), UTC)
        span_end = datetime.combine(query.to_date + timedelta(days=2), time(), UTC)
        ids = [space.id for space, _ in rows]
        found_calendars = await calendars(session, await venue_infos(session, ids), span_start, span_end)
        busy = await busy_by_space(session, ids, span_start, span_end)
        for space, venue in rows:
            calendar = found_calendars[space.id]
            for wanted in _candidate_windows(query, calendar.zone):
                _, _, free = availability(calendar, busy[space.id], *wanted)
                for start, free_until in _earliest(free, wanted, query, now):
                    slots.append(
                        FreeSlot(
                            space_id=space.id,
                            venue_id=venue.id,
                            starts_at=start,
                            ends_at=start + query.duration,
                            local_starts_at=local(start, venue.timezone),
                            free_until=free_until,
                            distance_m=venue_distance_m(where.near, venue),
                        )
                    )
    slots.sort(key=lambda slot: (slot.starts_at, slot.distance_m or 0.0, slot.space_id))
    return SlotSearch(
        slots=slots[: query.limit],
        spaces_considered=len(rows),
        truncated=truncated,
        from_date=query.from_date,
        to_date=query.to_date,
    )
