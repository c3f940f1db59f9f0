"""Participation statistics: one term of residents' learning, per region subtree and per venue.

Every count and sum is an aggregate query (the region subtrees as a recursive closure of the
regions table); Python only assembles the aggregate rows and expands opening hours, which the
booking rules already do in Python. The definitions are in ``booking/schemas/statistics.py``.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from booking.errors import NotFound
from booking.models import (
    SLOT_HOLDING_STATES,
    Application,
    ApplicationState,
    Attendance,
    AttendanceStatus,
    Booking,
    BookingState,
    ClassBooking,
    CommunityClass,
    EnrolmentPolicy,
    Occurrence,
    Region,
    RegionLevel,
    Resident,
    Space,
    Venue,
)
from booking.rules.availability import whole_days
from booking.rules.intervals import Interval, union
from booking.rules.permissions import Actor
from booking.schemas.statistics import ParticipationReport, RegionParticipation, VenueUsage
from booking.services.calendars import calendars, venue_infos
from booking.services.common import get_or_404
from booking.services.guards import require_admin_of
from booking.services.places import region_subtree

# A class booking that still stands makes the class offered; a session in these states took place
# once it has ended (released sessions were no-shows, moved ones live on in newer rows).
OFFERED = (BookingState.pending.value, BookingState.confirmed.value, BookingState.completed.value)
HELD = SLOT_HOLDING_STATES
ENROLLED = ApplicationState.enrolled.value
WITHDRAWN = ApplicationState.withdrawn.value
ADULT_AGE, SENIOR_AGE = 18, 60
LEVEL_ORDER = {RegionLevel.district.value: 0, RegionLevel.town.value: 1, RegionLevel.community.value: 2}


class seconds_between(FunctionElement):
    """Whole seconds from the first instant to the second, on either database (named like the SQL
    function it stands for)."""

    type = Integer()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS INTEGER)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    # Instants are stored as naive UTC text on SQLite (see booking.models.base.UTCDateTime).
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"


async def participation(
    session: AsyncSession, actor: Actor, *, region_id: int | None, term_start: date, now: datetime
) -> ParticipationReport:
    """The figures of a term for the district administrators of the region (None: the whole district).

    A term is named by its first day and ends with the last of its classes, so every region and
    venue is measured over the same days; a day no class's term starts on names no term (404).
    """
    require_admin_of(actor, region_id, "see participation statistics of this region")
    if region_id is not None:
        await get_or_404(session, Region, region_id)
    term_end = await session.scalar(
        select(func.max(CommunityClass.term_end)).where(CommunityClass.term_start == term_start)
    )
    if term_end is None:
        raise NotFound("term", term_start.isoformat())
    term = _Term(term_start, term_end)
    return ParticipationReport(
        region_id=region_id,
        term_start=term_start,
        term_end=term_end,
        as_of=now.astimezone(UTC),
        regions=await _region_figures(session, _scope(region_id), term, now),
        venues=await _venue_figures(session, _scope(region_id), term),
    )


@dataclass(frozen=True, slots=True)
class _Term:
    """The term's classes and its local days, as the queries need them."""

    start: date
    end: date

    @property
    def classes(self):
        """The ids of the term's classes, as a subquery."""
        return select(CommunityClass.id).where(CommunityClass.term_start == self.start)

    def span(self, zone: str) -> Interval:
        """The term's local days in a venue's time zone, as instants."""
        return whole_days(self.start, self.end, ZoneInfo(zone))


def _scope(region_id: int | None):
    """The ids of the regions reported on: the region's subtree, or every region."""
    return select(region_subtree(region_id)) if region_id is not None else select(Region.id)


# ---- regions ----------------------------------------------------------------------------------


def _region_pairs(scope):
    """(ancestor_id, region_id): each region reported on, with itself and every region beneath it."""
    anchor = select(Region.id.label("ancestor_id"), Region.id.label("region_id")).where(Region.id.in_(scope))
    pairs = anchor.cte("region_pairs", recursive=True)
    return pairs.union_all(select(pairs.c.ancestor_id, Region.id).where(Region.parent_id == pairs.c.region_id))


