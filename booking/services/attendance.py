"""Attendance: the roll a class's teacher (or its organisation's staff) takes for one session, and
residents checking themselves in with the session's code.

A class *session* is one date of one of the class's booking series: the occurrence rows sharing
(booking, original start), one per leaf space of a divisible room. The ledger keys on the lowest
id among the session's live rows, so every write for a session lands on the same row. Writes to
one session's attendance are serialised by locking that row (SQLite serialises all writers).
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import (
    AttendanceLocked,
    CheckInClosed,
    Forbidden,
    InvalidRequest,
    NotFound,
    SessionCancelled,
    SessionNotStarted,
    TooManyAttempts,
    VenueshareError,
    WrongCode,
)
from booking.models import (
    Application,
    ApplicationState,
    Attendance,
    AttendanceStatus,
    BookingState,
    ClassBooking,
    CommunityClass,
    LearningEvent,
    Occurrence,
    Resident,
    SessionCode,
    Space,
    Teacher,
    Venue,
)
from booking.rules.permissions import Actor, manages_organisation
from booking.schemas.learning import AttendanceMark, CheckedIn, RollEntry, SessionCodePublic, SessionRoll
from booking.services import learning_audit
from booking.services.common import get_or_404, insert_for
from booking.services.guards import allow, organisation_region
from booking.services.residents import own_profile

EDITABLE_FOR = timedelta(days=7)  # after a session's end, its attendance may be corrected this long
CHECKIN_OPENS_BEFORE = timedelta(minutes=15)
CHECKIN_CLOSES_AFTER = timedelta(minutes=30)
MAX_FAILED_CHECKINS = 5  # per resident and session
CODE_DIGITS = 6
HELD = (BookingState.confirmed.value, BookingState.completed.value)
NOT_HELD = (BookingState.cancelled.value, BookingState.released.value)
ROLL_CALL, SELF_CHECKIN = "teacher", "self_checkin"
ATTENDANCE_EVENT, FAILED_CHECKIN_EVENT = "attendance", "checkin_failed"
ENROLLED = ApplicationState.enrolled.value
# Venue zones are within ±14 h of UTC: a local date's sessions start within a day either side of it.
ZONE_SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ClassSession:
    class_id: int
    occurrence_id: int  # the row the ledger keys on
    starts_at: datetime
    ends_at: datetime
    state: str
    timezone: str
    venue: str

    @property
    def held(self) -> bool:
        return self.state in HELD

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds()) // 60

    @property
    def local_date(self) -> date:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).date()


async def class_sessions(
    session: AsyncSession,
    class_ids: Sequence[int],
    *,
    starting_from: datetime | None = None,
    starting_before: datetime | None = None,
) -> list[ClassSession]:
    """The sessions of the classes, held or cancelled (moved rows live on in their new rows), by start."""
    stmt = (
        select(
            ClassBooking.class_id,
            Occurrence.id,
            Occurrence.booking_id,
            Occurrence.original_starts_at,
            Occurrence.starts_at,
            Occurrence.ends_at,
            Occurrence.state,
            Venue.timezone,
            Venue.name,
        )
        .join(ClassBooking, ClassBooking.booking_id == Occurrence.booking_id)
        .join(Space, Space.id == Occurrence.space_id)
        .join(Venue, Venue.id == Space.venue_id)
        .where(ClassBooking.class_id.in_(class_ids), Occurrence.state.in_(HELD + NOT_HELD))
    )
    if starting_from is not None:
        stmt = stmt.where(Occurrence.starts_at >= starting_from)
    if starting_before is not None:
        stmt = stmt.where(Occurrence.starts_at < starting_before)
    found: dict[tuple[int, datetime], ClassSession] = {}
    for class_id, oid, booking_id, original, starts_at, ends_at, state, zone, venue in await session.execute(stmt):
        candidate = ClassSession(class_id, oid, starts_at, ends_at, state, zone, venue)
        kept = found.get((booking_id, original))
        if kept is None or _preferred(candidate, kept):
            found[(booking_id, original)] = candidate
    return sorted(found.values(), key=lambda s: (s.starts_at, s.occurrence_id))


def _preferred(candidate: ClassSession, kept: ClassSession) -> bool:
    """A session's live rows over its cancelled ones; among equals the lowest id."""
    return (not candidate.held, candidate.occurrence_id) < (not kept.held, kept.occurrence_id)


