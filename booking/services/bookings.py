"""Booking use cases. The no-overlap rule itself is the database's; this module only asks it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import exists, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.errors import (
    BookingConflict,
    CapacityExceeded,
    Forbidden,
    InvalidStateTransition,
    NotFound,
    StaleVersion,
    StartsInPast,
)
from booking.models import Approval, Booking, BookingState, EventKind, Occurrence, Space, SpaceTree, Venue
from booking.rules import policies as policy_rules
from booking.rules import recurrence
from booking.rules.availability import SpaceCalendar
from booking.rules.intervals import Interval
from booking.rules.permissions import ANONYMOUS, Actor, BookingScope, books_for, decides_booking, sees_booking
from booking.rules.policies import EffectivePolicy, Span
from booking.schemas.bookings import (
    BookingCreate,
    BookingPublic,
    BookingUpdate,
    ConflictPublic,
    FailurePublic,
    OccurrencePublic,
    OnConflict,
    Recurrence,
)
from booking.schemas.common import local
from booking.services import events
from booking.services.accounts import actor_for_token
from booking.services.booking_writes import write_new_booking
from booking.services.common import PageRequest, apply_update, get_or_404, page_of
from booking.services.guards import (
    administered_organisations,
    allow,
    booking_scope,
    managed_spaces,
    require_signed_in,
)
from booking.services.holding import Slot, Target, conflicts_with, judge, refuse, target
from booking.services.idempotency import StoredResponse, once
from booking.services.policies import organisation_sessions, policy_for
from booking.services.postgres_bookings import PostgresStore

LIVE = (BookingState.pending.value, BookingState.confirmed.value)
NEW_BOOKING = 0  # the booking_id of rows not yet written: no occurrence belongs to it
DAY = timedelta(days=1)


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


class BookingStore(Protocol):
    """Where a new booking's facts are read and where it is written: the request's transaction
    (``SessionStore``, either database) or PostgreSQL in two round trips (``PostgresStore``)."""

    async def context(
        self, space_id: int, organisation_id: int | None, within: Interval
    ) -> tuple[Actor, Target, EffectivePolicy]:
        """Who asks, the space and the rules over it; ``within`` bounds every session the request may hold."""

    async def calendar(self, space: Target, start: datetime, end: datetime) -> SpaceCalendar: ...

    async def organisation_sessions(
        self, *, space_id: int, organisation_id: int, start: datetime, end: datetime
    ) -> list[Span]: ...

    async def conflicts_with(self, rows: list[dict]) -> dict[int, list[ConflictPublic]]: ...

    async def write(
        self, booking: Booking, rows: list[dict], kind: EventKind, *, actor: Actor, reason: str, now: datetime
    ) -> list[int] | None:
        """The occurrences' ids in the order of ``rows``, or None when the no-overlap rule refused one."""


@dataclass(frozen=True, slots=True)
class SessionStore:
    """The request's own transaction, for an actor already known."""

    session: AsyncSession
    actor: Actor

    async def context(self, space_id: int, organisation_id: int | None, within: Interval):
        require_signed_in(self.actor)
        space = await target(self.session, space_id, organisation_id)
        return self.actor, space, await policy_for(self.session, space_id, space.venue.id)

    async def calendar(self, space: Target, start: datetime, end: datetime) -> SpaceCalendar:
        return await space.calendar(self.session, start, end)

    async def organisation_sessions(self, **window) -> list[Span]:
        return await organisation_sessions(self.session, **window)

    async def conflicts_with(self, rows: list[dict]) -> dict[int, list[ConflictPublic]]:
        return await conflicts_with(self.session, rows)

    async def write(self, booking: Booking, rows: list[dict], kind: EventKind, **change) -> list[int] | None:
        return await write_new_booking(self.session, booking, rows, kind, **change)


