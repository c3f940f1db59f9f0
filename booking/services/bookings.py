"""Booking use cases. The no-overlap rule itself is the database's; this module only asks it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import BookingConflict, CapacityExceeded, InvalidStateTransition, NotFound, StartsInPast
from booking.models import Booking, BookingState, Occurrence, Space, SpaceTree, Venue
from booking.rules import recurrence
from booking.rules.availability import SpaceCalendar
from booking.schemas.bookings import (
    BookingCreate,
    BookingPublic,
    FailurePublic,
    OccurrencePublic,
    OnConflict,
    Recurrence,
)
from booking.schemas.common import local
from booking.services.common import PageRequest, get_or_404, page_of
from booking.services.holding import Slot, Target, conflicts_with, hold, judge, refuse, target
from booking.services.idempotency import StoredResponse, once

LIVE = (BookingState.pending.value, BookingState.confirmed.value)
_INSERT_BOOKING = insert(Booking.__table__).returning(Booking.__table__.c.id)


def check_request(space: Target, attendees: int, starts_at: datetime, *, now: datetime) -> None:
    if starts_at < now:
        raise StartsInPast("a booking cannot start in the past", starts_at=starts_at.isoformat())
    if attendees > space.space.capacity:
        raise CapacityExceeded(
            f"{attendees} attendees do not fit a space for {space.space.capacity}",
            capacity=space.space.capacity,
            attendees=attendees,
        )


def series_slots(rrule: str | None, starts_at: datetime, ends_at: datetime, zone: ZoneInfo, *, now: datetime):
    if rrule is None:
        return [(starts_at, ends_at)]
    return recurrence.expand(recurrence.parse(rrule), starts_at, ends_at, zone, now=now)


async def request_booking(session: AsyncSession, data: BookingCreate, *, now: datetime) -> BookingPublic:
    """Book a space once or as a series. With on_conflict=skip the dates that cannot be had are left out."""
    space = await target(session, data.space_id, data.organisation_id)
    if not space.organisation_known:
        raise NotFound("organisation", data.organisation_id)
    check_request(space, data.attendees, data.starts_at, now=now)
    rrule = data.recurrence.rrule if data.recurrence else None
    slots = series_slots(rrule, data.starts_at, data.ends_at, ZoneInfo(space.venue.timezone), now=now)
    calendar = await space.calendar(session, slots[0][0], slots[-1][1])

    state = BookingState.confirmed
    booking_id = (
        await session.execute(
            _INSERT_BOOKING,
            {
                "space_id": data.space_id,
                "organisation_id": data.organisation_id,
                "title": data.title,
                "attendees": data.attendees,
                "starts_at": data.starts_at,
                "ends_at": data.ends_at,
                "state": state,
                "rrule": rrule,
                "created_at": now,
                "updated_at": now,
            },
        )
    ).scalar_one()
    rows = space.rows(booking_id, slots, state, [start for start, _ in slots])
    skip = data.on_conflict == OnConflict.skip
    # Skipping needs to know the taken dates beforehand; failing learns of them from the database.
    failures = judge(slots, rows, calendar, await conflicts_with(session, rows) if skip else {})
    if failures and not skip:
        raise refuse(await _explain(session, slots, rows, calendar))
    kept = [slot for slot in slots if slot not in failures]
    if not kept:
        raise refuse(list(failures.values()))
    kept_rows = [row for row in rows if (row["starts_at"], row["ends_at"]) not in failures]
    ids = await hold(session, kept_rows)
    if ids is None:
        if skip:  # a competing request took a date between the look and the write
            raise BookingConflict("a competing booking took one of the dates; try again")
        raise refuse(await _explain(session, slots, rows, calendar))

    occurrences = [
        OccurrencePublic(
            id=oid, state=state, **{k: row[k] for k in ("space_id", "starts_at", "ends_at", "original_starts_at")}
        )
        for oid, row in zip(ids, kept_rows, strict=True)
    ]
    booking = Booking(
        id=booking_id,
        **data.model_dump(exclude={"recurrence", "on_conflict"}),
        state=state,
        rrule=rrule,
        created_at=now,
        updated_at=now,
    )
    return _public(booking, space.venue.timezone, occurrences, skipped=list(failures.values()))


async def _explain(
    session: AsyncSession, slots: list[Slot], rows: list[dict], calendar: SpaceCalendar
) -> list[FailurePublic]:
    """Every failing date of a request, with conflicts looked up (for the error body)."""
    return list(judge(slots, rows, calendar, await conflicts_with(session, rows)).values())


async def cancel_booking(session: AsyncSession, booking_id: int, *, now: datetime) -> BookingPublic:
    booking = await get_or_404(session, Booking, booking_id, for_update=True)
    if booking.state not in LIVE:
        raise InvalidStateTransition(f"a {booking.state} booking cannot be cancelled", state=booking.state)
    last_end = await session.scalar(
        select(Occurrence.ends_at)
        .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE))
        .order_by(Occurrence.ends_at.desc())
        .limit(1)
    )
    if last_end is None or last_end <= now:
        raise InvalidStateTransition("a booking that has ended cannot be cancelled", state=booking.state)
    booking.state = BookingState.cancelled
    booking.updated_at = now
    # Sessions already over stay as they were; the rest are cancelled and free their slots.
    await session.execute(
        update(Occurrence)
        .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE), Occurrence.ends_at > now)
        .values(state=BookingState.cancelled)
    )
    await session.flush()
    return (await publish(session, [booking]))[0]


async def get_booking(session: AsyncSession, booking_id: int) -> BookingPublic:
    return (await publish(session, [await get_or_404(session, Booking, booking_id)]))[0]


@dataclass(frozen=True, slots=True)
class BookingFilter:
    space_id: int | None = None
    organisation_id: int | None = None
    state: BookingState | None = None
    start: datetime | None = None
    end: datetime | None = None


async def list_bookings(
    session: AsyncSession, page: PageRequest, where: BookingFilter
) -> tuple[list[BookingPublic], int]:
    stmt = select(Booking).order_by(Booking.starts_at, Booking.id)
    if where.organisation_id is not None:
        stmt = stmt.where(Booking.organisation_id == where.organisation_id)
    if where.state is not None:
        stmt = stmt.where(Booking.state == where.state)
    touching = []
    if where.space_id is not None:
        # Bookings that occupy any part of the space: its own, its parts', its parents'.
        await get_or_404(session, Space, where.space_id)
        parts = select(SpaceTree.descendant_id).where(SpaceTree.ancestor_id == where.space_id)
        touching.append(Occurrence.space_id.in_(parts))
    if where.start is not None:
        touching.append(Occurrence.ends_at > where.start)
    if where.end is not None:
        touching.append(Occurrence.starts_at < where.end)
    if touching:
        stmt = stmt.where(exists().where(Occurrence.booking_id == Booking.id, *touching))
    bookings, total = await page_of(session, stmt, page)
    return await publish(session, bookings), total


async def publish(session: AsyncSession, bookings: list[Booking]) -> list[BookingPublic]:
    """Bookings with their occurrences and venue-local times, in two queries for the lot."""
    ids = [booking.id for booking in bookings]
    occurrences: dict[int, list[OccurrencePublic]] = defaultdict(list)
    for occurrence in await session.scalars(
        select(Occurrence).where(Occurrence.booking_id.in_(ids)).order_by(Occurrence.starts_at, Occurrence.space_id)
    ):
        occurrences[occurrence.booking_id].append(OccurrencePublic.model_validate(occurrence))
    zones = dict(
        (
            await session.execute(
                select(Space.id, Venue.timezone)
                .join(Venue, Venue.id == Space.venue_id)
                .where(Space.id.in_({booking.space_id for booking in bookings}))
            )
        ).all()
    )
    return [_public(booking, zones[booking.space_id], occurrences[booking.id]) for booking in bookings]


def _public(booking: Booking, timezone: str, occurrences: list[OccurrencePublic], skipped=()) -> BookingPublic:
    return BookingPublic(
        id=booking.id,
        space_id=booking.space_id,
        organisation_id=booking.organisation_id,
        title=booking.title,
        attendees=booking.attendees,
        state=booking.state,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        timezone=timezone,
        local_starts_at=local(booking.starts_at, timezone),
        local_ends_at=local(booking.ends_at, timezone),
        recurrence=Recurrence(rrule=booking.rrule) if booking.rrule else None,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        occurrences=occurrences,
        skipped=list(skipped),
    )


async def request_booking_once(
    session: AsyncSession, data: BookingCreate, *, idempotency_key: str | None, now: datetime
) -> StoredResponse:
    """``request_booking`` behind an Idempotency-Key: a retried request replays the first answer."""

    async def produce() -> tuple[int, dict]:
        return 201, (await request_booking(session, data, now=now)).model_dump(mode="json")

    body = data.model_dump(mode="json")
    return await once(session, scope="POST /bookings", key=idempotency_key, body=body, now=now, produce=produce)
