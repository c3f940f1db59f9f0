"""Writing a new booking: the booking row, its occurrences under the no-overlap rule, its audit row
and its outbox message.

On PostgreSQL this is one statement, a writable CTE: one round trip instead of four. Inside the
request's transaction the occurrences go in with ON CONFLICT DO NOTHING, so a refused overlap leaves
fewer of them and the transaction usable (the caller then explains the refusal and rolls everything
back). Sent on its own (``write_alone``, the two-round-trip path) it has no ON CONFLICT: a refused
overlap aborts the whole statement, so nothing of the booking is written. SQLite has no writable
CTEs and runs the same writes one by one; every path gives the caller the same answer.
"""

import json
from datetime import datetime

import asyncpg
from sqlalchemy import Integer, String, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Booking, EventKind
from booking.models.base import UTCDateTime
from booking.rules.permissions import Actor
from booking.services import events
from booking.services.common import DriverStatement
from booking.services.holding import hold

_INSERT_BOOKING = insert(Booking.__table__).returning(Booking.__table__.c.id)
DEADLOCK_ATTEMPTS = 3  # a write PostgreSQL chose as a deadlock's victim is sent again this many times in all
_ROW_ARRAYS = ("space_id", "starts_at", "ends_at", "blocked_start_at", "blocked_end_at", "original_starts_at")

_AT_ONCE_SQL = """
WITH b AS (
    INSERT INTO bookings (space_id, organisation_id, title, attendees, starts_at, ends_at, state, rrule,
                          requested_by_id, version, created_at, updated_at)
    VALUES (:space_id, :organisation_id, :title, :attendees, :starts_at, :ends_at, :state, :rrule,
            :requested_by_id, :version, :created_at, :updated_at)
    RETURNING id
), o AS (
    INSERT INTO occurrences (booking_id, space_id, starts_at, ends_at, blocked_start_at, blocked_end_at, state,
                             original_starts_at)
    SELECT b.id, r.space_id, r.starts_at, r.ends_at, r.blocked_start_at, r.blocked_end_at, :state,
           r.original_starts_at
    FROM b, unnest(CAST(:o_space_id AS integer[]), CAST(:o_starts_at AS timestamptz[]),
                   CAST(:o_ends_at AS timestamptz[]), CAST(:o_blocked_start_at AS timestamptz[]),
                   CAST(:o_blocked_end_at AS timestamptz[]), CAST(:o_original_starts_at AS timestamptz[]))
         AS r(space_id, starts_at, ends_at, blocked_start_at, blocked_end_at, original_starts_at)
    {on_conflict}
    RETURNING id, space_id, starts_at
), e AS (
    INSERT INTO booking_events (booking_id, kind, occurrence_ids, from_state, to_state, reason, actor_user_id, at)
    SELECT b.id, CAST(:kind AS varchar), CAST(:occurrence_ids AS jsonb), CAST(:from_state AS varchar),
           CAST(:to_state AS varchar), CAST(:reason AS varchar), CAST(:actor_user_id AS integer),
           CAST(:at AS timestamptz)
    FROM b
), m AS (
    INSERT INTO outbox (topic, booking_id, payload, created_at)
    SELECT CAST(:topic AS varchar), b.id, jsonb_set(CAST(:payload AS jsonb), '{booking_id}', to_jsonb(b.id)),
           CAST(:at AS timestamptz)
    FROM b
)
SELECT b.id, o.id, o.space_id, o.starts_at FROM b, o
"""
_AT_ONCE_TYPES = (
    bindparam("starts_at", type_=UTCDateTime),
    bindparam("ends_at", type_=UTCDateTime),
    bindparam("created_at", type_=UTCDateTime),
    bindparam("updated_at", type_=UTCDateTime),
    bindparam("at", type_=UTCDateTime),
    bindparam("o_space_id", type_=ARRAY(Integer)),
    *(bindparam(f"o_{name}", type_=ARRAY(UTCDateTime)) for name in _ROW_ARRAYS[1:]),
    bindparam("occurrence_ids", type_=JSONB),
    bindparam("payload", type_=JSONB),
    bindparam("state", type_=String),
)
_AT_ONCE = text(_AT_ONCE_SQL.replace("{on_conflict}", "ON CONFLICT DO NOTHING")).bindparams(*_AT_ONCE_TYPES)
_ALONE = DriverStatement(text(_AT_ONCE_SQL.replace("{on_conflict}", "")).bindparams(*_AT_ONCE_TYPES))


