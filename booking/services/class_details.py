"""A class as its page shows it: the catalogue's facts, every session of the term with the dates
the weekly pattern skips, the spaces it meets in, and how seats are given out. No person's name
but the teacher's display name."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import DEFAULT_TIMEZONE, ClassBooking, EnrolmentMode, EnrolmentPolicy, Occurrence, Space, Venue
from booking.models.bookings import BookingState
from booking.schemas.catalogue import CatalogueItem, FeedAddresses
from booking.schemas.common import local
from booking.schemas.enrolment import DrawPublic
from booking.schemas.enrolment import PolicyPublic as EnrolmentPolicyPublic
from booking.services import catalogue, draws
from booking.services.enrolment_policies import describe


@dataclass(frozen=True, slots=True)
class SessionDate:
    starts_at: datetime  # local to the venue
    ends_at: datetime
    venue_id: int
    moved: bool


@dataclass(frozen=True, slots=True)
class SpaceFacts:
    venue_id: int
    name: str
    capacity: int
    features: list[str]


@dataclass(frozen=True, slots=True)
class ClassDetails:
    item: CatalogueItem
    timezone: str  # of the class's (first) venue
    sessions: list[SessionDate]
    skipped: list[date]  # dates of the weekly pattern within the term with no session
    spaces: list[SpaceFacts]
    policy: EnrolmentPolicyPublic | None
    draw: DrawPublic | None  # a lottery's published draw (commitment only until drawn)


async def details(session: AsyncSession, class_id: int, feed: FeedAddresses, *, now: datetime) -> ClassDetails:
    item = await catalogue.offering(session, class_id, feed)
    rows = (
        await session.execute(
            select(
                Occurrence.booking_id,
                Occurrence.starts_at,
                Occurrence.ends_at,
                Occurrence.original_starts_at,
                Occurrence.state,
                Space.venue_id,
                Space.name,
                Space.capacity,
                Space.features,
                Venue.timezone,
            )
            .join(ClassBooking, ClassBooking.booking_id == Occurrence.booking_id)
            .join(Space, Space.id == Occurrence.space_id)
            .join(Venue, Venue.id == Space.venue_id)
            .where(ClassBooking.class_id == class_id)
            .order_by(Occurrence.starts_at)
        )
    ).all()
    live = [row for row in rows if row.state not in (BookingState.cancelled, BookingState.rejected)]
    sessions = _sessions(live)
    held = {local(row.original_starts_at, row.timezone).date() for row in live}
    spaces = {(row.venue_id, row.name): SpaceFacts(row.venue_id, row.name, row.capacity, row.features) for row in live}
    policy_row = await session.get(EnrolmentPolicy, class_id)
    policy = describe(policy_row, now) if policy_row is not None else None
    draw = None
    if policy_row is not None and policy_row.mode == EnrolmentMode.lottery:
        draw = await draws.published_draw(session, class_id)
    return ClassDetails(
        item=item,
        timezone=rows[0].timezone if rows else DEFAULT_TIMEZONE,
        sessions=sessions,
        skipped=sorted(pattern_dates(item, min(held)) - held) if held else [],
        spaces=sorted(spaces.values(), key=lambda s: (s.venue_id, s.name)),
        policy=policy,
        draw=draw,
    )


def _sessions(rows) -> list[SessionDate]:
    """One session per series date (a divisible hall books several leaves at once)."""
    seen: dict[tuple[int, datetime], SessionDate] = {}
    for row in rows:
        key = (row.booking_id, row.original_starts_at)
        if key not in seen:
            seen[key] = SessionDate(
                starts_at=local(row.starts_at, row.timezone),
                ends_at=local(row.ends_at, row.timezone),
                venue_id=row.venue_id,
                moved=row.starts_at != row.original_starts_at,
            )
    return sorted(seen.values(), key=lambda s: s.starts_at)


def pattern_dates(item: CatalogueItem, first: date) -> set[date]:
    """Every date from the first session to the term's end on one of the class's weekdays."""
    weekdays = {weekly.weekday for weekly in item.weekly_times}
    days, day = set(), max(first, item.term_start)
    while day <= item.term_end:
        if day.weekday() in weekdays:
            days.add(day)
        day += timedelta(days=1)
    return days
