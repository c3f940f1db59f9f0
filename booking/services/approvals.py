"""Approving and rejecting requests, and the manager's queue.

Pending requests hold nothing, so several may ask for the same time. Approving one turns its
occurrences into slot-holding ones through the database's no-overlap rule — the moment of
truth — and rejects the competing pending occurrences in the same transaction. Two managers
approving competitors at once both lock every booking involved, in id order, before looking
at states, so one wins and the other finds its request already rejected.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import BookingConflict, InvalidRequest, InvalidStateTransition
from booking.models import Booking, BookingState, EventKind, Occurrence
from booking.rules.permissions import Actor, decides_booking
from booking.schemas.bookings import BookingPublic, ConflictPublic, PendingPublic
from booking.services import events
from booking.services.bookings import booking_for, check_version, publish, touch
from booking.services.common import PageRequest, page_of
from booking.services.guards import allow, managed_spaces, require_signed_in
from booking.services.holding import BOOKING_CONFLICT, conflicts_with

PENDING = BookingState.pending.value


async def approve(
    session: AsyncSession, actor: Actor, booking_id: int, *, reason: str = "", if_match: str | None, now: datetime
) -> BookingPublic:
    booking, scope = await booking_for(session, actor, booking_id)
    allow(actor, decides_booking(actor, scope), "approve requests for this space")
    rows = await _pending_rows(session, [booking_id])
    competitors = await _competing(session, rows)
    # Lock every booking involved in one order, then look at states: a racing approval of a
    # competitor either finished first (and rejected this one) or waits for this transaction.
    await session.execute(
        select(Booking.id)
        .where(Booking.id.in_({booking_id, *competitors}))
        .order_by(Booking.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    await session.refresh(booking)
    check_version(booking, if_match)
    if booking.state != BookingState.pending:
        raise InvalidStateTransition(f"a {booking.state} booking cannot be approved", state=booking.state)
    rows = await _pending_rows(session, [booking_id])
    try:
        async with session.begin_nested():
            await session.execute(
                update(Occurrence)
                .where(Occurrence.booking_id == booking_id, Occurrence.state == PENDING)
                .values(state=BookingState.confirmed)
            )
    except IntegrityError as error:
        if BOOKING_CONFLICT not in str(error.orig) and "occurrences_no_overlap" not in str(error.orig):
            raise
        clashes = [c.model_dump(mode="json") for found in (await conflicts_with(session, rows)).values() for c in found]
        raise BookingConflict(
            "a confirmed booking holds an overlapping time; reject this request or cancel that booking",
            conflicts=clashes,
        ) from None
    booking.state = BookingState.confirmed
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.confirmed,
        actor=actor,
        now=now,
        from_state=PENDING,
        to_state=booking.state,
        reason=reason,
        occurrence_ids=[row["id"] for row in rows],
    )
    await _reject_competitors(session, booking, await _competing(session, rows), now=now)
    return (await publish(session, [booking]))[0]


async def reject(
    session: AsyncSession, actor: Actor, booking_id: int, *, reason: str, if_match: str | None, now: datetime
) -> BookingPublic:
    if not reason.strip():
        raise InvalidRequest("a rejection needs a reason the organiser can read", field="reason")
    booking, scope = await booking_for(session, actor, booking_id, for_update=True)
    allow(actor, decides_booking(actor, scope), "reject requests for this space")
    check_version(booking, if_match)
    if booking.state != BookingState.pending:
        raise InvalidStateTransition(f"a {booking.state} booking cannot be rejected", state=booking.state)
    ids = list(
        await session.scalars(
            update(Occurrence)
            .where(Occurrence.booking_id == booking_id, Occurrence.state == PENDING)
            .values(state=BookingState.rejected)
            .returning(Occurrence.id)
        )
    )
    booking.state = BookingState.rejected
    touch(booking, now)
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.rejected,
        actor=actor,
        now=now,
        from_state=PENDING,
        to_state=booking.state,
        reason=reason.strip(),
        occurrence_ids=ids,
    )
    return (await publish(session, [booking]))[0]


async def _pending_rows(session: AsyncSession, booking_ids: list[int]) -> list[dict]:
    found = await session.execute(
        select(Occurrence.__table__).where(Occurrence.booking_id.in_(booking_ids), Occurrence.state == PENDING)
    )
    return [dict(row._mapping) for row in found]


def _overlapping(rows: list[dict]):
    """Occurrences on the same leaf whose buffered range overlaps one of ``rows``."""
    return or_(
        *(
            and_(
                Occurrence.space_id == row["space_id"],
                Occurrence.blocked_start_at < row["blocked_end_at"],
                Occurrence.blocked_end_at > row["blocked_start_at"],
            )
            for row in rows
        )
    )


async def _competing(session: AsyncSession, rows: list[dict]) -> dict[int, list[int]]:
    """Other bookings' pending occurrences overlapping ``rows``: occurrence ids by booking id."""
    if not rows:
        return {}
    found = await session.execute(
        select(Occurrence.booking_id, Occurrence.id).where(
            Occurrence.state == PENDING, Occurrence.booking_id != rows[0]["booking_id"], _overlapping(rows)
        )
    )
    competing: dict[int, list[int]] = defaultdict(list)
    for booking_id, occurrence_id in found:
        competing[booking_id].append(occurrence_id)
    return competing


async def _reject_competitors(
    session: AsyncSession, winner: Booking, competing: dict[int, list[int]], *, now: datetime
) -> None:
    """Reject the competitors' overlapping occurrences; a competitor with nothing left pending is rejected."""
    reason = f"booking {winner.id} was approved for an overlapping time"
    for booking_id, occurrence_ids in sorted(competing.items()):
        await session.execute(
            update(Occurrence).where(Occurrence.id.in_(occurrence_ids)).values(state=BookingState.rejected)
        )
        loser = await session.get(Booking, booking_id)
        left = await session.scalar(
            select(Occurrence.id).where(Occurrence.booking_id == booking_id, Occurrence.state == PENDING).limit(1)
        )
        before = loser.state
        if left is None:
            loser.state = BookingState.rejected
        touch(loser, now)
        await session.flush()
        await events.record(
            session,
            loser,
            EventKind.rejected,
            actor=None,
            now=now,
            from_state=before,
            to_state=loser.state,
            reason=reason,
            occurrence_ids=occurrence_ids,
        )


async def queue(session: AsyncSession, actor: Actor, page: PageRequest) -> tuple[list[PendingPublic], int]:
    """Pending requests for the spaces the actor manages, oldest first, with competitors and conflicts."""
    require_signed_in(actor)
    stmt = select(Booking).where(Booking.state == PENDING).order_by(Booking.created_at, Booking.id)
    if not actor.everywhere:
        stmt = stmt.where(Booking.space_id.in_(managed_spaces(actor)))
    bookings, total = await page_of(session, stmt, page)
    items = []
    for booking, public in zip(bookings, await publish(session, bookings), strict=True):
        rows = await _pending_rows(session, [booking.id])
        conflicts = {c.occurrence_id: c for found in (await conflicts_with(session, rows)).values() for c in found}
        items.append(
            PendingPublic(
                booking=public,
                competing_booking_ids=sorted(await _competing(session, rows)),
                conflicts=sorted(conflicts.values(), key=_conflict_order),
            )
        )
    return items, total


def _conflict_order(conflict: ConflictPublic):
    return conflict.starts_at, conflict.occurrence_id
