"""Import a calendar (.ics) as closures of a venue or a space, or preview what that would do.

A calendar is known by its *source* key: the caller's ``source`` if given, else the URL it was
fetched from, else ``upload:<X-WR-CALNAME or NAME>`` (``upload:<PRODID>`` for a calendar without
a name). Each closure remembers its source and the event instance it came from (``source_uid``:
the UID, plus ``#<original start>`` for an instance of a series). Re-importing the same source
for the same place creates what is new, updates what changed, leaves the rest, and removes the
closures of that source inside the import window that the calendar no longer has; closures
before the window (history) are kept. Everything happens in the request's transaction: any
error leaves nothing imported.
"""

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking import errors
from booking.models import SLOT_HOLDING_STATES, Booking, Closure, ClosureReason, Occurrence, Space, SpaceTree, Venue
from booking.rules.availability import whole_days
from booking.rules.permissions import Actor
from booking.schemas.imports import CollidingBooking, ImportedClosure, ImportReport, SkippedEvent
from booking.services.common import get_or_404
from booking.services.guards import require_space_manager, require_venue_manager
from integrations.fetch import FetchError, fetch
from integrations.ical_import import LIMITS, CalendarEvent, CalendarRejected, parse_calendar

Fetcher = Callable[[str], Awaitable[bytes]]
MAX_NOTE = 500
REJECTIONS: dict[str, type[errors.VenueshareError]] = {
    "calendar_too_large": errors.CalendarTooLarge,
    "calendar_too_complex": errors.CalendarTooComplex,
    "invalid_calendar": errors.InvalidCalendar,
    "unknown_timezone": errors.UnknownTimezone,
    "unsupported_recurrence": errors.UnsupportedRecurrence,
    "recurrence_too_long": errors.RecurrenceTooLong,
    "too_many_occurrences": errors.TooManyOccurrences,
    "url_not_allowed": errors.UrlNotAllowed,
    "fetch_failed": errors.FetchFailed,
}


async def fetch_url(url: str) -> bytes:
    """The real fetcher: public addresses only, capped at the import size limit."""
    return await asyncio.to_thread(fetch, url, max_bytes=LIMITS.max_bytes)


@dataclass(frozen=True, slots=True)
class Owner:
    """The venue or the space the closures belong to."""

    venue_id: int | None
    space_id: int | None

    def closures(self) -> ColumnElement[bool]:
        if self.space_id is not None:
            return Closure.space_id == self.space_id
        return Closure.venue_id == self.venue_id

    def leaves(self):
        """Ids of the leaf spaces whose sessions the closures would cover."""
        if self.space_id is not None:
            return select(SpaceTree.descendant_id).where(SpaceTree.ancestor_id == self.space_id)
        return select(Space.id).where(Space.venue_id == self.venue_id)


@dataclass(slots=True)
class Planned:
    """One closure the import touches: the row (None if new) and its values after the import."""

    row: Closure | None
    values: dict


async def import_closures(
    session: AsyncSession,
    actor: Actor,
    *,
    owner: Owner,
    now: datetime,
    reason: ClosureReason = ClosureReason.host_timetable,
    preview: bool = False,
    source: str | None = None,
    ics: bytes | None = None,
    url: str | None = None,
    fetcher: Fetcher = fetch_url,
) -> ImportReport:
    """Import ``ics`` (or the calendar at ``url``) as closures of ``owner``; ``preview`` writes nothing."""
    zone = await _zone_of(session, actor, owner)
    try:
        data = await fetcher(url) if url is not None else ics or b""
        parsed = await asyncio.to_thread(parse_calendar, data, now=now, zone=zone)
    except (CalendarRejected, FetchError) as error:
        raise REJECTIONS[error.code](error.detail) from error
    key = source or url or f"upload:{parsed.name or parsed.prodid or 'unnamed'}"
    existing = {
        row.source_uid: row
        for row in await session.scalars(select(Closure).where(owner.closures(), Closure.source == key))
    }
    wanted = {event.key: _values(event, reason, zone) for event in parsed.events}
    created = [Planned(None, values) for uid, values in wanted.items() if uid not in existing]
    updated = [
        Planned(existing[uid], values)
        for uid, values in wanted.items()
        if uid in existing and any(getattr(existing[uid], name) != value for name, value in values.items())
    ]
    start, end = parsed.window
    removed = [
        row for uid, row in existing.items() if uid not in wanted and row.ends_at > start and row.starts_at < end
    ]
    collisions = await _collisions(session, owner, [planned.values for planned in created + updated])
    if not preview:
        await _apply(session, owner, key, now, created, updated, removed)
    return ImportReport(
        source=key,
        preview=preview,
        window_start=start,
        window_end=end,
        created=[_report(planned.row, planned.values, collisions) for planned in created],
        updated=[_report(planned.row, planned.values, collisions) for planned in updated],
        removed=[_report(row, _current(row), {}) for row in removed],
        unchanged=len(wanted) - len(created) - len(updated),
        skipped=[SkippedEvent(source_uid=item.key, summary=item.summary, why=item.why) for item in parsed.skipped],
    )