def _classes_by_region(scope, term: _Term):
    """(ancestor_id, class_id): the term's offered classes under each region reported on, each once."""
    places = (
        select(ClassBooking.class_id, Venue.region_id)
        .join(Booking, Booking.id == ClassBooking.booking_id)
        .join(Space, Space.id == Booking.space_id)
        .join(Venue, Venue.id == Space.venue_id)
        .where(ClassBooking.class_id.in_(term.classes), Booking.state.in_(OFFERED))
        .distinct()
        .subquery("class_places")
    )
    pairs = _region_pairs(scope)
    return (
        select(pairs.c.ancestor_id, places.c.class_id)
        .join(places, places.c.region_id == pairs.c.region_id)
        .distinct()
        .subquery("classes_by_region")
    )


def _held_seconds_by_class(term: _Term, now: datetime):
    """(class_id, held_seconds): each held session once, however many parts of a space it took."""
    sessions = (
        select(
            ClassBooking.class_id,
            func.max(seconds_between(Occurrence.starts_at, Occurrence.ends_at)).label("seconds"),
        )
        .join(ClassBooking, ClassBooking.booking_id == Occurrence.booking_id)
        .where(ClassBooking.class_id.in_(term.classes), Occurrence.state.in_(HELD), Occurrence.ends_at <= now)
        .group_by(ClassBooking.class_id, Occurrence.booking_id, Occurrence.original_starts_at)
        .subquery("held_sessions")
    )
    return (
        select(sessions.c.class_id, func.sum(sessions.c.seconds).label("held_seconds"))
        .group_by(sessions.c.class_id)
        .subquery("held_by_class")
    )


def _enrolled_by_class(term: _Term):
    return (
        select(Application.class_id, func.count().label("enrolled"))
        .where(Application.class_id.in_(term.classes), Application.state == ENROLLED)
        .group_by(Application.class_id)
        .subquery("enrolled_by_class")
    )


def _attended_by_class(term: _Term, now: datetime):
    """(class_id, attended_minutes): minutes of enrolled residents in held sessions."""
    return (
        select(Attendance.class_id, func.sum(Attendance.minutes).label("attended_minutes"))
        .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
        .join(
            Application,
            and_(
                Application.class_id == Attendance.class_id,
                Application.resident_id == Attendance.resident_id,
                Application.state == ENROLLED,
            ),
        )
        .where(Attendance.class_id.in_(term.classes), Occurrence.state.in_(HELD), Occurrence.ends_at <= now)
        .group_by(Attendance.class_id)
        .subquery("attended_by_class")
    )


def _class_figures(term: _Term, now: datetime):
    """One row per class of the term: seats, enrolled, held seconds, attended minutes."""
    enrolled, held, attended = (
        _enrolled_by_class(term),
        _held_seconds_by_class(term, now),
        _attended_by_class(term, now),
    )
    return (
        select(
            CommunityClass.id.label("class_id"),
            func.coalesce(EnrolmentPolicy.seats, 0).label("seats"),
            func.coalesce(enrolled.c.enrolled, 0).label("enrolled"),
            func.coalesce(held.c.held_seconds, 0).label("held_seconds"),
            func.coalesce(attended.c.attended_minutes, 0).label("attended_minutes"),
        )
        .outerjoin(EnrolmentPolicy, EnrolmentPolicy.class_id == CommunityClass.id)
        .outerjoin(enrolled, enrolled.c.class_id == CommunityClass.id)
        .outerjoin(held, held.c.class_id == CommunityClass.id)
        .outerjoin(attended, attended.c.class_id == CommunityClass.id)
        .where(CommunityClass.term_start == term.start)
        .subquery("class_figures")
    )


