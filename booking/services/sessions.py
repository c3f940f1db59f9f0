"""Managing the sessions of a booking: cancel one (or it and all following), move one, re-add a date.

A session is one date of a booking: every occurrence row with the same ``original_starts_at``
(one per leaf space). Its identity survives a move, so calendars can show it as moved.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, InvalidStateTransition, NotFound
from booking.models import Booking, BookingState, EventKind, Occurrence
from booking.rules import policies as policy_rules
from booking.rules.permissions import Actor, decides_booking, manages_place
from booking.schemas.bookings import BookingPublic, SessionAdd, SessionMove
from booking.services import events
from booking.services.bookings import (
    LIVE,
    booking_for,
    check_request,
    publish,
    require_manager_of_booking,
    series_slots,
    touch,
    venue_of,
)
from booking.services.guards import allow, space_place
from booking.services.holding import conflicts_with, hold, judge, refuse, target
from booking.services.policies import policy_for


async def _live_booking(session: AsyncSession, actor: Actor, booking_id: int) -> tuple[Booking, bool]:
    """The booking to change, and whether the actor is staff of its space (not held to its policy)."""
    booking, scope = await booking_for(session, actor, booking_id, for_update=True)
    require_manager_of_booking(actor, scope, "change this booking")
    if booking.state != BookingState.confirmed:
        raise InvalidStateTransition(f"the sessions of a {booking.state} booking cannot change", state=booking.state)
    return booking, decides_booking(actor, scope)


async def _session_of(session: AsyncSession, booking: Booking, occurrence_id: int, *, now: datetime) -> Occurrence:
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None or occurrence.booking_id != booking.id:
        raise NotFound("occurrence", occurrence_id)
    if occurrence.state not in LIVE:
        raise InvalidStateTransition(f"a {occurrence.state} session cannot change", state=occurrence.state)
    if occurrence.ends_at <= now:
        raise InvalidStateTransition("a session that has ended cannot change", state=occurrence.state)
    return occurrence


async def cancel_session(
    session: AsyncSession, actor: Actor, booking_id: int, occurrence_id: int, *, following: bool, now: datetime
) -> BookingPublic:
    """Cancel one session, or with ``following`` it and every later one; the booking ends with its last."""
    booking, staff = await _live_booking(session, actor, booking_id)
    occurrence = await _session_of(session, booking, occurrence_id, now=now)
    if not staff and occurrence.starts_at > now:
        policy = await policy_for(session, booking.space_id, await venue_of(session, booking.space_id))
        policy_rules.check_cancellation(policy, occurrence.starts_at, now)
    which = (
        Occurrence.original_starts_at >= occurrence.original_starts_at
        if following
        else (Occurrence.original_starts_at == occurrence.original_starts_at)
    )
    cancelled = list(
        await session.scalars(
            update(Occurrence)
            .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE), Occurrence.ends_at > now, which)
            .values(state=BookingState.cancelled)
            .returning(Occurrence.id)
        )
    )
    remaining = await session.scalar(
        select(Occurrence.id).where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE)).limit(1)
    )
    before = booking.state
    if remaining is None:
        booking.state = BookingState.cancelled
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.cancelled,
        actor=actor,
        now=now,
        from_state=before,
        to_state=booking.state,
        reason="this and all following sessions" if following else "one session",
        occurrence_ids=sorted(cancelled),
    )
    return (await publish(session, [booking]))[0]


async def _place(
    session: AsyncSession,
    booking: Booking,
    space_id: int,
    start: datetime,
    end: datetime,
    original: datetime,
    *,
    staff: bool,
    now: datetime,
) -> list[int]:
    """Hold one session of ``booking`` on a space, checked like a new booking (and, for anyone
    but the space's staff, against its policy); the new occurrences' ids."""
    space = await target(session, space_id, booking.organisation_id)
    check_request(space, booking.attendees, start, now=now)
    if not staff:
        policy = await policy_for(session, space.space.id, space.venue.id)
        policy_rules.check_sessions(
            policy,
            [(start, end)],
            ZoneInfo(space.venue.timezone),
            organisation_id=booking.organisation_id,
            organisation_kind=space.booker.kind,
            now=now,
        )
    calendar = await space.calendar(session, start, end)
    rows = space.rows(booking.id, [(start, end)], BookingState.confirmed, [original])
    failures = judge([(start, end)], rows, calendar, {})
    ids = None if failures else await hold(session, rows)
    if ids is None:
        failures = judge([(start, end)], rows, calendar, await conflicts_with(session, rows))
        raise refuse(list(failures.values()))
    return ids


async def move_session(
    session: AsyncSession, actor: Actor, booking_id: int, occurrence_id: int, data: SessionMove, *, now: datetime
) -> BookingPublic:
    booking, staff = await _live_booking(session, actor, booking_id)
    occurrence = await _session_of(session, booking, occurrence_id, now=now)
    if data.space_id is not None and data.space_id != booking.space_id:
        # Moving into another space is a new request there: only its staff may do it directly.
        allow(actor, staff and await _same_manager(session, actor, data.space_id), "move a session into that space")
    # The old rows stop holding first, so a session may move to an overlapping time.
    moved = list(
        await session.scalars(
            update(Occurrence)
            .where(
                Occurrence.booking_id == booking_id,
                Occurrence.original_starts_at == occurrence.original_starts_at,
                Occurrence.state.in_(LIVE),
            )
            .values(state=BookingState.moved)
            .returning(Occurrence.id)
        )
    )
    new_ids = await _place(
        session,
        booking,
        data.space_id or booking.space_id,
        data.starts_at,
        data.ends_at,
        occurrence.original_starts_at,
        staff=staff,
        now=now,
    )
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.moved,
        actor=actor,
        now=now,
        from_state=BookingState.confirmed,
        to_state=BookingState.confirmed,
        reason=f"session of {occurrence.original_starts_at.isoformat()} moved to {data.starts_at.isoformat()}",
        occurrence_ids=sorted(moved + new_ids),
    )
    return (await publish(session, [booking]))[0]


async def _same_manager(session: AsyncSession, actor: Actor, space_id: int) -> bool:
    return manages_place(actor, await space_place(session, space_id))


async def add_session(
    session: AsyncSession, actor: Actor, booking_id: int, data: SessionAdd, *, now: datetime
) -> BookingPublic:
    """Re-add a date of the series that has no live session (skipped, or cancelled earlier)."""
    booking, staff = await _live_booking(session, actor, booking_id)
    space = await target(session, booking.space_id)
    zone = ZoneInfo(space.venue.timezone)
    slots = series_slots(booking.rrule, booking.starts_at, booking.ends_at, zone, now=booking.created_at)
    slot = next((slot for slot in slots if slot[0] == data.starts_at), None)
    if slot is None:
        raise InvalidRequest("starts_at is not a date of this booking's series", field="starts_at")
    taken = await session.scalar(
        select(Occurrence.id).where(
            Occurrence.booking_id == booking_id,
            Occurrence.original_starts_at == slot[0],
            Occurrence.state.in_(LIVE),
        )
    )
    if taken is not None:
        raise InvalidStateTransition("that date of the series is already booked", occurrence_id=taken)
    added = await _place(session, booking, booking.space_id, *slot, slot[0], staff=staff, now=now)
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.added,
        actor=actor,
        now=now,
        from_state=booking.state,
        to_state=booking.state,
        reason=f"session of {slot[0].isoformat()} added again",
        occurrence_ids=added,
    )
    return (await publish(session, [booking]))[0]