async def _zone_of(session: AsyncSession, actor: Actor, owner: Owner) -> ZoneInfo:
    """Check the caller manages the place, and lock it: imports of one place run one at a time."""
    if owner.space_id is not None:
        await require_space_manager(session, actor, owner.space_id, "import closures for this space")
        space = await get_or_404(session, Space, owner.space_id, for_update=True)
        venue = await session.get(Venue, space.venue_id)
    else:
        await require_venue_manager(session, actor, owner.venue_id, "import closures for this venue")
        venue = await get_or_404(session, Venue, owner.venue_id, for_update=True)
    return ZoneInfo(venue.timezone)


def _values(event: CalendarEvent, reason: ClosureReason, zone: ZoneInfo) -> dict:
    values = {"source_uid": event.key, "reason": reason, "note": event.summary[:MAX_NOTE]}
    if event.first_day is None:
        return values | {"starts_at": event.starts_at, "ends_at": event.ends_at, "start_date": None, "end_date": None}
    last_day = event.end_day - timedelta(days=1)  # closures keep inclusive local days
    starts_at, ends_at = whole_days(event.first_day, last_day, zone)
    return values | {"starts_at": starts_at, "ends_at": ends_at, "start_date": event.first_day, "end_date": last_day}


def _current(row: Closure) -> dict:
    names = ("source_uid", "reason", "note", "starts_at", "ends_at", "start_date", "end_date")
    return {name: getattr(row, name) for name in names}


async def _collisions(session: AsyncSession, owner: Owner, periods: list[dict]) -> dict[str, list[CollidingBooking]]:
    """For each period (by source_uid), the confirmed sessions on the place that it overlaps."""
    if not periods:
        return {}
    first = min(period["starts_at"] for period in periods)
    last = max(period["ends_at"] for period in periods)
    rows = (
        await session.execute(
            select(
                Booking.id,
                Booking.title,
                Booking.space_id,
                Booking.organisation_id,
                Occurrence.starts_at,
                Occurrence.ends_at,
            )
            .distinct()
            .join(Booking, Booking.id == Occurrence.booking_id)
            .where(
                Occurrence.space_id.in_(owner.leaves()),
                Occurrence.state.in_(SLOT_HOLDING_STATES),
                Occurrence.starts_at < last,
                Occurrence.ends_at > first,
            )
            .order_by(Occurrence.starts_at, Booking.id)
        )
    ).all()
    if not rows:
        return {}
    sessions = [CollidingBooking(**dict(zip(CollidingBooking.model_fields, row, strict=True))) for row in rows]
    starts = [item.starts_at for item in sessions]
    longest = max(item.ends_at - item.starts_at for item in sessions)
    found: dict[str, list[CollidingBooking]] = {}
    for period in periods:
        hits = []
        for item in sessions[bisect_left(starts, period["starts_at"] - longest) :]:
            if item.starts_at >= period["ends_at"]:
                break
            if item.ends_at > period["starts_at"]:
                hits.append(item)
        if hits:
            found[period["source_uid"]] = hits
    return found


async def _apply(
    session: AsyncSession,
    owner: Owner,
    source: str,
    now: datetime,
    created: list[Planned],
    updated: list[Planned],
    removed: list[Closure],
) -> None:
    if removed:
        await session.execute(delete(Closure).where(Closure.id.in_([row.id for row in removed])))
    for planned in updated:
        for name, value in planned.values.items():
            setattr(planned.row, name, value)
    for planned in created:
        planned.row = Closure(
            venue_id=owner.venue_id, space_id=owner.space_id, source=source, created_at=now, **planned.values
        )
        session.add(planned.row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise errors.ImportConflict("another import of this calendar ran at the same time; try again") from error


def _report(row: Closure | None, values: dict, collisions: dict[str, list[CollidingBooking]]) -> ImportedClosure:
    return ImportedClosure(
        id=row.id if row is not None else None,
        collisions=collisions.get(values["source_uid"], []),
        **values,
    )