def _class_totals(by_region, term: _Term, now: datetime):
    """Per region: the sums over its classes."""
    figures = _class_figures(term, now)
    return (
        select(
            by_region.c.ancestor_id,
            func.count().label("classes_offered"),
            func.sum(figures.c.seats).label("seats"),
            func.sum(figures.c.enrolled).label("enrolled"),
            func.sum(figures.c.held_seconds).label("held_seconds"),
            func.sum(figures.c.attended_minutes).label("attended_minutes"),
            func.sum(figures.c.enrolled * figures.c.held_seconds).label("planned_seat_seconds"),
        )
        .join(figures, figures.c.class_id == by_region.c.class_id)
        .group_by(by_region.c.ancestor_id)
        .subquery("class_totals")
    )


def _learner_totals(by_region, term: _Term):
    """Per region: distinct applicants, and distinct enrolled residents by age band and by history."""
    earlier = aliased(Application)
    enrolled = Application.state == ENROLLED
    age = term.start.year - Resident.birth_year
    enrolled_before = exists().where(
        earlier.resident_id == Application.resident_id, earlier.state == ENROLLED, earlier.term_start < term.start
    )

    def residents_where(condition):
        return func.count(distinct(case((and_(enrolled, condition), Application.resident_id))))

    return (
        select(
            by_region.c.ancestor_id,
            func.count(distinct(Application.resident_id)).label("applicants"),
            residents_where(age < ADULT_AGE).label("learners_under_18"),
            residents_where(and_(age >= ADULT_AGE, age < SENIOR_AGE)).label("learners_18_to_59"),
            residents_where(age >= SENIOR_AGE).label("learners_60_plus"),
            residents_where(~enrolled_before).label("first_time_learners"),
        )
        .join(Application, Application.class_id == by_region.c.class_id)
        .join(Resident, Resident.user_id == Application.resident_id)
        .where(Application.state != WITHDRAWN)
        .group_by(by_region.c.ancestor_id)
        .subquery("learner_totals")
    )


async def _region_figures(session: AsyncSession, scope, term: _Term, now: datetime) -> list[RegionParticipation]:
    by_region = _classes_by_region(scope, term)
    classes, learners = _class_totals(by_region, term, now), _learner_totals(by_region, term)
    level_order = case(LEVEL_ORDER, value=Region.level, else_=len(LEVEL_ORDER))
    rows = await session.execute(
        select(
            Region.id,
            Region.name,
            Region.level,
            Region.parent_id,
            *(column for column in classes.c if column.name != "ancestor_id"),
            *(column for column in learners.c if column.name != "ancestor_id"),
        )
        .outerjoin(classes, classes.c.ancestor_id == Region.id)
        .outerjoin(learners, learners.c.ancestor_id == Region.id)
        .where(Region.id.in_(scope))
        .order_by(level_order, Region.id)
    )
    return [_region_row(row._mapping) for row in rows]


def _region_row(row) -> RegionParticipation:
    planned_minutes = int(row["planned_seat_seconds"] or 0) / 60
    attended = int(row["attended_minutes"] or 0)
    return RegionParticipation(
        region_id=row["id"],
        name=row["name"],
        level=row["level"],
        parent_id=row["parent_id"],
        classes_offered=int(row["classes_offered"] or 0),
        seats=int(row["seats"] or 0),
        applicants=int(row["applicants"] or 0),
        enrolled=int(row["enrolled"] or 0),
        attendance_rate=round(attended / planned_minutes, 4) if planned_minutes else None,
        hours_delivered=_hours(row["held_seconds"]),
        learners_under_18=int(row["learners_under_18"] or 0),
        learners_18_to_59=int(row["learners_18_to_59"] or 0),
        learners_60_plus=int(row["learners_60_plus"] or 0),
        first_time_learners=int(row["first_time_learners"] or 0),
    )


def _hours(seconds) -> float:
    return round(int(seconds or 0) / 3600, 2)


# ---- venues -----------------------------------------------------------------------------------


