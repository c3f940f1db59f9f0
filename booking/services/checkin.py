"""Check-in and no-shows. Where a space's policy requires it, someone of the booking organisation
checks in within a window around each session's start; the sweep releases sessions nobody checked
in to (state ``released``), freeing the slot for others, and records the no-show."""

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import CheckInClosed
from booking.models import Booking, BookingState, EventKind, Occurrence, Space
from booking.rules import policies as policy_rules
from booking.rules.permissions import Actor
from booking.schemas.bookings import BookingPublic
from booking.services import events
from booking.services.bookings import LIVE, booking_for, publish, require_manager_of_booking, touch, venue_of
from booking.services.policies import policy_for

CONFIRMED = BookingState.confirmed.value
# The sweep looks this far back, so a process that was down for a while still releases and records.
SWEEP_LOOKBACK = timedelta(days=2)


async def check_in(session: AsyncSession, actor: Actor, booking_id: int, *, now: datetime) -> BookingPublic:
    """Check in to the session of this booking whose check-in window is open now."""
    booking, scope = await booking_for(session, actor, booking_id, for_update=True)
    require_manager_of_booking(actor, scope, "check in to this booking")
    policy = await policy_for(session, booking.space_id, await venue_of(session, booking.space_id))
    candidates = await session.execute(
        select(Occurrence.id, Occurrence.starts_at, Occurrence.original_starts_at).where(
            Occurrence.booking_id == booking_id,
            Occurrence.state == CONFIRMED,
            Occurrence.checked_in_at.is_(None),
            Occurrence.starts_at <= now + timedelta(days=1),
            Occurrence.ends_at > now - timedelta(days=1),
        )
    )
    open_now = [
        (oid, original)
        for oid, starts_at, original in candidates
        if (window := policy_rules.checkin_window(policy, starts_at)) and window[0] <= now < window[1]
    ]
    if not open_now:
        raise CheckInClosed(
            "no session of this booking is open for check-in now"
            if policy.checkin_required
            else "this space does not ask for check-in"
        )
    original = min(original for _, original in open_now)
    ids = [oid for oid, at in open_now if at == original]
    await session.execute(update(Occurrence).where(Occurrence.id.in_(ids)).values(checked_in_at=now))
    touch(booking, now)
    await session.flush()
    await events.record(session, booking, EventKind.checked_in, actor=actor, now=now, occurrence_ids=ids)
    return (await publish(session, [booking]))[0]


async def release_no_shows(session: AsyncSession, *, now: datetime) -> list[int]:
    """Release every confirmed session whose check-in window closed without a check-in; the
    released occurrence ids. A booking with no live session left becomes ``released``."""
    candidates = (
        await session.execute(
            select(Occurrence.id, Occurrence.booking_id, Occurrence.starts_at, Booking.space_id, Space.venue_id)
            .join(Booking, Booking.id == Occurrence.booking_id)
            .join(Space, Space.id == Booking.space_id)
            .where(
                Occurrence.state == CONFIRMED,
                Occurrence.checked_in_at.is_(None),
                Occurrence.starts_at <= now,
                Occurrence.starts_at > now - SWEEP_LOOKBACK,
            )
            .order_by(Occurrence.booking_id, Occurrence.id)
        )
    ).all()
    policies = {}
    due: dict[int, list[int]] = defaultdict(list)
    for oid, booking_id, starts_at, space_id, venue_id in candidates:
        if space_id not in policies:
            policies[space_id] = await policy_for(session, space_id, venue_id)
        window = policy_rules.checkin_window(policies[space_id], starts_at)
        if window is not None and window[1] <= now:
            due[booking_id].append(oid)
    for booking_id, ids in due.items():
        await _release(session, booking_id, ids, now=now)
    return sorted(oid for ids in due.values() for oid in ids)


async def _release(session: AsyncSession, booking_id: int, ids: list[int], *, now: datetime) -> None:
    booking = await session.get(Booking, booking_id, with_for_update=True)
    await session.execute(
        update(Occurrence)
        .where(Occurrence.id.in_(ids), Occurrence.state == CONFIRMED)
        .values(state=BookingState.released)
    )
    left = await session.scalar(
        select(Occurrence.id)
        .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE), Occurrence.ends_at > now)
        .limit(1)
    )
    before = booking.state
    if left is None:
        booking.state = BookingState.released
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.released,
        actor=None,
        now=now,
        from_state=before,
        to_state=booking.state,
        reason="no-show: nobody checked in",
        occurrence_ids=ids,
    )