async def write_new_booking(
    session: AsyncSession,
    booking: Booking,
    rows: list[dict],
    kind: EventKind,
    *,
    actor: Actor,
    reason: str,
    now: datetime,
) -> list[int] | None:
    """Write the booking (its id is set here), its occurrence ``rows`` (``booking_id`` filled in
    here) and the record of ``kind``. The occurrences' ids in the order of ``rows``, or None when
    the database refused an overlap: the caller must then not commit."""
    change = {"actor": actor, "now": now, "to_state": booking.state, "reason": reason}
    if session.bind.dialect.name != "postgresql":
        booking.id = (await session.execute(_INSERT_BOOKING, booking.model_dump(exclude={"id"}))).scalar_one()
        ids = await hold(session, [{**row, "booking_id": booking.id} for row in rows])
        if ids is not None:
            await events.record(session, booking, kind, **change)
        return ids
    found = (await session.execute(_AT_ONCE, _at_once_values(booking, rows, kind, change))).all()
    if len(found) < len(rows):  # refused: the caller rolls back, the new id does not matter
        return None
    return _ids(booking, rows, found)


async def write_alone(
    driver: asyncpg.Connection,
    booking: Booking,
    rows: list[dict],
    kind: EventKind,
    *,
    actor: Actor,
    reason: str,
    now: datetime,
) -> list[int] | None:
    """``write_new_booking`` as one statement outside any transaction (PostgreSQL): all of it is
    written, or nothing when the no-overlap rule refuses one of the rows (None)."""
    change = {"actor": actor, "now": now, "to_state": booking.state, "reason": reason}
    values = _at_once_values(booking, rows, kind, change)
    values["occurrence_ids"], values["payload"] = json.dumps(values["occurrence_ids"]), json.dumps(values["payload"])
    attempt = 1
    while True:
        try:
            found = await _ALONE.fetch(driver, values)
        except asyncpg.ExclusionViolationError:
            return None
        except asyncpg.DeadlockDetectedError:
            # Two overlapping inserts that each saw the other's row wait for each other (an
            # exclusion constraint without ON CONFLICT has no livelock prevention); PostgreSQL
            # aborts one of them. Sent again, it meets the other's outcome: a committed overlap
            # is a refusal, a rolled-back one leaves the slot free.
            if attempt == DEADLOCK_ATTEMPTS:
                raise
            attempt += 1
            continue
        return _ids(booking, rows, found)


def _at_once_values(booking: Booking, rows: list[dict], kind: EventKind, change: dict) -> dict:
    event, message = events.rows_for(booking, kind, **change)
    assert message is not None, f"a new booking's {kind} is always published"
    return {
        **booking.model_dump(exclude={"id"}),
        **{f"o_{name}": [row[name] for row in rows] for name in _ROW_ARRAYS},
        **{name: event[name] for name in ("kind", "occurrence_ids", "from_state", "reason", "actor_user_id")},
        "to_state": event["to_state"],
        "at": change["now"],
        "topic": message["topic"],
        "payload": message["payload"],
    }


def _ids(booking: Booking, rows: list[dict], found) -> list[int]:
    """Set the booking's new id; the occurrences' ids in the order of ``rows``."""
    booking.id = found[0][0]
    inserted = {(space_id, starts_at): oid for _, oid, space_id, starts_at in found}
    return [inserted[(row["space_id"], row["starts_at"])] for row in rows]
