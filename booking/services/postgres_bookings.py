"""A new booking on PostgreSQL in two round trips, outside any transaction: one read, one write.

The read gathers in one statement everything the rules need: the caller (from the token, with
every grant and the regions it administers, so revocation stays immediate), the space with every
space beneath it, its venue, the organisation booked for, the policy layers over the space, the
opening hours and the closures that concern it. The rules then run in Python, the same code as on
every other path. The write is the one statement of ``booking_writes.write_alone``: the booking,
its occurrences under the exclusion constraint, the audit row and the outbox message, all or
nothing.

Nothing needs a transaction around the two: the read takes no locks either inside one (READ
COMMITTED), and the no-overlap rule is the database's, checked by the write itself. Rarer steps
(a pending request's or a refused one's conflicts, a quota's count) are single reads on the same
connection. Statements are compiled once and sent straight through the driver, on a connection of
the driver's own pool (no per-request session, no reset).
"""

import json
from datetime import datetime

import asyncpg
from sqlalchemy import JSON, text

from booking.errors import Unauthorized
from booking.models import RULE_FIELDS, Booking, EventKind, Policy
from booking.rules.availability import SpaceCalendar
from booking.rules.intervals import Interval
from booking.rules.permissions import Actor
from booking.rules.policies import EffectivePolicy, Span
from booking.schemas.bookings import ConflictPublic
from booking.services.accounts import INVALID_TOKEN, actor_from, administered_roots, digest
from booking.services.booking_writes import write_alone
from booking.services.calendars import HoursRow, space_calendar
from booking.services.common import DriverStatement
from booking.services.holding import HOLDING_FOR_DRIVER, Target, clashes, holding_window, target_of
from booking.services.policies import SESSIONS_FOR_DRIVER, sessions_window

_JSON_RULES = frozenset(name for name in RULE_FIELDS if isinstance(Policy.__table__.c[name].type, JSON))
_RULES = ", ".join(f"CAST(p.{name} AS text)" if name in _JSON_RULES else f"p.{name}" for name in RULE_FIELDS)

_READ = DriverStatement(
    text(
        f"""
WITH RECURSIVE venue AS (
    SELECT v.id, v.timezone, v.closes_on_public_holidays, v.country, v.region_id, v.owner_id
    FROM spaces s JOIN venues v ON v.id = s.venue_id
    WHERE s.id = :space_id
), caller AS (
    SELECT u.id AS user_id, g.role, g.organisation_id, g.region_id
    FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN role_grants g ON g.user_id = u.id
    WHERE t.token_hash = :token_hash AND t.kind <> 'feed' AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > :now) AND u.is_active
), administered(id) AS (
    SELECT region_id FROM caller WHERE role = 'district_admin' AND region_id IS NOT NULL
    UNION ALL
    SELECT r.id FROM regions r JOIN administered a ON r.parent_id = a.id
)
SELECT
    ARRAY(SELECT ROW(user_id, role, organisation_id, region_id) FROM caller) AS caller,
    ARRAY(SELECT id FROM administered) AS regions,
    ARRAY(SELECT ROW(s.id, s.parent_id, s.capacity, s.buffer_before_min, s.buffer_after_min)
          FROM space_tree t JOIN spaces s ON s.id = t.descendant_id
          WHERE t.ancestor_id = :space_id) AS subtree,
    (SELECT ROW(id, timezone, closes_on_public_holidays, country, region_id, owner_id) FROM venue) AS venue,
    (SELECT ROW(kind, region_id) FROM organisations WHERE id = :organisation_id) AS booker,
    ARRAY(SELECT ROW({_RULES})
          FROM policies p LEFT JOIN space_tree t ON t.ancestor_id = p.space_id AND t.descendant_id = :space_id
          WHERE t.descendant_id IS NOT NULL OR p.venue_id = (SELECT id FROM venue)
          ORDER BY t.depth IS NULL, t.depth) AS layers,
    ARRAY(SELECT ROW(h.space_id, h.venue_id, h.weekday, h.opens_min, h.closes_min, h.valid_from, h.valid_until)
          FROM opening_hours h
          WHERE h.space_id = :space_id OR h.venue_id = (SELECT id FROM venue)) AS hours,
    ARRAY(SELECT ROW(c.starts_at, c.ends_at)
          FROM closures c
          WHERE c.starts_at < :end AND c.ends_at > :start
            AND (c.venue_id = (SELECT id FROM venue)
                 OR c.space_id IN (SELECT ancestor_id FROM space_tree WHERE descendant_id = :space_id
                                   UNION SELECT descendant_id FROM space_tree WHERE ancestor_id = :space_id))
          ) AS closures
"""
    )
)


def _layer(values: tuple) -> dict:
    layer = dict(zip(RULE_FIELDS, values, strict=True))
    for name in _JSON_RULES:
        if layer[name] is not None:
            layer[name] = json.loads(layer[name])
    return layer


class PostgresStore:
    """Where a booking asked for with ``token`` is read from and written to: a driver connection
    outside any transaction."""

    def __init__(self, driver: asyncpg.Connection, token: str, *, now: datetime) -> None:
        self.driver = driver
        self.token = token
        self.now = now
        self._hours: list[HoursRow] = []
        self._closures: list[Interval] = []

    async def context(
        self, space_id: int, organisation_id: int | None, within: Interval
    ) -> tuple[Actor, Target, EffectivePolicy]:
        values = {
            "token_hash": digest(self.token),
            "now": self.now,
            "space_id": space_id,
            "organisation_id": organisation_id,
            "start": within[0],
            "end": within[1],
        }
        found = await _READ.fetchrow(self.driver, values)
        if not found["caller"]:
            raise Unauthorized(INVALID_TOKEN)
        grants = [tuple(row[1:]) for row in found["caller"] if row[1] is not None]
        regions = frozenset(found["regions"]) if administered_roots(grants) else frozenset()
        actor = actor_from(found["caller"][0][0], grants, regions)
        booker = found["booker"] or (None, None)
        space = target_of(space_id, found["subtree"], found["venue"] or (), organisation_id, booker)
        self._hours = [HoursRow(*row) for row in found["hours"]]
        self._closures = [tuple(row) for row in found["closures"]]
        return actor, space, EffectivePolicy.merged(_layer(row) for row in found["layers"])

    async def calendar(self, space: Target, start: datetime, end: datetime) -> SpaceCalendar:
        return space_calendar(space.space.id, space.venue, self._hours, self._closures, start, end)

    async def organisation_sessions(self, **window) -> list[Span]:
        return [tuple(row) for row in await SESSIONS_FOR_DRIVER.fetch(self.driver, sessions_window(**window))]

    async def conflicts_with(self, rows: list[dict]) -> dict[int, list[ConflictPublic]]:
        if not rows:
            return {}
        return clashes(rows, await HOLDING_FOR_DRIVER.fetch(self.driver, holding_window(rows)))

    async def write(self, booking: Booking, rows: list[dict], kind: EventKind, **change) -> list[int] | None:
        return await write_alone(self.driver, booking, rows, kind, **change)
