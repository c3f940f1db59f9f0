"""Holding slots: occurrence rows per leaf space, written under the database's no-overlap rule.

A *slot* is one dated session (start, end); a booking of a divisible space holds each slot on
every leaf beneath it. ``hold`` asks the database and reports refusal; ``judge`` explains
refusals (and calendar reasons) per slot for the 4xx answer.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Integer, any_, bindparam, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import BookingConflict, NotFound, OutsideOpeningHours, SpaceClosed, VenueshareError
from booking.models import SLOT_HOLDING_STATES, BookingState, Occurrence, Organisation, Space, SpaceTree, Venue
from booking.models.base import UTCDateTime
from booking.rules.availability import OUTSIDE_OPENING_HOURS, SPACE_CLOSED, SpaceCalendar
from booking.rules.divisible import leaves
from booking.rules.intervals import buffered, overlaps
from booking.rules.permissions import Place
from booking.schemas.bookings import ConflictPublic, FailurePublic
from booking.services.calendars import VenueInfo, calendars
from booking.services.common import DriverStatement, dialect_insert

Slot = tuple[datetime, datetime]
BOOKING_CONFLICT = "booking_conflict"
ERRORS: dict[str, type[VenueshareError]] = {
    BOOKING_CONFLICT: BookingConflict,
    SPACE_CLOSED: SpaceClosed,
    OUTSIDE_OPENING_HOURS: OutsideOpeningHours,
}
DETAILS = {
    BOOKING_CONFLICT: "the space, or a part of it, is already booked for an overlapping time",
    SPACE_CLOSED: "the space is closed at that time",
    OUTSIDE_OPENING_HOURS: "the space is not open for the whole of that time",
}


@dataclass(frozen=True, slots=True)
class SpaceNode:
    id: int
    parent_id: int | None
    capacity: int
    buffer_before_min: int
    buffer_after_min: int


@dataclass(frozen=True, slots=True)
class Booker:
    """The organisation a booking is for, as far as permissions and policies care."""

    id: int
    region_id: int | None
    kind: str


@dataclass(frozen=True, slots=True)
class Target:
    """A space to book, with what holding it takes: its leaves, their buffers, its venue; and,
    when asked for, the organisation booking it (None if there is no such organisation)."""

    space: SpaceNode
    subtree: dict[int, SpaceNode]
    venue: VenueInfo
    place: Place
    booker: Booker | None

    async def calendar(self, session: AsyncSession, start: datetime, end: datetime) -> SpaceCalendar:
        return (await calendars(session, {self.space.id: self.venue}, start, end))[self.space.id]

    def rows(self, booking_id: int, slots: list[Slot], state: BookingState, originals: list[datetime]) -> list[dict]:
        parent_of = {node.id: node.parent_id for node in self.subtree.values()}
        rows = []
        for (start, end), original in zip(slots, originals, strict=True):
            for leaf_id in leaves(self.space.id, parent_of):
                leaf = self.subtree[leaf_id]
                blocked_start_at, blocked_end_at = buffered(
                    start,
                    end,
                    max(self.space.buffer_before_min, leaf.buffer_before_min),
                    max(self.space.buffer_after_min, leaf.buffer_after_min),
                )
                rows.append(
                    {
                        "booking_id": booking_id,
                        "space_id": leaf_id,
                        "starts_at": start,
                        "ends_at": end,
                        "blocked_start_at": blocked_start_at,
                        "blocked_end_at": blocked_end_at,
                        "state": state,
                        "original_starts_at": original,
                    }
                )
        return rows


_SPACES, _VENUES, _ORGANISATIONS = Space.__table__.c, Venue.__table__.c, Organisation.__table__.c
_TREE = SpaceTree.__table__.c
# Core columns, built once: the ORM's per-execution machinery is a large part of a request's CPU.
_TARGET = (
    select(
        _SPACES.id,
        _SPACES.parent_id,
        _SPACES.capacity,
        _SPACES.buffer_before_min,
        _SPACES.buffer_after_min,
        _VENUES.id,
        _VENUES.timezone,
        _VENUES.closes_on_public_holidays,
        _VENUES.country,
        _VENUES.region_id,
        _VENUES.owner_id,
        select(_ORGANISATIONS.kind).where(_ORGANISATIONS.id == bindparam("organisation_id")).scalar_subquery(),
        select(_ORGANISATIONS.region_id).where(_ORGANISATIONS.id == bindparam("organisation_id")).scalar_subquery(),
    )
    .select_from(Space.__table__)
    .join(SpaceTree.__table__, _TREE.descendant_id == _SPACES.id)
    .join(Venue.__table__, _VENUES.id == _SPACES.venue_id)
    .where(_TREE.ancestor_id == bindparam("space_id"))
)


async def target(session: AsyncSession, space_id: int, organisation_id: int | None = None) -> Target:
    """The space, every space beneath it and its venue, in one query (which also looks up
    ``organisation_id``, sparing a round trip on the hot path)."""
    rows = (await session.execute(_TARGET, {"space_id": space_id, "organisation_id": organisation_id})).all()
    if not rows:
        raise NotFound("space", space_id)
    first = rows[0]
    return target_of(space_id, [row[:5] for row in rows], first[5:11], organisation_id, first[11:13])


def target_of(space_id: int, nodes: list, venue: tuple, organisation_id: int | None, booker: tuple) -> Target:
    """A Target from its rows: ``nodes`` (id, parent_id, capacity, buffer_before_min,
    buffer_after_min) of the space and every space beneath it; ``venue`` (id, timezone,
    closes_on_public_holidays, country, region_id, owner_id); ``booker`` (kind, region_id) of
    the organisation, kind None when there is no such organisation."""
    subtree = {node[0]: SpaceNode(*node) for node in nodes}
    if space_id not in subtree:
        raise NotFound("space", space_id)
    kind, region_id = booker
    return Target(
        subtree[space_id],
        subtree,
        VenueInfo(*venue[:4]),
        Place(*venue[4:6]),
        None if kind is None else Booker(organisation_id, region_id, kind),
    )


@cache
def _hold_statement(dialect: str):
    stmt = dialect_insert(dialect, Occurrence)
    if dialect == "postgresql":
        stmt = stmt.on_conflict_do_nothing()
    columns = Occurrence.__table__.c
    return stmt.returning(columns.id, columns.space_id, columns.starts_at)


async def hold(session: AsyncSession, rows: list[dict]) -> list[int] | None:
    """Insert occurrence rows; their ids in order, or None when the database refuses an overlap.

    PostgreSQL: ON CONFLICT DO NOTHING works with the exclusion constraint (waiting for a
    competing transaction to finish first) and leaves the transaction usable. SQLite: the
    trigger aborts the statement only, so the transaction stays usable there too.
    """
    if not rows:
        return []
    try:
        # The executemany form keeps one cached statement whatever the number of rows.
        inserted = (await session.execute(_hold_statement(session.bind.dialect.name), rows)).all()
    except IntegrityError as error:
        if BOOKING_CONFLICT in str(error.orig):
            return None
        raise
    if len(inserted) < len(rows):
        return None
    ids = {(space_id, starts_at): oid for oid, space_id, starts_at in inserted}
    return [ids[(row["space_id"], row["starts_at"])] for row in rows]


_OCCURRENCES = Occurrence.__table__.c


def _holding(on_spaces):
    """The slot-holding occurrences on some spaces whose blocked time overlaps [start, end)."""
    return select(
        _OCCURRENCES.id,
        _OCCURRENCES.booking_id,
        _OCCURRENCES.space_id,
        _OCCURRENCES.starts_at,
        _OCCURRENCES.ends_at,
        _OCCURRENCES.blocked_start_at,
        _OCCURRENCES.blocked_end_at,
    ).where(
        on_spaces,
        _OCCURRENCES.state.in_([literal(state) for state in SLOT_HOLDING_STATES]),
        _OCCURRENCES.blocked_start_at < bindparam("end", type_=UTCDateTime),
        _OCCURRENCES.blocked_end_at > bindparam("start", type_=UTCDateTime),
    )


_HOLDING = _holding(_OCCURRENCES.space_id.in_(bindparam("space_ids", expanding=True)))
HOLDING_FOR_DRIVER = DriverStatement(
    _holding(_OCCURRENCES.space_id == any_(bindparam("space_ids", type_=ARRAY(Integer))))
)


def holding_window(rows: list[dict]) -> dict:
    """The values of a holding query that covers every row."""
    return {
        "space_ids": sorted({row["space_id"] for row in rows}),
        "start": min(row["blocked_start_at"] for row in rows),
        "end": max(row["blocked_end_at"] for row in rows),
    }


async def conflicts_with(session: AsyncSession, rows: list[dict]) -> dict[int, list[ConflictPublic]]:
    """Slot-holding occurrences overlapping each row, by row index, in one query for the lot."""
    if not rows:
        return {}
    return clashes(rows, await session.execute(_HOLDING, holding_window(rows)))


def clashes(rows: list[dict], holding) -> dict[int, list[ConflictPublic]]:
    """The ``holding`` occurrences (rows of ``_holding``) that overlap each row, by row index."""
    by_space: dict[int, list] = {}
    for occurrence in holding:
        by_space.setdefault(occurrence[2], []).append(occurrence)
    found: dict[int, list[ConflictPublic]] = {}
    for index, row in enumerate(rows):
        overlapping = [
            ConflictPublic(occurrence_id=oid, booking_id=booking_id, space_id=space_id, starts_at=start, ends_at=end)
            for oid, booking_id, space_id, start, end, blocked_start, blocked_end in by_space.get(row["space_id"], [])
            if booking_id != row["booking_id"]
            and overlaps(blocked_start, blocked_end, row["blocked_start_at"], row["blocked_end_at"])
        ]
        if overlapping:
            found[index] = overlapping
    return found


def judge(
    slots: list[Slot], rows: list[dict], calendar: SpaceCalendar, conflicts: dict[int, list[ConflictPublic]]
) -> dict[Slot, FailurePublic]:
    """Every slot that cannot be booked, with its first reason: closed, outside hours, taken."""
    taken: dict[Slot, list[ConflictPublic]] = {}
    for index, clashes in conflicts.items():
        row = rows[index]
        taken.setdefault((row["starts_at"], row["ends_at"]), []).extend(clashes)
    failures = {}
    for slot in slots:
        reason = calendar.refusal(*slot) or (BOOKING_CONFLICT if slot in taken else None)
        if reason:
            clashes = sorted({c.occurrence_id: c for c in taken.get(slot, [])}.values(), key=lambda c: c.occurrence_id)
            failures[slot] = FailurePublic(starts_at=slot[0], ends_at=slot[1], reason=reason, conflicts=clashes)
    return failures


def refuse(failures: list[FailurePublic]) -> VenueshareError:
    """The error for a request whose dates cannot all be booked: coded by the first failing date."""
    first = failures[0]
    extra = {"failures": [failure.model_dump(mode="json") for failure in failures]}
    if first.reason == BOOKING_CONFLICT:
        everything = {c.occurrence_id: c for failure in failures for c in failure.conflicts}
        extra["conflicts"] = [everything[oid].model_dump(mode="json") for oid in sorted(everything)]
    detail = DETAILS[first.reason]
    if len(failures) > 1:
        detail += f" ({len(failures)} dates cannot be booked; see failures)"
    return ERRORS[first.reason](detail, **extra)
