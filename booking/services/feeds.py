"""Calendar feeds: what each feed shows, read from the database into ``integrations.ical``'s plain
objects. Rendering itself is pure and lives there; HTTP caching lives in the API layer.

Feed families and what they show (bookings that are not pending, within a window):
- space / venue: confirmed bookings occupying it, as "<space>: <organisation>", and closures; a
  cancelled session simply disappears (EXDATE). Public, no personal data.
- organisation: the organisation's bookings by title; class and teacher: the class sessions.
  Cancelled sessions and bookings (cancelled in the last 30 days) are shown as cancelled.
- private: everything of the organisations a person organises, manages or teaches for, and the
  sessions of the classes they are enrolled in, behind an unguessable token that the person can
  revoke and re-issue.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import NotFound
from booking.models import (
    ApiToken,
    Application,
    ApplicationState,
    Booking,
    BookingState,
    ClassBooking,
    Closure,
    CommunityClass,
    Occurrence,
    Organisation,
    Role,
    RoleGrant,
    Space,
    SpaceTree,
    Teacher,
    TokenKind,
    User,
    Venue,
)
from booking.rules import recurrence
from integrations.ical import DayBlock, Event, Feed, Session, SessionState

MAX_EVENTS = 2000  # bookings per feed; the nearest ones are kept
CANCELLED_GRACE = timedelta(days=30)  # a cancelled booking stays visible as cancelled this long
SHOWN = {
    BookingState.confirmed.value: SessionState.confirmed,
    BookingState.completed.value: SessionState.confirmed,
    BookingState.cancelled.value: SessionState.cancelled,
    BookingState.released.value: SessionState.cancelled,
}
ENDED = (BookingState.cancelled.value, BookingState.released.value)
KINDS = ("spaces", "venues", "organisations", "classes", "teachers")
PRIVATE = "private"  # the family of a person's own feed, whose UIDs their mailed invitations share


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def around(cls, now: datetime, *, past_days: int, future_days: int) -> "Window":
        """Whole UTC days, so the window (and the feed) only moves once a day."""
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(today - timedelta(days=past_days), today + timedelta(days=future_days + 1))


@dataclass(frozen=True, slots=True)
class Scope:
    """Which bookings and closures one feed shows, as SQL conditions, and how it names them."""

    family: str
    name: str
    bookings: object  # a condition on Booking
    closures: object | None = None  # a condition on Closure, for place feeds
    people: bool = True  # show cancellations (people's feeds) or just free the time (place feeds)
    label_space: bool = False  # summary "<space>: <organisation>" instead of the booking's title


async def scope_of(session: AsyncSession, kind: str, item_id: int) -> Scope:
    """The feed of one space, venue, organisation, class or teacher; 404 if there is no such thing."""
    if kind == "spaces":
        space = await _named(session, Space, item_id, "space")
        parts = select(SpaceTree.descendant_id).where(SpaceTree.ancestor_id == item_id)
        wholes = select(SpaceTree.ancestor_id).where(SpaceTree.descendant_id == item_id)
        touching = exists().where(Occurrence.booking_id == Booking.id, Occurrence.space_id.in_(parts))
        closed = or_(Closure.venue_id == space.venue_id, Closure.space_id.in_(union(parts, wholes)))
        return Scope("space", space.name, touching, closed, people=False, label_space=True)
    if kind == "venues":
        venue = await _named(session, Venue, item_id, "venue")
        spaces = select(Space.id).where(Space.venue_id == item_id)
        closed = or_(Closure.venue_id == item_id, Closure.space_id.in_(spaces))
        return Scope("venue", venue.name, Booking.space_id.in_(spaces), closed, people=False, label_space=True)
    if kind == "organisations":
        organisation = await _named(session, Organisation, item_id, "organisation")
        return Scope("organisation", organisation.name, Booking.organisation_id == item_id)
    if kind == "classes":
        offer = await _named(session, CommunityClass, item_id, "class")
        of_class = select(ClassBooking.booking_id).where(ClassBooking.class_id == item_id)
        return Scope("class", offer.title, Booking.id.in_(of_class))
    if kind == "teachers":
        await _named(session, Teacher, item_id, "teacher")
        taught = select(ClassBooking.booking_id).where(ClassBooking.teacher_id == item_id)
        return Scope("teacher", f"teaching {item_id}", Booking.id.in_(taught))  # no name: public feed
    raise NotFound("feed", f"{kind}/{item_id}")


async def _named(session: AsyncSession, model, item_id: int, what: str):
    item = await session.get(model, item_id)
    if item is None:
        raise NotFound(what, item_id)
    return item


async def private_scope(session: AsyncSession, token: str) -> Scope:
    """The feed behind a private token: the bookings of every organisation its owner organises,
    manages or teaches for, and the sessions of the classes they are enrolled in as a resident.
    An unknown or revoked token is 404, like any wrong address."""
    user = await session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == digest(token),
            ApiToken.kind == TokenKind.feed,
            ApiToken.revoked_at.is_(None),
            User.is_active,
        )
    )
    if user is None:
        raise NotFound("feed", "private")
    theirs = select(RoleGrant.organisation_id).where(
        RoleGrant.user_id == user.id,
        RoleGrant.role.in_([Role.organiser, Role.venue_manager, Role.teacher]),
        RoleGrant.organisation_id.is_not(None),
    )
    learning = (
        select(ClassBooking.booking_id)
        .join(Application, Application.class_id == ClassBooking.class_id)
        .where(Application.resident_id == user.id, Application.state == ApplicationState.enrolled)
    )
    shown = or_(Booking.organisation_id.in_(theirs), Booking.id.in_(learning))
    return Scope(PRIVATE, user.display_name or user.username, shown)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _in_window(scope: Scope, window: Window, now: datetime):
    live = Booking.state.in_([BookingState.confirmed, BookingState.completed])
    shown = (
        or_(live, and_(Booking.state.in_(ENDED), Booking.updated_at > now - CANCELLED_GRACE)) if scope.people else live
    )
    overlapping = exists().where(
        Occurrence.booking_id == Booking.id, Occurrence.starts_at < window.end, Occurrence.ends_at > window.start
    )
    return and_(scope.bookings, shown, overlapping)


async def fingerprint(session: AsyncSession, scope: Scope, window: Window, now: datetime) -> str:
    """A cheap summary of everything the feed shows: equal fingerprints render equal feeds
    (every change to a booking bumps its version; closures are only added or deleted)."""
    booked = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Booking.version), 0), func.max(Booking.updated_at)).where(
                _in_window(scope, window, now)
            )
        )
    ).one()
    closed = (0, None, None)
    if scope.closures is not None:
        closed = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(Closure.id), 0), func.max(Closure.created_at)).where(
                    scope.closures, Closure.starts_at < window.end, Closure.ends_at > window.start
                )
            )
        ).one()
    return "|".join(map(str, (scope.family, scope.name, window.start.date(), *booked, *closed)))


async def build(session: AsyncSession, scope: Scope, window: Window, *, now: datetime, source_url: str) -> Feed:
    bookings = list(
        await session.scalars(
            select(Booking)
            .where(_in_window(scope, window, now))
            .order_by(Booking.starts_at, Booking.id)
            .limit(MAX_EVENTS)
        )
    )
    events = tuple((await events_of(session, bookings, scope)).values())
    days, timed = await _closures(session, scope, window)
    return Feed(
        name=scope.name,
        description=f"venueshare {scope.family} calendar: {scope.name}",
        source_url=source_url,
        window_start=window.start,
        window_end=window.end,
        events=events + timed,
        days=days,
        show_cancelled=scope.people,
    )


async def events_of(session: AsyncSession, bookings: list[Booking], scope: Scope) -> dict[int, Event]:
    """The feed's event of each booking that has sessions to show, by booking id, in order."""
    sessions = await _sessions(session, [b.id for b in bookings])
    places = await _places(session, {b.space_id for b in bookings})
    organisations = dict(
        (
            await session.execute(
                select(Organisation.id, Organisation.name).where(
                    Organisation.id.in_({b.organisation_id for b in bookings})
                )
            )
        ).all()
    )
    return {
        booking.id: _event(
            booking, sessions[booking.id], places[booking.space_id], organisations[booking.organisation_id], scope
        )
        for booking in bookings
        if sessions[booking.id]
    }