def reach(data: BookingCreate, *, now: datetime) -> Interval:
    """From the request's first start to the latest any of its sessions could end: a series may
    start sessions up to the recurrence horizon (a day more for a daylight-saving change)."""
    if data.recurrence is None:
        return data.starts_at, data.ends_at
    return data.starts_at, max(now + recurrence.MAX_HORIZON, data.starts_at) + (data.ends_at - data.starts_at) + DAY


async def request_booking(session: AsyncSession, actor: Actor, data: BookingCreate, *, now: datetime) -> BookingPublic:
    """Book a space once or as a series, in the request's transaction (see ``book``)."""
    return await book(SessionStore(session, actor), data, now=now)


async def book(store: BookingStore, data: BookingCreate, *, now: datetime) -> BookingPublic:
    """Book a space once or as a series. With on_conflict=skip the dates that cannot be had are left out.

    The space's managers (and district administrators over it) are not held to its policy and
    need no approval; everyone else's request is checked against the policy and, where approval
    is manual, waits as ``pending`` without holding the slot.
    """
    actor, space, policy = await store.context(data.space_id, data.organisation_id, reach(data, now=now))
    if space.booker is None:
        raise NotFound("organisation", data.organisation_id)
    allow(actor, books_for(actor, space.booker.id, space.booker.region_id), "book for this organisation")
    check_request(space, data.attendees, data.starts_at, now=now)
    rrule = data.recurrence.rrule if data.recurrence else None
    zone = ZoneInfo(space.venue.timezone)
    slots = series_slots(rrule, data.starts_at, data.ends_at, zone, now=now)
    staff = decides_booking(actor, BookingScope(space.booker.id, space.booker.region_id, space.place))
    if not staff:
        await _check_policy(store, policy, space, slots, zone, now=now)
    calendar = await store.calendar(space, slots[0][0], slots[-1][1])

    state = BookingState.pending if policy.approval == Approval.manual and not staff else BookingState.confirmed
    booking = Booking(
        **data.model_dump(exclude={"recurrence", "on_conflict"}),
        state=state,
        rrule=rrule,
        requested_by_id=actor.user_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    rows = space.rows(NEW_BOOKING, slots, state, [start for start, _ in slots])
    skip = data.on_conflict == OnConflict.skip
    # Skipping needs to know the taken dates beforehand, and so does a pending request (which
    # the database does not check, as it holds nothing yet); failing learns of them from the database.
    look_first = skip or state == BookingState.pending
    failures = judge(slots, rows, calendar, await store.conflicts_with(rows) if look_first else {})
    if failures and not skip:
        raise refuse(await _explain(store, slots, rows, calendar))
    kept = [slot for slot in slots if slot not in failures]
    if not kept:
        raise refuse(list(failures.values()))
    kept_rows = [row for row in rows if (row["starts_at"], row["ends_at"]) not in failures]
    kind = EventKind.confirmed if state == BookingState.confirmed else EventKind.requested
    reason = "" if state == BookingState.pending else "approved at once" if staff else "automatic approval"
    ids = await store.write(booking, kept_rows, kind, actor=actor, reason=reason, now=now)
    if ids is None:
        if skip:  # a competing request took a date between the look and the write
            raise BookingConflict("a competing booking took one of the dates; try again")
        raise refuse(await _explain(store, slots, rows, calendar))

    occurrences = [
        OccurrencePublic(
            id=oid, state=state, **{k: row[k] for k in ("space_id", "starts_at", "ends_at", "original_starts_at")}
        )
        for oid, row in zip(ids, kept_rows, strict=True)
    ]
    return _public(booking, space.venue.timezone, occurrences, skipped=list(failures.values()))


async def _check_policy(store: BookingStore, policy, space: Target, slots: list[Slot], zone, *, now) -> None:
    policy_rules.check_sessions(
        policy, slots, zone, organisation_id=space.booker.id, organisation_kind=space.booker.kind, now=now
    )
    window = policy_rules.quota_window(policy, slots, zone)
    if window is not None:
        used = await store.organisation_sessions(
            space_id=space.space.id, organisation_id=space.booker.id, start=window[0], end=window[1]
        )
        policy_rules.check_quota(policy, slots, used, zone)


async def _explain(
    store: BookingStore, slots: list[Slot], rows: list[dict], calendar: SpaceCalendar
) -> list[FailurePublic]:
    """Every failing date of a request, with conflicts looked up (for the error body)."""
    return list(judge(slots, rows, calendar, await store.conflicts_with(rows)).values())


async def booking_for(
    session: AsyncSession, actor: Actor, booking_id: int, *, for_update: bool = False
) -> tuple[Booking, BookingScope]:
    """A booking the actor may see, with its scope; 401 for the anonymous, 404 for everyone else
    who may not see it (another organisation's booking does not exist for them)."""
    require_signed_in(actor)
    booking = await get_or_404(session, Booking, booking_id, for_update=for_update)
    scope = await booking_scope(session, booking)
    if not sees_booking(actor, scope):
        raise NotFound("booking", booking_id)
    return booking, scope


def check_version(booking: Booking, if_match: str | None) -> None:
    """412 when the client's If-Match names another version than the booking's current one."""
    if if_match is None or if_match.strip() == "*":
        return
    if etag(booking) not in {tag.strip().removeprefix("W/") for tag in if_match.split(",")}:
        raise StaleVersion(
            "the booking changed since you read it; fetch it again and retry", current_version=booking.version
        )


def etag(booking: Booking | BookingPublic) -> str:
    return f'"{booking.id}-{booking.version}"'


def touch(booking: Booking, now: datetime) -> None:
    booking.version += 1
    booking.updated_at = now


async def cancel_booking(
    session: AsyncSession, actor: Actor, booking_id: int, *, if_match: str | None = None, now: datetime
) -> BookingPublic:
    """Withdraw a request or cancel a booking; sessions already over stay as they were.

    The organisation's own people must respect the space's cancellation notice; its managers need not.
    """
    booking, scope = await booking_for(session, actor, booking_id, for_update=True)
    check_version(booking, if_match)
    if booking.state not in LIVE:
        raise InvalidStateTransition(f"a {booking.state} booking cannot be cancelled", state=booking.state)
    upcoming = (
        await session.execute(
            select(Occurrence.id, Occurrence.starts_at, Occurrence.ends_at).where(
                Occurrence.booking_id == booking_id, Occurrence.state.in_(LIVE), Occurrence.ends_at > now
            )
        )
    ).all()
    if not upcoming:
        raise InvalidStateTransition("a booking that has ended cannot be cancelled", state=booking.state)
    if not decides_booking(actor, scope):
        policy = await policy_for(session, booking.space_id, await venue_of(session, booking.space_id))
        next_start = min(starts_at for _, starts_at, _ in upcoming)
        if next_start > now:
            policy_rules.check_cancellation(policy, next_start, now)
    before = booking.state
    booking.state = BookingState.cancelled
    touch(booking, now)
    await session.execute(
        update(Occurrence)
        .where(Occurrence.id.in_([oid for oid, _, _ in upcoming]))
        .values(state=BookingState.cancelled)
    )
    await session.flush()
    await events.record(
        session,
        booking,
        EventKind.cancelled,
        actor=actor,
        now=now,
        from_state=before,
        to_state=booking.state,
        occurrence_ids=[oid for oid, _, _ in upcoming],
    )
    return (await publish(session, [booking]))[0]


async def venue_of(session: AsyncSession, space_id: int) -> int:
    return await session.scalar(select(Space.venue_id).where(Space.id == space_id))


async def update_booking(
    session: AsyncSession, actor: Actor, booking_id: int, data: BookingUpdate, *, if_match: str | None, now: datetime
) -> BookingPublic:
    """Change the title or the attendees (within the space's capacity), guarded by the version."""
    booking, _ = await booking_for(session, actor, booking_id, for_update=True)
    check_version(booking, if_match)
    if booking.state not in LIVE:
        raise InvalidStateTransition(f"a {booking.state} booking cannot change", state=booking.state)
    if data.attendees is not None:
        capacity = await session.scalar(select(Space.capacity).where(Space.id == booking.space_id))
        if data.attendees > capacity:
            raise CapacityExceeded(
                f"{data.attendees} attendees do not fit a space for {capacity}",
                capacity=capacity,
                attendees=data.attendees,
            )
    changed = sorted(name for name in data.model_fields_set if getattr(data, name) is not None)
    apply_update(booking, data)
    touch(booking, now)
    await session.flush()
    await events.record(
        session, booking, EventKind.updated, actor=actor, now=now, reason=f"changed {', '.join(changed)}"
    )
    return (await publish(session, [booking]))[0]


async def get_booking(session: AsyncSession, actor: Actor, booking_id: int) -> BookingPublic:
    booking, _ = await booking_for(session, actor, booking_id)
    return (await publish(session, [booking]))[0]


def require_manager_of_booking(actor: Actor, scope: BookingScope, doing: str) -> None:
    if not (books_for(actor, scope.organisation_id, scope.organisation_region_id) or decides_booking(actor, scope)):
        raise Forbidden(f"you may not {doing}")


@dataclass(frozen=True, slots=True)
class BookingFilter:
    space_id: int | None = None
    organisation_id: int | None = None
    state: BookingState | None = None
    start: datetime | None = None
    end: datetime | None = None


def visible_to(actor: Actor):
    """The bookings an actor may see, as a SQL condition (mirrors ``rules.permissions.sees_booking``)."""
    if actor.everywhere:
        return true()
    if not (actor.managed or actor.member_of or actor.admin_regions):
        return false()
    return or_(
        Booking.organisation_id.in_(actor.member_of | actor.managed),
        Booking.organisation_id.in_(administered_organisations(actor)),
        Booking.space_id.in_(managed_spaces(actor)),
    )


async def list_bookings(
    session: AsyncSession, actor: Actor, page: PageRequest, where: BookingFilter
) -> tuple[list[BookingPublic], int]:
    require_signed_in(actor)
    stmt = select(Booking).where(visible_to(actor)).order_by(Booking.starts_at, Booking.id)
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
        version=booking.version,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        occurrences=occurrences,
        skipped=list(skipped),
    )


