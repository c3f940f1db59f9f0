"""Booking use cases. The no-overlap rule itself is the database's; this module only asks it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import BookingConflict, CapacityExceeded, InvalidStateTransition, StartsInPast
from booking.models import SLOT_HOLDING_STATES, Booking, BookingState, Occurrence, Organisation, Space, Venue
from booking.rules.divisible import leaves
from booking.rules.intervals import buffered
from booking.schemas.bookings import BookingCreate, BookingPublic, ConflictPublic, OccurrencePublic
from booking.schemas.common import local
from booking.services.common import PageRequest, get_or_404, insert_for, page_of, require
from booking.services.idempotency import StoredResponse, once

CANCELLABLE = (BookingState.pending.value, BookingState.confirmed.value)


@dataclass(frozen=True, slots=True)
class SpaceNode:
    id: int
    parent_id: int | None
    capacity: int
    buffer_before_min: int
    buffer_after_min: int
    timezone: str


async def _space_subtree(session: AsyncSession, space_id: int) -> dict[int, SpaceNode]:
    """The space and every space beneath it, with its venue's zone, in one query."""
    tree = select(Space.id).where(Space.id == space_id).cte("space_tree", recursive=True)
    tree = tree.union_all(select(Space.id).where(Space.parent_id == tree.c.id))
    rows = await session.execute(
        select(
            Space.id,
            Space.parent_id,
            Space.capacity,
            Space.buffer_before_min,
            Space.buffer_after_min,
            Venue.timezone,
        )
        .join(tree, tree.c.id == Space.id)
        .join(Venue, Venue.id == Space.venue_id)
    )
    return {row.id: SpaceNode(*row) for row in rows}


async def request_booking(session: AsyncSession, data: BookingCreate, *, now: datetime) -> BookingPublic:
    subtree = await _space_subtree(session, data.space_id)
    if not subtree:
        await get_or_404(session, Space, data.space_id)
    await require(session, Organisation, data.organisation_id)
    space = subtree[data.space_id]
    if data.starts_at < now:
        raise StartsInPast("a booking cannot start in the past", starts_at=data.starts_at.isoformat())
    if data.attendees > space.capacity:
        raise CapacityExceeded(
            f"{data.attendees} attendees do not fit a space for {space.capacity}",
            capacity=space.capacity,
            attendees=data.attendees,
        )

    state = BookingState.confirmed
    booking_id = await session.scalar(
        insert(Booking)
        .values(
            space_id=data.space_id,
            organisation_id=data.organisation_id,
            title=data.title,
            attendees=data.attendees,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            state=state,
            created_at=now,
            updated_at=now,
        )
        .returning(Booking.id)
    )
    rows = []
    for leaf_id in leaves(data.space_id, {node.id: node.parent_id for node in subtree.values()}):
        leaf = subtree[leaf_id]
        blocked_start_at, blocked_end_at = buffered(
            data.starts_at,
            data.ends_at,
            max(space.buffer_before_min, leaf.buffer_before_min),
            max(space.buffer_after_min, leaf.buffer_after_min),
        )
        rows.append(
            {
                "booking_id": booking_id,
                "space_id": leaf_id,
                "starts_at": data.starts_at,
                "ends_at": data.ends_at,
                "blocked_start_at": blocked_start_at,
                "blocked_end_at": blocked_end_at,
                "state": state,
            }
        )
    occurrence_ids = await _hold(session, rows)
    if occurrence_ids is None:
        raise BookingConflict(
            "the space, or a part of it, is already booked for an overlapping time",
            conflicts=[conflict.model_dump(mode="json") for conflict in await _conflicts_with(session, rows)],
        )
    occurrences = [
        OccurrencePublic(
            id=oid, space_id=row["space_id"], starts_at=row["starts_at"], ends_at=row["ends_at"], state=state
        )
        for oid, row in zip(occurrence_ids, rows, strict=True)
    ]
    return _public(
        Booking(id=booking_id, **data.model_dump(), state=state, created_at=now, updated_at=now),
        space.timezone,
        occurrences,
    )