@dataclass(frozen=True, slots=True)
class _Place:
    space: str
    venue: str
    timezone: str


async def _places(session: AsyncSession, space_ids: set[int]) -> dict[int, _Place]:
    rows = await session.execute(
        select(Space.id, Space.name, Venue.name, Venue.timezone)
        .join(Venue, Venue.id == Space.venue_id)
        .where(Space.id.in_(space_ids))
    )
    return {space_id: _Place(space, venue, zone) for space_id, space, venue, zone in rows}


async def _sessions(session: AsyncSession, booking_ids: list[int]) -> dict[int, list[Session]]:
    """One session per date of each booking (a divisible space has a row per leaf: one is enough);
    rows superseded by a move are left out, the session lives on at its new time. A date cancelled
    and added again has both rows: the newest says how it stands."""
    found: dict[int, dict[datetime, Session]] = defaultdict(dict)
    rows = await session.execute(
        select(
            Occurrence.booking_id,
            Occurrence.original_starts_at,
            Occurrence.starts_at,
            Occurrence.ends_at,
            Occurrence.state,
        )
        .where(Occurrence.booking_id.in_(booking_ids), Occurrence.state.in_(list(SHOWN)))
        .order_by(Occurrence.booking_id, Occurrence.original_starts_at, Occurrence.id.desc())
    )
    for booking_id, original, start, end, state in rows:
        found[booking_id].setdefault(original, Session(original, start, end, SHOWN[state]))
    return defaultdict(list, {bid: sorted(by.values(), key=lambda s: s.original_start) for bid, by in found.items()})