async def session_on(session: AsyncSession, class_id: int, day: date) -> ClassSession:
    """The class's session on a local date: the held one, else a cancelled one; 404 if none."""
    midnight = datetime.combine(day, time(), UTC)
    nearby = await class_sessions(
        session, [class_id], starting_from=midnight - ZONE_SLACK, starting_before=midnight + 2 * ZONE_SLACK
    )
    found = [s for s in nearby if s.local_date == day]
    held = [s for s in found if s.held]
    if len(held) > 1:
        raise InvalidRequest(f"class {class_id} has {len(held)} sessions on {day}", field="session_date")
    if not found:
        raise NotFound("session", f"{class_id}/{day}")
    return (held or found)[0]


async def _teaches(session: AsyncSession, actor: Actor, class_id: int) -> bool:
    if actor.user_id is None:
        return False
    taught = (
        select(ClassBooking.booking_id)
        .join(Teacher, Teacher.id == ClassBooking.teacher_id)
        .where(ClassBooking.class_id == class_id, Teacher.user_id == actor.user_id)
        .limit(1)
    )
    return await session.scalar(taught) is not None


async def _class_for_staff(session: AsyncSession, actor: Actor, class_id: int, doing: str) -> CommunityClass:
    """The class, if the actor teaches it or manages the organisation that offers it."""
    offer = await get_or_404(session, CommunityClass, class_id)
    region = await organisation_region(session, offer.organisation_id)
    allowed = manages_organisation(actor, offer.organisation_id, region) or await _teaches(session, actor, class_id)
    allow(actor, allowed, doing)
    return offer


def _require_held(found: ClassSession, now: datetime) -> None:
    if not found.held:
        raise SessionCancelled(f"the session on {found.local_date} is {found.state}", state=found.state)
    if now < found.starts_at:
        raise SessionNotStarted(
            f"attendance opens when the session starts ({found.starts_at.isoformat()})",
            starts_at=found.starts_at.isoformat(),
        )


def _require_editable(found: ClassSession, now: datetime) -> None:
    locked_at = found.ends_at + EDITABLE_FOR
    if now >= locked_at:
        raise AttendanceLocked(f"attendance was locked at {locked_at.isoformat()}", locked_at=locked_at.isoformat())


async def _lock(session: AsyncSession, found: ClassSession) -> ClassSession:
    """Lock the session's ledger row and re-read its state, which a concurrent cancel may have changed."""
    state = await session.scalar(select(Occurrence.state).where(Occurrence.id == found.occurrence_id).with_for_update())
    return replace(found, state=state)


async def _enrolled_ids(session: AsyncSession, class_id: int) -> set[int]:
    rows = await session.scalars(
        select(Application.resident_id).where(Application.class_id == class_id, Application.state == ENROLLED)
    )
    return set(rows)


async def _is_enrolled(session: AsyncSession, class_id: int, resident_id: int) -> bool:
    enrolled = select(Application.id).where(
        Application.class_id == class_id, Application.resident_id == resident_id, Application.state == ENROLLED
    )
    return await session.scalar(enrolled.limit(1)) is not None


async def _ledger_rows(session: AsyncSession, found: ClassSession) -> dict[int, Attendance]:
    rows = await session.scalars(select(Attendance).where(Attendance.occurrence_id == found.occurrence_id))
    return {row.resident_id: row for row in rows}


async def roll(session: AsyncSession, actor: Actor, class_id: int, day: date) -> SessionRoll:
    """The session's roll: every enrolled resident, and anyone with attendance recorded, by name."""
    await _class_for_staff(session, actor, class_id, "see this class's attendance")
    return await _roll(session, await session_on(session, class_id, day))


async def _roll(session: AsyncSession, found: ClassSession) -> SessionRoll:
    enrolled = await _enrolled_ids(session, found.class_id)
    ledger = await _ledger_rows(session, found)
    residents = await session.execute(
        select(Resident.user_id, Resident.display_name)
        .where(or_(Resident.user_id.in_(sorted(enrolled)), Resident.user_id.in_(sorted(ledger))))
        .order_by(Resident.display_name, Resident.user_id)
    )
    entries = [
        _entry(resident_id, name, resident_id in enrolled, ledger.get(resident_id)) for resident_id, name in residents
    ]
    return SessionRoll(
        class_id=found.class_id,
        session_date=found.local_date,
        starts_at=found.starts_at,
        ends_at=found.ends_at,
        state=found.state,
        session_minutes=found.minutes,
        editable_until=found.ends_at + EDITABLE_FOR,
        entries=entries,
    )