async def request_booking_once(
    session: AsyncSession, actor: Actor, data: BookingCreate, *, idempotency_key: str | None, now: datetime
) -> StoredResponse:
    """``request_booking`` behind an Idempotency-Key: a retried request replays the first answer.
    Keys are per user: another user's key never replays someone else's answer."""

    async def produce() -> tuple[int, dict]:
        return 201, (await request_booking(session, actor, data, now=now)).model_dump(mode="json")

    require_signed_in(actor)
    body = data.model_dump(mode="json") if idempotency_key is not None else None  # only a key's fingerprint needs it
    scope = f"POST /bookings {actor.user_id}"
    return await once(session, scope=scope, key=idempotency_key, body=body, now=now, produce=produce)


async def request_booking_with_token(
    writes: async_sessionmaker[AsyncSession],
    driver_pool: asyncpg.Pool | None,
    token: str | None,
    data: BookingCreate,
    *,
    idempotency_key: str | None,
    now: datetime,
) -> StoredResponse:
    """The API's booking request, for the bearer ``token`` (None: anonymous, 401).

    On PostgreSQL (``driver_pool`` given) a request without an Idempotency-Key takes the
    two-round-trip path; otherwise the caller, the booking and the key share one transaction.
    """
    if token is None:
        require_signed_in(ANONYMOUS)
    if driver_pool is not None and idempotency_key is None:
        async with driver_pool.acquire() as driver:
            booked = await book(PostgresStore(driver, token, now=now), data, now=now)
        return StoredResponse(201, booked.model_dump(mode="json"), replayed=False)
    async with writes() as session, session.begin():
        actor = await actor_for_token(session, token, now=now)
        return await request_booking_once(session, actor, data, idempotency_key=idempotency_key, now=now)