def _event(booking: Booking, sessions: list[Session], place: _Place, organisation: str, scope: Scope) -> Event:
    summary = f"{place.space}: {organisation}" if scope.label_space else booking.title
    instances = ()
    if booking.rrule:  # the rule expanded as it was when booked (its horizon counted from then)
        rule = recurrence.parse(booking.rrule)
        zone = ZoneInfo(place.timezone)
        expanded = recurrence.expand(rule, booking.starts_at, booking.ends_at, zone, now=booking.created_at)
        instances = tuple(start for start, _ in expanded)
    return Event(
        uid=f"booking-{booking.id}@{scope.family}.venueshare",
        summary=summary,
        timezone=place.timezone,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        rrule=booking.rrule,
        sessions=tuple(sessions),
        sequence=booking.version,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        location=f"{place.venue} · {place.space}",
        description="" if scope.label_space else organisation,
        cancelled=booking.state in ENDED,
        instances=instances,
    )


async def _closures(session: AsyncSession, scope: Scope, window: Window) -> tuple[tuple, tuple]:
    """Closures of a place feed: whole local days as all-day blocks, instants as one-off events."""
    if scope.closures is None:
        return (), ()
    closures = list(
        await session.scalars(
            select(Closure)
            .where(scope.closures, Closure.starts_at < window.end, Closure.ends_at > window.start)
            .order_by(Closure.starts_at, Closure.id)
            .limit(MAX_EVENTS)
        )
    )
    venue_zones = dict(
        (
            await session.execute(
                select(Venue.id, Venue.timezone).where(Venue.id.in_({c.venue_id for c in closures if c.venue_id}))
            )
        ).all()
    )
    space_zones = dict(
        (
            await session.execute(
                select(Space.id, Venue.timezone)
                .join(Venue, Venue.id == Space.venue_id)
                .where(Space.id.in_({c.space_id for c in closures if c.space_id}))
            )
        ).all()
    )
    days, timed = [], []
    for closure in closures:
        uid = f"closure-{closure.id}@{scope.family}.venueshare"
        summary = f"closed: {closure.reason}" + (f" ({closure.note})" if closure.note else "")
        if closure.start_date is not None:
            days.append(DayBlock(uid, summary, closure.start_date, closure.end_date, closure.created_at))
            continue
        zone = venue_zones[closure.venue_id] if closure.venue_id is not None else space_zones[closure.space_id]
        only = Session(closure.starts_at, closure.starts_at, closure.ends_at, SessionState.confirmed)
        timed.append(
            Event(
                uid=uid,
                summary=summary,
                timezone=zone,
                starts_at=closure.starts_at,
                ends_at=closure.ends_at,
                rrule=None,
                sessions=(only,),
                sequence=0,
                created_at=closure.created_at,
                updated_at=closure.created_at,
            )
        )
    return tuple(days), tuple(timed)


def last_modified(feed: Feed) -> datetime:
    """The newest change of anything the feed shows (never "now"); an empty feed: its window's start."""
    changes = [event.updated_at for event in feed.events] + [day.updated_at for day in feed.days]
    return max(changes, default=feed.window_start)