async def _venue_figures(session: AsyncSession, scope, term: _Term) -> list[VenueUsage]:
    venues = (
        await session.execute(
            select(Venue.id, Venue.name, Venue.region_id, Venue.timezone)
            .where(Venue.region_id.in_(scope))
            .order_by(Venue.region_id, Venue.id)
        )
    ).all()
    if not venues:
        return []
    spans = {zone: term.span(zone) for *_, zone in venues}
    opened = await _open_seconds(session, scope, term)
    booked = await _booked_seconds(session, scope, spans)

    def usage(venue_id: int, name: str, region_id: int) -> VenueUsage:
        booked_seconds, used_seconds = booked.get(venue_id, (0, 0))
        return VenueUsage(
            venue_id=venue_id,
            name=name,
            region_id=region_id,
            open_hours=_hours(opened.get(venue_id)),
            booked_hours=_hours(booked_seconds),
            used_hours=_hours(used_seconds),
        )

    return [usage(venue_id, name, region_id) for venue_id, name, region_id, _ in venues]


async def _booked_seconds(session: AsyncSession, scope, spans: dict[str, Interval]) -> dict[int, tuple[int, int]]:
    """Per venue: (booked, used) seconds of the sessions starting in the term, each session once."""
    in_term = or_(
        *(
            and_(Venue.timezone == zone, Occurrence.starts_at >= start, Occurrence.starts_at < end)
            for zone, (start, end) in spans.items()
        )
    )
    attended = exists().where(
        Attendance.occurrence_id == Occurrence.id, Attendance.status != AttendanceStatus.absent.value
    )
    used_row = or_(Occurrence.checked_in_at.is_not(None), attended)
    sessions = (
        select(
            Venue.id.label("venue_id"),
            func.max(seconds_between(Occurrence.starts_at, Occurrence.ends_at)).label("seconds"),
            func.max(case((used_row, 1), else_=0)).label("used"),
        )
        .join(Space, Space.id == Occurrence.space_id)
        .join(Venue, Venue.id == Space.venue_id)
        .where(Venue.region_id.in_(scope), Occurrence.state.in_(HELD), in_term)
        .group_by(Venue.id, Occurrence.booking_id, Occurrence.original_starts_at)
        .subquery("venue_sessions")
    )
    rows = await session.execute(
        select(
            sessions.c.venue_id,
            func.sum(sessions.c.seconds),
            func.sum(case((sessions.c.used == 1, sessions.c.seconds), else_=0)),
        ).group_by(sessions.c.venue_id)
    )
    return {venue_id: (int(booked or 0), int(used or 0)) for venue_id, booked, used in rows}


async def _open_seconds(session: AsyncSession, scope, term: _Term) -> dict[int, int]:
    """Per venue: seconds in the term when at least one of its spaces is open, by the booking rules'
    own calendars (hours, closures, holidays). Spaces of a venue with the same calendar count once."""
    space_ids = list(
        await session.scalars(
            select(Space.id).join(Venue, Venue.id == Space.venue_id).where(Venue.region_id.in_(scope))
        )
    )
    if not space_ids:
        return {}
    venues = await venue_infos(session, space_ids)
    # Wide enough for every time zone; each venue's own local days are cut out below.
    start = datetime.combine(term.start - timedelta(days=1), time(), UTC)
    end = datetime.combine(term.end + timedelta(days=2), time(), UTC)
    found = await calendars(session, venues, start, end)
    distinct_calendars: dict[int, list] = {}
    for space_id, venue in venues.items():
        kept = distinct_calendars.setdefault(venue.id, [])
        if found[space_id] not in kept:
            kept.append(found[space_id])
    seconds = {}
    for venue_id, kept in distinct_calendars.items():
        span = term.span(kept[0].zone.key)
        opened = union(interval for calendar in kept for interval in calendar.open_intervals(*span))
        seconds[venue_id] = int(sum((e - s).total_seconds() for s, e in opened))
    return seconds
