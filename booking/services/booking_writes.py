"""Writing a new booking: the booking row, its occurrences under the no-overlap rule, its audit row
and its outbox message.

On PostgreSQL this is one statement, a writable CTE: one round trip instead of four. The occurrences
go in with ON CONFLICT DO NOTHING, so a refused overlap leaves fewer of them and the transaction
usable (the caller then explains the refusal and rolls everything back). SQLite has no writable
CTEs and runs the same writes one by one; both give the caller the same answer.
"""

from datetime import datetime

from sqlalchemy import Integer, String, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Booking, EventKind
from booking.models.base import UTCDateTime
from booking.rules.permissions import Actor
from booking.services import events
from booking.services.holding import hold

_INSERT_BOOKING = insert(Booking.__table__).returning(Booking.__table__.c.id)
_ROW_ARRAYS = ("space_id", "starts_at", "ends_at", "blocked_start_at", "blocked_end_at", "original_starts_at")

_AT_ONCE = text(
    """
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
    ON CONFLICT DO NOTHING
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
).bindparams(
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
    event, message = events.rows_for(booking, kind, **change)
    assert message is not None, f"a new booking's {kind} is always published"
    found = (
        await session.execute(
            _AT_ONCE,
            {
                **booking.model_dump(exclude={"id"}),
                **{f"o_{name}": [row[name] for row in rows] for name in _ROW_ARRAYS},
                **{name: event[name] for name in ("kind", "occurrence_ids", "from_state", "reason", "actor_user_id")},
                "to_state": event["to_state"],
                "at": now,
                "topic": message["topic"],
                "payload": message["payload"],
            },
        )
    ).all()
    if len(found) < len(rows):  # refused: the caller rolls back, the new id does not matter
        return None
    booking.id = found[0][0]
    inserted = {(space_id, starts_at): oid for _, oid, space_id, starts_at in found}
    return [inserted[(row["space_id"], row["starts_at"])] for row in rows]