async def _hold(session: AsyncSession, rows: list[dict]) -> list[int] | None:
    """Insert occurrence rows; None when the database refuses them as overlapping.

    PostgreSQL: ON CONFLICT DO NOTHING works with the exclusion constraint (waiting for a
    competing transaction to finish first) and leaves the transaction usable. SQLite: the
    trigger aborts the statement only, so the transaction stays usable there too.
    """
    stmt = insert_for(session, Occurrence).values(rows).returning(Occurrence.id, Occurrence.space_id)
    if session.bind.dialect.name == "postgresql":
        inserted = dict((await session.execute(stmt.on_conflict_do_nothing())).all())
        if len(inserted) < len(rows):
            return None
        by_space = {space_id: oid for oid, space_id in inserted.items()}
        return [by_space[row["space_id"]] for row in rows]
    try:
        inserted = (await session.execute(stmt)).all()
    except IntegrityError as error:
        if "booking_conflict" in str(error.orig):
            return None
        raise
    by_space = {space_id: oid for oid, space_id in inserted}
    return [by_space[row["space_id"]] for row in rows]


async def _conflicts_with(session: AsyncSession, rows: list[dict]) -> list[ConflictPublic]:
    """The slot-holding occurrences that overlap any of the rows (for the 409 body)."""
    found: dict[int, ConflictPublic] = {}
    for row in rows:
        result = await session.scalars(
            select(Occurrence).where(
                Occurrence.space_id == row["space_id"],
                Occurrence.state.in_(SLOT_HOLDING_STATES),
                Occurrence.blocked_start_at < row["blocked_end_at"],
                Occurrence.blocked_end_at > row["blocked_start_at"],
                Occurrence.booking_id != row["booking_id"],
            )
        )
        for occurrence in result:
            found[occurrence.id] = ConflictPublic(
                occurrence_id=occurrence.id,
                booking_id=occurrence.booking_id,
                space_id=occurrence.space_id,
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
            )
    return [found[oid] for oid in sorted(found)]


async def cancel_booking(session: AsyncSession, booking_id: int, *, now: datetime) -> BookingPublic:
    booking = await get_or_404(session, Booking, booking_id, for_update=True)
    if booking.state not in CANCELLABLE:
        raise InvalidStateTransition(f"a {booking.state} booking cannot be cancelled", state=booking.state)
    if booking.ends_at <= now:
        raise InvalidStateTransition("a booking that has ended cannot be cancelled", state=booking.state)
    booking.state = BookingState.cancelled
    booking.updated_at = now
    await session.execute(
        update(Occurrence)
        .where(Occurrence.booking_id == booking_id, Occurrence.state.in_(CANCELLABLE))
        .values(state=BookingState.cancelled)
    )
    await session.flush()
    return (await _publish(session, [booking]))[0]


async def get_booking(session: AsyncSession, booking_id: int) -> BookingPublic:
    return (await _publish(session, [await get_or_404(session, Booking, booking_id)]))[0]


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
        # Bookings that occupy any part of the space: its own, its parts', its parent's.
        subtree = await _space_subtree(session, where.space_id)
        if not subtree:
            await get_or_404(session, Space, where.space_id)
        touching.append(Occurrence.space_id.in_(leaves(where.space_id, {n.id: n.parent_id for n in subtree.values()})))
    if where.start is not None:
        touching.append(Occurrence.ends_at > where.start)
    if where.end is not None:
        touching.append(Occurrence.starts_at < where.end)
    if touching:
        stmt = stmt.where(exists().where(Occurrence.booking_id == Booking.id, *touching))
    bookings, total = await page_of(session, stmt, page)
    return await _publish(session, bookings), total


async def _publish(session: AsyncSession, bookings: list[Booking]) -> list[BookingPublic]:
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


def _public(booking: Booking, timezone: str, occurrences: list[OccurrencePublic]) -> BookingPublic:
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
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        occurrences=occurrences,
    )


async def request_booking_once(
    session: AsyncSession, data: BookingCreate, *, idempotency_key: str | None, now: datetime
) -> StoredResponse:
    """``request_booking`` behind an Idempotency-Key: a retried request replays the first answer."""

    async def produce() -> tuple[int, dict]:
        return 201, (await request_booking(session, data, now=now)).model_dump(mode="json")

    body = data.model_dump(mode="json")
    return await once(session, scope="POST /bookings", key=idempotency_key, body=body, now=now, produce=produce)