def _entry(resident_id: int, name: str, enrolled: bool, row: Attendance | None) -> RollEntry:
    line = {} if row is None else {"status": row.status, "minutes": row.minutes, "channel": row.channel}
    recorded_at = None if row is None else row.recorded_at
    return RollEntry(resident_id=resident_id, display_name=name, enrolled=enrolled, recorded_at=recorded_at, **line)


async def take_roll(
    session: AsyncSession, actor: Actor, class_id: int, day: date, marks: list[AttendanceMark], *, now: datetime
) -> SessionRoll:
    """Record or correct attendance for one session: from its start until ``EDITABLE_FOR`` after its
    end, enrolled residents only; each changed line is audited with what it was and what it became."""
    await _class_for_staff(session, actor, class_id, "take this class's attendance")
    found = await _lock(session, await session_on(session, class_id, day))
    _require_held(found, now)
    _require_editable(found, now)
    minutes = _checked_marks(marks, await _enrolled_ids(session, class_id), found.minutes)
    ledger = await _ledger_rows(session, found)
    for mark, attended in zip(marks, minutes, strict=True):
        row = ledger.get(mark.resident_id)
        await _record(
            session, found, mark.resident_id, mark.status, attended, row, actor=actor, channel=ROLL_CALL, now=now
        )
    await session.flush()
    return await _roll(session, found)


def _checked_marks(marks: list[AttendanceMark], enrolled: set[int], session_minutes: int) -> list[int]:
    """The attended minutes of each mark, after refusing the whole roll for any bad line."""
    seen: set[int] = set()
    minutes = []
    for index, mark in enumerate(marks):
        if mark.resident_id not in enrolled:
            raise InvalidRequest(
                f"resident {mark.resident_id} is not enrolled in this class", field=f"{index}.resident_id"
            )
        if mark.resident_id in seen:
            raise InvalidRequest(f"resident {mark.resident_id} appears twice", field=f"{index}.resident_id")
        seen.add(mark.resident_id)
        minutes.append(_attended_minutes(mark, session_minutes, index))
    return minutes


def _attended_minutes(mark: AttendanceMark, session_minutes: int, index: int) -> int:
    implied = {AttendanceStatus.present: session_minutes, AttendanceStatus.absent: 0}.get(mark.status)
    if implied is not None:
        if mark.minutes not in (None, implied):
            raise InvalidRequest(f"{mark.status} means {implied} minutes", field=f"{index}.minutes")
        return implied
    if mark.minutes is None:
        raise InvalidRequest(f"{mark.status} needs the minutes attended", field=f"{index}.minutes")
    if mark.minutes > session_minutes:
        raise InvalidRequest(f"the session lasts {session_minutes} minutes", field=f"{index}.minutes")
    return mark.minutes


async def _record(
    session: AsyncSession,
    found: ClassSession,
    resident_id: int,
    status: AttendanceStatus,
    minutes: int,
    row: Attendance | None,
    *,
    actor: Actor,
    channel: str,
    now: datetime,
) -> None:
    """Upsert one ledger line and audit it; an unchanged line is neither written nor audited."""
    before = None if row is None else {"status": row.status, "minutes": row.minutes}
    after = {"status": status.value, "minutes": minutes}
    if before == after:
        return
    if row is None:
        row = Attendance(
            occurrence_id=found.occurrence_id,
            class_id=found.class_id,
            resident_id=resident_id,
            session_date=found.local_date,
        )
        session.add(row)
    row.status, row.minutes, row.recorded_by, row.channel, row.recorded_at = (
        status,
        minutes,
        actor.user_id,
        channel,
        now,
    )
    await learning_audit.record(
        session,
        ATTENDANCE_EVENT,
        class_id=found.class_id,
        now=now,
        actor_user_id=actor.user_id,
        channel=channel,
        resident_id=resident_id,
        occurrence_id=found.occurrence_id,
        detail={"session_date": found.local_date.isoformat(), "from": before, "to": after},
    )


