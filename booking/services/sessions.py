"""Managing the sessions of a booking: cancel one (or it and all following), move one, re-add a date.

A session is one date of a booking: every occurrence row with the same ``original_starts_at``
(one per leaf space). Its identity survives a move, so calendars can show it as moved.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, InvalidStateTransition, NotFound
from booking.models import Booking, BookingState, Occurrence
from booking.schemas.bookings import BookingPublic, SessionAdd, SessionMove
from booking.services.bookings import LIVE, check_request, publish, series_slots
from booking.services.common import get_or_404
from booking.services.holding import conflicts_with, hold, judge, refuse, target


async def _live_booking(session: AsyncSession, booking_id: int) -> Booking:
    booking = await get_or_404(session, Booking, booking_id, for_update=True)
    if booking.state != BookingState.confirmed:
        raise InvalidStateTransition(f"the sessions of a {booking.state} booking cannot change", state=booking.state)
    return booking


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
    session: AsyncSession, booking_id: int, occurrence_id: int, *, following: bool, now: datetime
) -> BookingPublic:
    """Cancel one session, or with ``following`` it and every later one; the booking ends with its last."""
    booking = await _live_booking(session, booking_id)
    occurrence = await _session_of(session, booking, occurrence_id, now=now)
    which = (
        Occurrence.original_starts_at >= occurrence.original_starts_at
        if following
        else (Occurrence.original_starts_at == occurrence.original_starts_at)
    )
    await session.execute(
        update(Occurrence)
        .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE), Occurrence.ends_at > now, which)
        .values(state=BookingState.cancelled)
    )
    remaining = await session.scalar(
        select(Occurrence.id).where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE)).limit(1)
    )
    if remaining is None:
        booking.state = BookingState.cancelled
    booking.updated_at = now
    await session.flush()
    return (await publish(session, [booking]))[0]


async def _place(
    session: AsyncSession, booking: Booking, space_id: int, start: datetime, end: datetime, original: datetime, *, now
) -> None:
    """Hold one session of ``booking`` on a space, checked like a new booking."""
    space = await target(session, space_id)
    check_request(space, booking.attendees, start, now=now)
    calendar = await space.calendar(session, start, end)
    rows = space.rows(booking.id, [(start, end)], BookingState.confirmed, [original])
    failures = judge([(start, end)], rows, calendar, {})
    if failures or await hold(session, rows) is None:
        failures = judge([(start, end)], rows, calendar, await conflicts_with(session, rows))
        raise refuse(list(failures.values()))


async def move_session(
    session: AsyncSession, booking_id: int, occurrence_id: int, data: SessionMove, *, now: datetime
) -> BookingPublic:
    booking = await _live_booking(session, booking_id)
    occurrence = await _session_of(session, booking, occurrence_id, now=now)
    # The old rows stop holding first, so a session may move to an overlapping time.
    await session.execute(
        update(Occurrence)
        .where(
            Occurrence.booking_id == booking_id,
            Occurrence.original_starts_at == occurrence.original_starts_at,
            Occurrence.state.in_(LIVE),
        )
        .values(state=BookingState.moved)
    )
    await _place(
        session,
        booking,
        data.space_id or booking.space_id,
        data.starts_at,
        data.ends_at,
        occurrence.original_starts_at,
        now=now,
    )
    booking.updated_at = now
    await session.flush()
    return (await publish(session, [booking]))[0]


async def add_session(session: AsyncSession, booking_id: int, data: SessionAdd, *, now: datetime) -> BookingPublic:
    """Re-add a date of the series that has no live session (skipped, or cancelled earlier)."""
    booking = await _live_booking(session, booking_id)
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
    await _place(session, booking, booking.space_id, *slot, slot[0], now=now)
    booking.updated_at = now
    await session.flush()
    return (await publish(session, [booking]))[0]
