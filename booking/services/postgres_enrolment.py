"""A resident's own application to a first-come class on PostgreSQL in two round trips, outside any
transaction: one read, one write.

The read gathers what the rules of ``booking.rules.applications`` need: the caller (from the
token, checked on every request), the class's term, the caller's resident profile, the class's
enrolment policy, whether the resident already holds an application to it and their seats and
applications this term. The write is one statement: the conditional seat update (``enrolled <
seats``), the application holding that seat and its audit row, all or nothing. A full class
updates no seat and so inserts nothing; a concurrent second application of the same resident
breaks the partial unique index and aborts the whole statement.

A lottery class answers None here: its priority tier needs more reads, and nobody wins a lottery
by being first, so it takes the transactional path.
"""

import json
import uuid
from datetime import datetime
from typing import NamedTuple

import asyncpg
from sqlalchemy import text

from booking.errors import AlreadyApplied, ClassFull, NotFound, Unauthorized
from booking.models import HOLDING, Application, ApplicationState, Channel, EnrolmentMode
from booking.rules.applications import check_eligible, check_not_applied, check_open, check_term_limit
from booking.schemas.enrolment import ApplicationPublic
from booking.services.accounts import INVALID_TOKEN, digest
from booking.services.common import DriverStatement
from booking.services.residents import no_profile

_HOLDING = ", ".join(f"'{state}'" for state in HOLDING)  # constants of the code, not input

_READ = DriverStatement(
    text(
        f"""
WITH caller AS (
    SELECT u.id
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = :token_hash AND t.kind <> 'feed' AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > :now) AND u.is_active
), offer AS (
    SELECT term_start FROM classes WHERE id = :class_id
), mine AS (
    SELECT a.class_id, a.state FROM applications a
    WHERE a.resident_id = (SELECT id FROM caller) AND a.term_start = (SELECT term_start FROM offer)
      AND a.state IN ({_HOLDING})
)
SELECT
    (SELECT id FROM caller) AS user_id,
    (SELECT term_start FROM offer) AS term_start,
    (SELECT ROW(r.public_id, r.birth_year) FROM residents r WHERE r.user_id = (SELECT id FROM caller)) AS resident,
    (SELECT ROW(p.opens_at, p.closes_at, p.outcome, p.mode, p.seats, p.term_limit, p.min_age, p.max_age)
     FROM enrolment_policies p WHERE p.class_id = :class_id) AS policy,
    EXISTS (SELECT 1 FROM mine WHERE class_id = :class_id) AS applied,
    (SELECT count(*) FILTER (WHERE state = 'enrolled') FROM mine) AS held,
    (SELECT count(*) FROM mine) AS live
"""
    )
)

_ENROL = DriverStatement(
    text(
        """
WITH seat AS (
    UPDATE enrolment_policies SET enrolled = enrolled + 1
    WHERE class_id = :class_id AND enrolled < seats
    RETURNING enrolled
), application AS (
    INSERT INTO applications (public_id, class_id, resident_id, term_start, state, tier, rank, channel,
                              actor_user_id, created_at, updated_at)
    SELECT :public_id, :class_id, :resident_id, :term_start, :state, 0, seat.enrolled, :channel,
           :resident_id, :now, :now
    FROM seat
    RETURNING id, rank
), audit AS (
    INSERT INTO learning_events (kind, class_id, application_id, resident_id, actor_user_id, channel, detail, at)
    SELECT :state, :class_id, application.id, :resident_id, :resident_id, :channel, CAST(:detail AS jsonb), :now
    FROM application
)
SELECT rank FROM application
"""
    )
)


class OpenPolicy(NamedTuple):
    """The fields of a class's enrolment policy that applying reads."""

    opens_at: datetime
    closes_at: datetime
    outcome: str | None
    mode: str
    seats: int
    term_limit: int
    min_age: int | None
    max_age: int | None


async def apply_first_come(
    driver: asyncpg.Connection, token: str, class_id: int, *, now: datetime
) -> ApplicationPublic | None:
    """The token's resident applies to the class: enrolled, or refused as the transactional path
    refuses (the same rules, in the same order). None for a lottery class."""
    found = await _READ.fetchrow(driver, {"token_hash": digest(token), "now": now, "class_id": class_id})
    if found["user_id"] is None:
        raise Unauthorized(INVALID_TOKEN)
    if found["term_start"] is None:
        raise NotFound("class", class_id)
    if found["resident"] is None:
        raise no_profile()
    policy = None if found["policy"] is None else OpenPolicy(*found["policy"])
    check_open(policy, now)
    if policy.mode != EnrolmentMode.first_come:
        return None
    resident_id, term_start = found["user_id"], found["term_start"]
    public_id, birth_year = found["resident"]
    check_not_applied(found["applied"])
    check_eligible(policy, birth_year, term_start)
    check_term_limit(policy, found["held"], found["live"])
    application = Application(
        public_id=str(uuid.uuid4()),
        class_id=class_id,
        resident_id=resident_id,
        term_start=term_start,
        state=ApplicationState.enrolled,
        tier=0,
        channel=Channel.self,
        actor_user_id=resident_id,
        created_at=now,
        updated_at=now,
    )
    application.rank = await _enrol(driver, application)
    if application.rank is None:
        raise ClassFull(f"all {policy.seats} seats are taken", seats=policy.seats)
    return ApplicationPublic.of(application, public_id)


async def _enrol(driver: asyncpg.Connection, application: Application) -> int | None:
    """The seat the application takes (its rank), or None when the class is full."""
    values = {
        **application.model_dump(include={"public_id", "class_id", "resident_id", "term_start", "state", "channel"}),
        "now": application.created_at,
        "detail": json.dumps({"tier": application.tier}),
    }
    try:
        enrolled = await _ENROL.fetchrow(driver, values)
    except asyncpg.UniqueViolationError as error:  # a concurrent application of the same resident won
        raise AlreadyApplied("you have already applied to this class") from error
    return None if enrolled is None else enrolled["rank"]