async def session_code(session: AsyncSession, actor: Actor, class_id: int, day: date, *, now: datetime):
    """The session's check-in code, made on first request and the same ever after."""
    await _class_for_staff(session, actor, class_id, "show this class's check-in code")
    found = await session_on(session, class_id, day)
    if not found.held:
        raise SessionCancelled(f"the session on {day} is {found.state}", state=found.state)
    new = {"occurrence_id": found.occurrence_id, "code": _new_code(), "created_at": now}
    await session.execute(insert_for(session, SessionCode).values(new).on_conflict_do_nothing())
    code = await session.scalar(select(SessionCode.code).where(SessionCode.occurrence_id == found.occurrence_id))
    return SessionCodePublic(
        class_id=class_id,
        session_date=found.local_date,
        code=code,
        opens_at=found.starts_at - CHECKIN_OPENS_BEFORE,
        closes_at=found.starts_at + CHECKIN_CLOSES_AFTER,
    )


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class CheckInOutcome:
    """A check-in either records attendance or fails; a wrong code is returned, not raised, so the
    failed attempt it records is committed with the request (it counts towards the limit)."""

    checked_in: CheckedIn | None = None
    error: VenueshareError | None = None


async def check_in(session: AsyncSession, actor: Actor, class_id: int, code: str, *, now: datetime) -> CheckInOutcome:
    """An enrolled resident checks in to the class's session open now with the code the teacher
    shows; present for the whole session. Idempotent: once recorded (by either channel) the
    line is returned as it is, never overwritten by a check-in."""
    resident = await own_profile(session, actor)
    await get_or_404(session, CommunityClass, class_id)
    if not await _is_enrolled(session, class_id, resident.user_id):
        raise Forbidden("you are not enrolled in this class")
    found = await _lock(session, await _open_for_checkin(session, class_id, now))
    if not found.held:
        raise CheckInClosed("the session was cancelled")
    failures = await _failed_checkins(session, found, resident.user_id)
    if failures >= MAX_FAILED_CHECKINS:
        raise TooManyAttempts(f"{failures} wrong codes for this session: ask the teacher to mark you present")
    expected = await session.scalar(select(SessionCode.code).where(SessionCode.occurrence_id == found.occurrence_id))
    if expected is None or not secrets.compare_digest(expected, code.strip()):
        await learning_audit.record(
            session,
            FAILED_CHECKIN_EVENT,
            class_id=class_id,
            now=now,
            actor_user_id=actor.user_id,
            channel=SELF_CHECKIN,
            resident_id=resident.user_id,
            occurrence_id=found.occurrence_id,
        )
        left = MAX_FAILED_CHECKINS - failures - 1
        return CheckInOutcome(error=WrongCode("that is not this session's code", attempts_left=left))
    row = (await _ledger_rows(session, found)).get(resident.user_id)
    if row is not None:
        return CheckInOutcome(checked_in=_checked_in(found, row.status, row.minutes, row.channel))
    present = AttendanceStatus.present
    await _record(
        session, found, resident.user_id, present, found.minutes, None, actor=actor, channel=SELF_CHECKIN, now=now
    )
    await session.flush()
    return CheckInOutcome(checked_in=_checked_in(found, present, found.minutes, SELF_CHECKIN))


def _checked_in(found: ClassSession, status: AttendanceStatus, minutes: int, channel: str) -> CheckedIn:
    return CheckedIn(
        class_id=found.class_id, session_date=found.local_date, status=status, minutes=minutes, channel=channel
    )


async def _open_for_checkin(session: AsyncSession, class_id: int, now: datetime) -> ClassSession:
    """The held session whose check-in window [start − 15 min, start + 30 min) holds ``now``."""
    nearby = await class_sessions(session, [class_id], starting_from=now - ZONE_SLACK, starting_before=now + ZONE_SLACK)
    open_now = [
        s for s in nearby if s.held and s.starts_at - CHECKIN_OPENS_BEFORE <= now < s.starts_at + CHECKIN_CLOSES_AFTER
    ]
    if not open_now:
        raise CheckInClosed("no session of this class is open for check-in now")
    return open_now[0]


async def _failed_checkins(session: AsyncSession, found: ClassSession, resident_id: int) -> int:
    failed = select(func.count()).where(
        LearningEvent.class_id == found.class_id,
        LearningEvent.kind == FAILED_CHECKIN_EVENT,
        LearningEvent.occurrence_id == found.occurrence_id,
        LearningEvent.resident_id == resident_id,
    )
    return int(await session.scalar(failed) or 0)
