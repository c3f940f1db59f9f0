"""Learning records: what each resident learnt in each class, derived from the attendance ledger,
for the resident themself, as the credit bank's batch import (CSV "学习成果登记表") and as an
Open Badges 3.0 credential per completed class.

A record exists for every class a resident is enrolled in or has attended. Its numbers come from
``rules.credits`` (definitions there): planned and attended minutes over the class's sessions that
are not cancelled, the attendance rate over the sessions held so far, completion over the whole
term, and credits and points under the scheme of the organisation offering the class, which every
record carries with it. Attendance recorded for a session that was later cancelled does not count.

Exports name learners by their public UUID and show an ID number only as its last four digits;
the salted hash of the ID number never leaves the database (PIPL art. 28).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, NotFound
from booking.models import (
    Application,
    ApplicationState,
    Attendance,
    ClassBooking,
    CommunityClass,
    EnrolmentPolicy,
    Organisation,
    Region,
    Resident,
    Teacher,
)
from booking.rules import credits
from booking.rules.credits import Award, Scheme, SessionMinutes, Tally
from booking.rules.permissions import Actor, manages_organisation
from booking.schemas.learning import CreditScheme, LearningRecordPublic, MyLearningRecord
from booking.services.accounts import subtree
from booking.services.attendance import ClassSession, class_sessions
from booking.services.common import get_or_404
from booking.services.guards import allow, organisation_region, require_admin_of, require_signed_in
from booking.services.residents import resident_for
from integrations import spreadsheet

DEFAULT_COMPLETION_PERCENT: int = EnrolmentPolicy.model_fields["completion_percent"].default
RECORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:venueshare:learning-record")
HOUR_PLACES, RATE_PLACES = 2, 4


@dataclass(frozen=True, slots=True)
class ClassFacts:
    """What a record needs to know of its class and the organisation offering it."""

    id: int
    title: str
    category: str
    term_start: date
    term_end: date
    organisation_id: int
    organisation_name: str
    scheme: Scheme
    completion_percent: int
    teachers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LearningRecord:
    resident: Resident
    offer: ClassFacts
    sessions: tuple[ClassSession, ...]  # the class's planned sessions, by start
    tally: Tally
    award: Award

    @property
    def record_id(self) -> str:
        """The same URN for the same resident and class, in every export and badge."""
        return f"urn:uuid:{uuid.uuid5(RECORD_NAMESPACE, f'{self.resident.public_id}:{self.offer.id}')}"

    @property
    def venues(self) -> list[str]:
        return list(dict.fromkeys(s.venue for s in self.sessions))

    @property
    def completed_on(self) -> date | None:
        """The local date of the session that completed the class."""
        ending = next((s for s in self.sessions if s.ends_at == self.tally.completed_at), None)
        return None if ending is None else ending.ends_at.astimezone(ZoneInfo(ending.timezone)).date()

    @property
    def first_day(self) -> date:
        return self.sessions[0].local_date if self.sessions else self.offer.term_start

    @property
    def last_day(self) -> date:
        return self.sessions[-1].local_date if self.sessions else self.offer.term_end


# ---- building records ----------------------------------------------------------------------------


async def records(
    session: AsyncSession, class_ids: list[int], *, now: datetime, resident_ids: list[int] | None = None
) -> list[LearningRecord]:
    """The records of the classes (of these residents only, if given), by term, class and name."""
    if not class_ids:
        return []
    facts = await _class_facts(session, class_ids)
    planned: dict[int, list[ClassSession]] = defaultdict(list)
    for found in await class_sessions(session, class_ids):
        if found.held:
            planned[found.class_id].append(found)
    ledger = await _ledger(session, class_ids, resident_ids)
    pairs = set(ledger) | await _enrolled_pairs(session, class_ids, resident_ids)
    residents = await _residents(session, {resident_id for _, resident_id in pairs})
    built = [
        _record(
            residents[resident_id], facts[class_id], planned[class_id], ledger.get((class_id, resident_id), {}), now
        )
        for class_id, resident_id in pairs
    ]
    return sorted(built, key=lambda r: (r.offer.term_start, r.offer.id, r.resident.display_name, r.resident.user_id))


def _record(
    resident: Resident, offer: ClassFacts, planned: list[ClassSession], ledger: dict[int, int], now: datetime
) -> LearningRecord:
    minutes = [SessionMinutes(s.starts_at, s.ends_at, s.minutes, ledger.get(s.occurrence_id, 0)) for s in planned]
    tally = credits.tally(minutes, now=now, completion_percent=offer.completion_percent)
    return LearningRecord(resident, offer, tuple(planned), tally, credits.award(tally.attended_minutes, offer.scheme))


async def _class_facts(session: AsyncSession, class_ids: list[int]) -> dict[int, ClassFacts]:
    teachers: dict[int, list[str]] = defaultdict(list)
    taught = await session.execute(
        select(ClassBooking.class_id, Teacher.name)
        .join(Teacher, Teacher.id == ClassBooking.teacher_id)
        .where(ClassBooking.class_id.in_(class_ids))
        .distinct()
        .order_by(ClassBooking.class_id, Teacher.name)
    )
    for class_id, name in taught:
        teachers[class_id].append(name)
    rows = await session.execute(
        select(CommunityClass, Organisation, EnrolmentPolicy.completion_percent)
        .join(Organisation, Organisation.id == CommunityClass.organisation_id)
        .outerjoin(EnrolmentPolicy, EnrolmentPolicy.class_id == CommunityClass.id)
        .where(CommunityClass.id.in_(class_ids))
    )
    return {
        offer.id: ClassFacts(
            id=offer.id,
            title=offer.title,
            category=offer.category,
            term_start=offer.term_start,
            term_end=offer.term_end,
            organisation_id=organisation.id,
            organisation_name=organisation.name,
            scheme=Scheme.of(organisation.hours_per_credit, organisation.points_per_hour, organisation.credit_rounding),
            completion_percent=percent if percent is not None else DEFAULT_COMPLETION_PERCENT,
            teachers=tuple(teachers[offer.id]),
        )
        for offer, organisation, percent in rows
    }


async def _ledger(
    session: AsyncSession, class_ids: list[int], resident_ids: list[int] | None
) -> dict[tuple[int, int], dict[int, int]]:
    """Attended minutes per (class, resident) and session; lines of 0 minutes add nothing."""
    stmt = select(Attendance.class_id, Attendance.resident_id, Attendance.occurrence_id, Attendance.minutes).where(
        Attendance.class_id.in_(class_ids), Attendance.minutes > 0
    )
    if resident_ids is not None:
        stmt = stmt.where(Attendance.resident_id.in_(resident_ids))
    ledger: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for class_id, resident_id, occurrence_id, minutes in await session.execute(stmt):
        ledger[(class_id, resident_id)][occurrence_id] = minutes
    return ledger


async def _enrolled_pairs(
    session: AsyncSession, class_ids: list[int], resident_ids: list[int] | None
) -> set[tuple[int, int]]:
    stmt = select(Application.class_id, Application.resident_id).where(
        Application.class_id.in_(class_ids), Application.state == ApplicationState.enrolled
    )
    if resident_ids is not None:
        stmt = stmt.where(Application.resident_id.in_(resident_ids))
    return {(class_id, resident_id) for class_id, resident_id in await session.execute(stmt)}


async def _residents(session: AsyncSession, resident_ids: set[int]) -> dict[int, Resident]:
    found = await session.scalars(select(Resident).where(Resident.user_id.in_(sorted(resident_ids))))
    return {resident.user_id: resident for resident in found}


# ---- the resident's own record -------------------------------------------------------------------


async def my_learning_record(
    session: AsyncSession, actor: Actor, *, now: datetime, resident_public_id: str | None = None
) -> MyLearningRecord:
    """Every class the resident (the caller, or one they act for) is enrolled in or has attended,
    newest term first."""
    resident = await resident_for(session, actor, resident_public_id)
    enrolled = select(Application.class_id).where(
        Application.resident_id == resident.user_id, Application.state == ApplicationState.enrolled
    )
    attended = select(Attendance.class_id).where(Attendance.resident_id == resident.user_id)
    class_ids = sorted(set(await session.scalars(enrolled.union(attended))))
    mine = await records(session, class_ids, now=now, resident_ids=[resident.user_id])
    mine.sort(key=lambda r: (r.offer.term_start, r.offer.id), reverse=True)
    return MyLearningRecord(
        resident_id=resident.public_id, display_name=resident.display_name, records=[public(r) for r in mine]
    )


def public(record: LearningRecord) -> LearningRecordPublic:
    tally, offer = record.tally, record.offer
    return LearningRecordPublic(
        record_id=record.record_id,
        class_id=offer.id,
        class_title=offer.title,
        category=offer.category,
        organisation_id=offer.organisation_id,
        organisation_name=offer.organisation_name,
        venues=record.venues,
        term_start=offer.term_start,
        term_end=offer.term_end,
        sessions_planned=tally.sessions_planned,
        sessions_held=tally.sessions_held,
        planned_minutes=tally.planned_minutes,
        attended_minutes=tally.attended_minutes,
        planned_hours=float(credits.to_decimal(credits.hours(tally.planned_minutes), HOUR_PLACES)),
        attended_hours=float(credits.to_decimal(record.award.hours, HOUR_PLACES)),
        attendance_rate=None if tally.rate is None else float(credits.to_decimal(tally.rate, RATE_PLACES)),
        completion_percent=offer.completion_percent,
        completed=tally.completed,
        completed_on=record.completed_on,
        credits=float(record.award.credits),
        points=float(record.award.points),
        scheme=CreditScheme(
            hours_per_credit=float(offer.scheme.hours_per_credit),
            points_per_hour=float(offer.scheme.points_per_hour),
            rounding=offer.scheme.rounding.value,
        ),
    )


# ---- staff exports -------------------------------------------------------------------------------


async def export_csv(
    session: AsyncSession,
    actor: Actor,
    *,
    region_id: int | None,
    organisation_id: int | None,
    term_start: date | None,
    now: datetime,
) -> bytes:
    """The completed records of the classes offered by the organisations of a region (district
    administrators of it) or by one organisation (its managers and their district administrators)."""
    organisations = await _exported_organisations(session, actor, region_id, organisation_id)
    stmt = select(CommunityClass.id).where(CommunityClass.organisation_id.in_(organisations))
    if term_start is not None:
        stmt = stmt.where(CommunityClass.term_start == term_start)
    class_ids = sorted(await session.scalars(stmt))
    return render_csv([r for r in await records(session, class_ids, now=now) if r.tally.completed])


async def _exported_organisations(
    session: AsyncSession, actor: Actor, region_id: int | None, organisation_id: int | None
) -> list[int]:
    if (region_id is None) == (organisation_id is None):
        raise InvalidRequest("give exactly one of region_id and organisation_id", field="region_id")
    if organisation_id is not None:
        region = await organisation_region(session, organisation_id)
        allow(actor, manages_organisation(actor, organisation_id, region), "export this organisation's records")
        return [organisation_id]
    await get_or_404(session, Region, region_id)
    require_admin_of(actor, region_id, "export this region's records")
    regions = await subtree(session, {region_id})
    return list(await session.scalars(select(Organisation.id).where(Organisation.region_id.in_(regions))))


CSV_COLUMNS = (
    "记录编号",
    "学员编号",
    "姓名",
    "证件类型",
    "证件号后四位",
    "课程编号",
    "课程名称",
    "课程类别",
    "办学单位",
    "学习地点",
    "学期",
    "开始日期",
    "结束日期",
    "课程学时",
    "实到学时",
    "出勤率",
    "考核方式",
    "考核结果",
    "学分方案",
    "折算比例",
    "学分",
    "认定单位",
    "认定人",
    "认定日期",
    "状态",
)
ID_TYPES = {"resident_id_card": "居民身份证"}
ROUNDINGS = {
    credits.Rounding.down_to_half: "向下取整到0.5学分",
    credits.Rounding.down_to_tenth: "向下取整到0.1学分",
    credits.Rounding.nearest_tenth: "四舍五入到0.1学分",
}
ASSESSMENT = "考勤"
PASSED = "合格"
VALID = "有效"


def render_csv(completed: list[LearningRecord]) -> bytes:
    return spreadsheet.csv_bytes(CSV_COLUMNS, (_csv_row(record) for record in completed))


def _csv_row(record: LearningRecord) -> list[str]:
    resident, offer, tally = record.resident, record.offer, record.tally
    scheme = offer.scheme
    return [
        record.record_id,
        resident.public_id,
        spreadsheet.text(resident.display_name),
        ID_TYPES.get(resident.id_type, resident.id_type) if resident.id_last4 else "",
        resident.id_last4 or "",
        str(offer.id),
        spreadsheet.text(offer.title),
        spreadsheet.text(offer.category),
        spreadsheet.text(offer.organisation_name),
        spreadsheet.text("、".join(record.venues)),
        f"{offer.term_start.isoformat()}至{offer.term_end.isoformat()}",
        record.first_day.isoformat(),
        record.last_day.isoformat(),
        _hours_text(tally.planned_minutes),
        _hours_text(tally.attended_minutes),
        f"{credits.to_decimal(tally.rate * 100, 1)}%" if tally.rate is not None else "",
        f"{ASSESSMENT}（实到学时不少于课程学时的{offer.completion_percent}%）",
        PASSED,
        f"{_ratio(scheme)}学时折1学分，{ROUNDINGS[scheme.rounding]}",
        _ratio(scheme),
        _number(record.award.credits),
        spreadsheet.text(offer.organisation_name),
        spreadsheet.text("、".join(offer.teachers)),
        record.completed_on.isoformat() if record.completed_on else "",
        VALID,
    ]


def _number(value: Decimal) -> str:
    """7.5, 6, 0.25: no trailing zeros, never an exponent."""
    return f"{value.normalize():f}"


def _hours_text(minutes: int) -> str:
    return _number(credits.to_decimal(credits.hours(minutes), HOUR_PLACES))


def _ratio(scheme: Scheme) -> str:
    """Hours per credit as written (16, 25.5)."""
    return _number(credits.to_decimal(scheme.hours_per_credit, HOUR_PLACES))


# ---- Open Badges 3.0 -----------------------------------------------------------------------------

OB_CONTEXT = ("https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json")


async def badge(session: AsyncSession, actor: Actor, resident_public_id: str, class_id: int, *, now: datetime):
    """The OpenBadgeCredential (unsigned) of a completed class: for the resident and for staff who
    could export it; 404 for everyone else, and while the class is not completed."""
    require_signed_in(actor)
    missing = NotFound("completed learning record", f"{resident_public_id}/{class_id}")
    resident = await session.scalar(select(Resident).where(Resident.public_id == resident_public_id))
    offer = await session.get(CommunityClass, class_id)
    if resident is None or offer is None:
        raise missing
    region = await organisation_region(session, offer.organisation_id)
    if resident.user_id != actor.user_id and not manages_organisation(actor, offer.organisation_id, region):
        raise missing
    found = await records(session, [class_id], now=now, resident_ids=[resident.user_id])
    if not found or not found[0].tally.completed:
        raise missing
    return render_badge(found[0])


def render_badge(record: LearningRecord) -> dict[str, Any]:
    offer, tally = record.offer, record.tally
    issuer = {
        "id": f"urn:venueshare:organisation:{offer.organisation_id}",
        "type": ["Profile"],
        "name": offer.organisation_name,
    }
    achievement_id = f"urn:venueshare:class:{offer.id}"
    subject = {
        "id": f"urn:uuid:{record.resident.public_id}",
        "type": ["AchievementSubject"],
        "activityStartDate": _instant(record.sessions[0].starts_at),
        "activityEndDate": _instant(record.sessions[-1].ends_at),
        "creditsEarned": float(record.award.credits),
        "term": f"{offer.term_start.isoformat()}/{offer.term_end.isoformat()}",
        "achievement": _achievement(record, achievement_id, issuer),
        "result": [
            {
                "type": ["Result"],
                "resultDescription": f"{achievement_id}:attended-hours",
                "value": _hours_text(tally.attended_minutes),
            },
            {
                "type": ["Result"],
                "resultDescription": f"{achievement_id}:attendance-rate",
                "value": str(credits.to_decimal(tally.rate * 100, 1)),
                "status": "Completed",
            },
        ],
    }
    return {
        "@context": list(OB_CONTEXT),
        "id": record.record_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer,
        "validFrom": _instant(tally.completed_at),
        "name": f"{offer.title} 结业",
        "credentialSubject": subject,
    }


def _achievement(record: LearningRecord, achievement_id: str, creator: dict[str, Any]) -> dict[str, Any]:
    offer, tally = record.offer, record.tally
    planned_hours = _hours_text(tally.planned_minutes)
    achievement = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": offer.title,
        "description": f"{offer.organisation_name}开设的课程“{offer.title}”，{offer.term_start}至{offer.term_end}，"
        f"共{tally.sessions_planned}次课、{planned_hours}学时。",
        "criteria": {"narrative": f"实到学时不少于课程学时的{offer.completion_percent}%。"},
        "humanCode": str(offer.id),
        "creditsAvailable": float(credits.credits(tally.planned_minutes, offer.scheme)),
        "creator": creator,
        "inLanguage": "zh-CN",
        "resultDescription": [
            {
                "id": f"{achievement_id}:attended-hours",
                "type": ["ResultDescription"],
                "name": "实到学时",
                "resultType": "ext:AttendedHours",
            },
            {
                "id": f"{achievement_id}:attendance-rate",
                "type": ["ResultDescription"],
                "name": "出勤率",
                "resultType": "Percent",
                "valueMin": "0",
                "valueMax": "100",
            },
        ],
    }
    if offer.category:
        achievement["fieldOfStudy"] = offer.category
    return achievement


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
