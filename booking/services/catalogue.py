"""The public class catalogue ("learning supermarket"): the classes of committed terms, with where,
when and how to join them.

A class is listed while at least one of its class bookings holds a series that is neither
cancelled nor rejected; only those series give its venues, weekly times and teachers. Every
filter is applied in SQL and the page is cut there, so a request costs the same few queries
whatever the size of the catalogue:

* weekday and time of day are local to each venue's zone, which SQLite cannot apply; but a
  catalogue's series start at few distinct instants, so one query fetches the distinct (zone,
  first start) pairs, they are judged here, and the fitting ones are handed back to SQL;
* ``near`` ranks by great-circle distance: one query fetches the venues' positions, the
  distances are worked out here and handed back as one JSON parameter, and the classes of the
  nearest venues are ranked first (see ``_page_by_distance``);
* one query picks the page and counts the matches, one more reads what the page's items show.

Building and keying statements of this size costs several times more than running them, so
each is built once (per combination of filters and per dialect) with its values bound at
execution.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache

from sqlalchemy import JSON, Float, Integer, Row, Select, bindparam, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from booking.errors import NotFound
from booking.models import (
    HOLDING,
    Application,
    Booking,
    BookingState,
    ClassBooking,
    CommunityClass,
    EnrolmentPolicy,
    Organisation,
    Region,
    RegionLevel,
    Space,
    Teacher,
    Venue,
)
from booking.schemas.catalogue import (
    CatalogueItem,
    CatalogueRegion,
    CatalogueVenue,
    EnrolmentWindow,
    FeedAddresses,
    Named,
    TimeOfDay,
    WeeklyTime,
)
from booking.schemas.common import local
from booking.services.availability import venue_distance_m as distance_m
from booking.services.common import PageRequest
from booking.services.places import region_subtree

NOT_COMMITTED = (BookingState.cancelled.value, BookingState.rejected.value)
NOON, EVENING = time(12), time(18)
LIKE_ESCAPE = "/"
NEAREST_VENUES_FIRST = 32  # venues whose classes a page by distance ranks first; four times as many next

FeedLinksOf = Callable[[int], FeedAddresses]
Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CatalogueFilter:
    """What a resident narrows the catalogue by; ``has_seats`` keeps only classes with a policy
    and a seat left (a class without a policy has no seats to give yet)."""

    region_id: int | None = None
    category: str | None = None
    target_group: str | None = None
    weekday: int | None = None
    time_of_day: TimeOfDay | None = None
    q: str | None = None
    near: Point | None = None
    has_seats: bool = False

    @property
    def by_schedule(self) -> bool:
        return self.weekday is not None or self.time_of_day is not None

    @property
    def keyword(self) -> str | None:
        return (self.q or "").strip() or None


def band_of(start: time) -> TimeOfDay:
    if start < NOON:
        return TimeOfDay.morning
    return TimeOfDay.afternoon if start < EVENING else TimeOfDay.evening


def fits_schedule(where: CatalogueFilter, local_start: datetime) -> bool:
    """Whether one weekly session is on the wanted weekday and in the wanted band (both, if both
    are asked: "Monday evenings" means one session that is both)."""
    if where.weekday is not None and local_start.weekday() != where.weekday:
        return False
    return where.time_of_day is None or band_of(local_start.time()) == where.time_of_day


def distance_km(near: Point | None, venue) -> float | None:
    """Great-circle distance to a row with ``latitude`` and ``longitude``; None without both."""
    metres = distance_m(near, venue)
    return None if metres is None else round(metres / 1000, 3)


def padded(values: list) -> list:
    """The list lengthened to a power of two by repeating its last value, for an expanding IN:
    each length is a statement of its own that PostgreSQL prepares and plans again, and a few
    lengths are better than one per request. Repeats change nothing in an IN list."""
    size = 1 << max(len(values) - 1, 0).bit_length()
    return values + values[-1:] * (size - len(values))


def like_pattern(keyword: str) -> str:
    """The keyword with LIKE's wildcards taken literally."""
    return keyword.replace(LIKE_ESCAPE, 2 * LIKE_ESCAPE).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


# ---- the statements -------------------------------------------------------------------------------


def _written_in(name: str, values: tuple[str, ...]):
    """Constants written into the SQL rather than bound: for a prepared statement PostgreSQL
    switches to a generic plan, which guesses that ``state NOT IN ($1, $2)`` keeps one row and
    nests loops accordingly (ten times slower here)."""
    return bindparam(name, list(values), expanding=True, literal_execute=True)


def _committed_series() -> Select:
    """Class bookings holding a committed series."""
    return (
        select(ClassBooking.class_id)
        .join(Booking, Booking.id == ClassBooking.booking_id)
        .where(Booking.state.not_in(_written_in("not_committed", NOT_COMMITTED)))
    )


def _held_in_venues(*, in_region: bool = False) -> Select:
    """Committed series joined to the venue each is held in (with ``in_region``: a venue in the
    subtree of the bound ``region_id``). Only filters about venues pay for the two joins."""
    series = _committed_series().join(Space, Space.id == Booking.space_id).join(Venue, Venue.id == Space.venue_id)
    if in_region:
        series = series.where(Venue.region_id.in_(select(region_subtree(bindparam("region_id")))))
    return series


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which filters a request uses: one statement per shape."""

    postgresql: bool
    region: bool
    category: bool
    target_group: bool
    keyword: bool
    has_seats: bool
    schedule: bool
    near: bool

    @classmethod
    def of(cls, where: CatalogueFilter, dialect: str) -> "_Shape":
        return cls(
            postgresql=dialect == "postgresql",
            region=where.region_id is not None,
            category=bool(where.category),
            target_group=bool(where.target_group),
            keyword=where.keyword is not None,
            has_seats=where.has_seats,
            schedule=where.by_schedule,
            near=where.near is not None,
        )


def _mentions():
    """The bound ``keyword`` pattern in the class's title, category or target group, its
    organisation's name or the name of a venue it is held in (case-insensitive for Latin letters)."""
    pattern = bindparam("keyword")
    organisations = select(Organisation.id).where(Organisation.name.icontains(pattern, escape=LIKE_ESCAPE))
    named = select(Venue.id).where(Venue.name.icontains(pattern, escape=LIKE_ESCAPE))
    venues = _committed_series().join(Space, Space.id == Booking.space_id).where(Space.venue_id.in_(named))
    return (
        CommunityClass.title.icontains(pattern, escape=LIKE_ESCAPE)
        | CommunityClass.category.icontains(pattern, escape=LIKE_ESCAPE)
        | CommunityClass.target_group.icontains(pattern, escape=LIKE_ESCAPE)
        | CommunityClass.organisation_id.in_(organisations)
        | CommunityClass.id.in_(venues)
    )


def _qualifying_series(shape: _Shape) -> Select:
    """The committed series that list a class under the filters: with a region, held in it; with
    a weekday or time of day, starting at one of the bound ``fitting`` (zone, first start) pairs."""
    if not (shape.region or shape.schedule):
        return _committed_series()
    series = _held_in_venues(in_region=shape.region)
    if shape.schedule:
        series = series.where(tuple_(Venue.timezone, Booking.starts_at).in_(bindparam("fitting", expanding=True)))
    return series


def _class_conditions(shape: _Shape) -> list:
    conditions = []
    if shape.category:
        conditions.append(CommunityClass.category == bindparam("category"))
    if shape.target_group:
        conditions.append(CommunityClass.target_group == bindparam("target_group"))
    if shape.keyword:
        conditions.append(_mentions())
    if shape.has_seats:
        with_seats = select(EnrolmentPolicy.class_id).where(EnrolmentPolicy.seats > EnrolmentPolicy.enrolled)
        conditions.append(CommunityClass.id.in_(with_seats))
    return conditions


@lru_cache(maxsize=256)
def _matching(shape: _Shape) -> Select:
    """Listed classes passing the filters, as (id, title)."""
    listed = CommunityClass.id.in_(_qualifying_series(shape))
    return select(CommunityClass.id, CommunityClass.title).where(listed, *_class_conditions(shape))


def _nearest_first(shape: _Shape, *, everywhere: bool) -> tuple[Select, object]:
    """The matching classes grouped over their committed series, and the metres to each one's
    nearest venue, from the bound ``distances`` (a JSON object of metres by venue id). One pass:
    the join to the series also tells which classes are listed. With ``everywhere``, classes
    held only at venues not in ``distances`` are kept too (their metres are null)."""
    each = func.json_each_text if shape.postgresql else func.json_each
    pairs = each(bindparam("distances", type_=JSON)).table_valued("key", "value")
    distances = select(
        cast(pairs.c.key, Integer).label("venue_id"), cast(pairs.c.value, Float).label("metres")
    ).subquery("venue_distances")
    stmt = (
        select(CommunityClass.id, CommunityClass.title)
        .join(ClassBooking, ClassBooking.class_id == CommunityClass.id)
        .join(Booking, Booking.id == ClassBooking.booking_id)
        .join(Space, Space.id == Booking.space_id)
        .join(distances, distances.c.venue_id == Space.venue_id, isouter=everywhere)
        .where(Booking.state.not_in(_written_in("not_committed", NOT_COMMITTED)), *_class_conditions(shape))
        .group_by(CommunityClass.id, CommunityClass.title)
    )
    if shape.region or shape.schedule:
        stmt = stmt.where(CommunityClass.id.in_(_qualifying_series(shape)))
    return stmt, func.min(distances.c.metres)


@lru_cache(maxsize=512)
def _page_statement(shape: _Shape, nearest_only: bool = False) -> Select:
    """One page of the matching classes with their count: nearest first with ``near``, then by
    title in code-point order on both databases (PostgreSQL would use its locale's collation)
    and id. With ``nearest_only``, only classes held at the venues in ``distances``."""
    title = CommunityClass.title.collate("C") if shape.postgresql else CommunityClass.title
    order = [title, CommunityClass.id]
    if shape.near:
        stmt, metres = _nearest_first(shape, everywhere=not nearest_only)
        order.insert(0, metres.asc().nulls_last())
    else:
        stmt = _matching(shape)
    return (
        stmt.add_columns(func.count().over().label("total"))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


@lru_cache(maxsize=256)
def _counting(shape: _Shape) -> Select:
    return select(func.count()).select_from(_matching(shape).subquery())


@lru_cache(maxsize=2)
def _first_starts(in_region: bool) -> Select:
    return _held_in_venues(in_region=in_region).with_only_columns(Venue.timezone, Booking.starts_at).distinct()


# Every venue with a position, used or not: a plain scan, cheaper than finding the ones in use.
VENUE_POSITIONS = select(Venue.id, Venue.latitude, Venue.longitude).where(
    Venue.latitude.is_not(None), Venue.longitude.is_not(None)
)


# ---- choosing the page ----------------------------------------------------------------------------


async def _fitting_starts(session: AsyncSession, where: CatalogueFilter) -> list[tuple[str, datetime]]:
    """The (zone, first start) pairs of committed series whose local start fits the schedule filters."""
    values = {"region_id": where.region_id} if where.region_id is not None else {}
    starts = await session.execute(_first_starts(where.region_id is not None), values)
    return [(zone, starts_at) for zone, starts_at in starts if fits_schedule(where, local(starts_at, zone))]


async def _venue_distances(session: AsyncSession, near: Point) -> dict[int, float]:
    return {venue.id: distance_m(near, venue) for venue in await session.execute(VENUE_POSITIONS)}


def _bound(where: CatalogueFilter, page: PageRequest) -> dict[str, object]:
    values: dict[str, object] = {"limit": page.limit, "offset": page.offset}
    if where.region_id is not None:
        values["region_id"] = where.region_id
    if where.category:
        values["category"] = where.category
    if where.target_group:
        values["target_group"] = where.target_group
    if where.keyword is not None:
        values["keyword"] = like_pattern(where.keyword)
    return values


async def _page(
    session: AsyncSession, shape: _Shape, values: dict[str, object], page: PageRequest
) -> tuple[list[int], int]:
    rows = (await session.execute(_page_statement(shape), values)).all()
    if rows:
        return [row.id for row in rows], rows[0].total
    if page.offset == 0:
        return [], 0
    return [], await session.scalar(_counting(shape), values)  # asked beyond the last page


async def _page_by_distance(
    session: AsyncSession, shape: _Shape, values: dict[str, object], near: Point, page: PageRequest
) -> tuple[list[int], int]:
    """Ranking every class by its nearest venue takes a pass over every series, but a page only
    needs the classes nearest to the point. So the classes held at the nearest venues are ranked
    first (at more venues when too few of them match): each is ranked exactly, its nearest venue
    being among those, and every class not held there is farther away. The total is a count."""
    distances = await _venue_distances(session, near)
    by_distance = sorted(distances.values())
    wanted = page.offset + page.limit
    reach = NEAREST_VENUES_FIRST
    while reach < len(by_distance):
        boundary = by_distance[reach - 1]
        nearest = {venue: metres for venue, metres in distances.items() if metres <= boundary}
        tried = {**values, "distances": nearest, "limit": wanted, "offset": 0}
        ranked = (await session.execute(_page_statement(shape, nearest_only=True), tried)).all()
        if len(ranked) >= wanted:
            return [row.id for row in ranked[page.offset :]], await session.scalar(_counting(shape), values)
        reach *= 4
    return await _page(session, shape, {**values, "distances": distances}, page)


async def _page_of_classes(session: AsyncSession, where: CatalogueFilter, page: PageRequest) -> tuple[list[int], int]:
    """The ids of one page of the matching classes, in order, and how many match in all."""
    shape = _Shape.of(where, session.bind.dialect.name)
    values = _bound(where, page)
    if shape.schedule:
        fitting = await _fitting_starts(session, where)
        if not fitting:
            return [], 0
        values["fitting"] = padded(fitting)
    if where.near is not None:
        return await _page_by_distance(session, shape, values, where.near, page)
    return await _page(session, shape, values, page)


# ---- building the items ---------------------------------------------------------------------------

_APPLICANTS = (
    select(func.count())
    .where(Application.class_id == CommunityClass.id, Application.state.in_(_written_in("holding", HOLDING)))
    .correlate(CommunityClass)
    .scalar_subquery()
)
_region, _parent = aliased(Region), aliased(Region)
# One row per committed series of the page's classes: the class with its organisation, policy and
# applicants (repeated on each of its series: one round trip instead of two), the series' venue,
# the venue's region and that region's parent, and the teacher's display name (never the name).
PAGE_ROWS = (
    _held_in_venues()
    .add_columns(
        CommunityClass.title,
        CommunityClass.category,
        CommunityClass.target_group,
        CommunityClass.term_start,
        CommunityClass.term_end,
        Organisation.id.label("organisation_id"),
        Organisation.name.label("organisation_name"),
        EnrolmentPolicy.class_id.label("policy_of"),
        EnrolmentPolicy.seats,
        EnrolmentPolicy.enrolled,
        EnrolmentPolicy.opens_at,
        EnrolmentPolicy.closes_at,
        EnrolmentPolicy.mode,
        _APPLICANTS.label("applicants"),
        Booking.starts_at,
        Booking.ends_at,
        Venue.id.label("venue_id"),
        Venue.name.label("venue_name"),
        Venue.address,
        Venue.latitude,
        Venue.longitude,
        Venue.timezone,
        _region.id.label("region_id"),
        _region.name.label("region_name"),
        _region.level.label("region_level"),
        _parent.id.label("parent_id"),
        _parent.name.label("parent_name"),
        _parent.level.label("parent_level"),
        Teacher.display_name,
    )
    .join(CommunityClass, CommunityClass.id == ClassBooking.class_id)
    .join(Organisation, Organisation.id == CommunityClass.organisation_id)
    .outerjoin(EnrolmentPolicy, EnrolmentPolicy.class_id == CommunityClass.id)
    .join(_region, _region.id == Venue.region_id)
    .outerjoin(_parent, _parent.id == _region.parent_id)
    .join(Teacher, Teacher.id == ClassBooking.teacher_id)
    .where(ClassBooking.class_id.in_(bindparam("ids", expanding=True)))
)


async def _series_by_class(session: AsyncSession, ids: list[int]) -> dict[int, list[Row]]:
    by_class: dict[int, list[Row]] = {}
    for row in await session.execute(PAGE_ROWS, {"ids": padded(ids)}):
        by_class.setdefault(row.class_id, []).append(row)
    return by_class


Weekly = tuple[int, str, str, int]  # weekday, local start, local end, venue id: sorts as residents read


def _weekly(row: Row) -> Weekly:
    """The series' first session (its DTSTART, which a moved or skipped date leaves as it is) in
    the venue's local time: a weekly series repeats that weekday and those hours."""
    start, end = local(row.starts_at, row.timezone), local(row.ends_at, row.timezone)
    return start.weekday(), _clock(start), _clock(end), row.venue_id


def _clock(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"  # strftime would take three times as long


def _venue(row: Row, near: Point | None) -> CatalogueVenue:
    return CatalogueVenue(
        id=row.venue_id,
        name=row.venue_name,
        address=row.address,
        region_id=row.region_id,
        region_name=row.region_name,
        latitude=row.latitude,
        longitude=row.longitude,
        distance_km=distance_km(near, row),
    )


def _community_and_town(row: Row) -> CatalogueRegion:
    """A venue is usually in a community whose parent is a town; one placed in a town directly
    has no community, and one placed in a district neither."""
    own, up = Named(id=row.region_id, name=row.region_name), None
    if row.parent_id is not None:
        up = Named(id=row.parent_id, name=row.parent_name)
    if row.region_level == RegionLevel.community:
        return CatalogueRegion(community=own, town=up if row.parent_level == RegionLevel.town else None)
    return CatalogueRegion(community=None, town=own if row.region_level == RegionLevel.town else None)


@dataclass(slots=True)
class _Where:
    """A class's venues, weekly times and teachers gathered from its series."""

    venues: dict[int, CatalogueVenue] = field(default_factory=dict)
    regions: dict[int, CatalogueRegion] = field(default_factory=dict)
    times: set[Weekly] = field(default_factory=set)
    teachers: set[tuple[Weekly, str]] = field(default_factory=set)

    @classmethod
    def of(cls, series: list[Row], near: Point | None) -> "_Where":
        where = cls()
        for row in series:
            if row.venue_id not in where.venues:
                where.venues[row.venue_id] = _venue(row, near)
                where.regions[row.venue_id] = _community_and_town(row)
            weekly = _weekly(row)
            where.times.add(weekly)
            if row.display_name:
                where.teachers.add((weekly, row.display_name))
        return where

    def ordered_venues(self) -> list[CatalogueVenue]:
        """Nearest first when distances are known (venues without a position last), else by id."""
        return sorted(self.venues.values(), key=lambda v: (v.distance_km is None, v.distance_km or 0.0, v.id))

    def weekly_times(self) -> list[WeeklyTime]:
        return [WeeklyTime(weekday=d, start=s, end=e, venue_id=v) for d, s, e, v in sorted(self.times)]

    def teacher_names(self) -> list[str]:
        """Display names in the order of the weekly sessions they teach, each once."""
        return list(dict.fromkeys(name for _, name in sorted(self.teachers)))


def _item(series: list[Row], near: Point | None, feed: FeedAddresses) -> CatalogueItem:
    """The item of a class from its committed series (at least one: it was listed)."""
    offer, where = series[0], _Where.of(series, near)
    venues = where.ordered_venues()
    has_policy = offer.policy_of is not None
    return CatalogueItem(
        id=offer.class_id,
        title=offer.title,
        category=offer.category,
        target_group=offer.target_group,
        organisation=Named(id=offer.organisation_id, name=offer.organisation_name),
        venues=venues,
        region=where.regions[venues[0].id],
        weekly_times=where.weekly_times(),
        term_start=offer.term_start,
        term_end=offer.term_end,
        seats=offer.seats if has_policy else None,
        seats_left=offer.seats - offer.enrolled if has_policy else None,
        applicants=offer.applicants,
        enrolment=(
            EnrolmentWindow(opens_at=offer.opens_at, closes_at=offer.closes_at, mode=offer.mode) if has_policy else None
        ),
        teachers=where.teacher_names(),
        feed=feed,
        distance_km=venues[0].distance_km,
    )


async def catalogue(
    session: AsyncSession, where: CatalogueFilter, page: PageRequest, feed_links: FeedLinksOf
) -> tuple[list[CatalogueItem], int]:
    """One page of the catalogue and the number of classes matching; ``feed_links`` gives the
    subscription links of a class's feed (the API layer knows the public address)."""
    ids, total = await _page_of_classes(session, where, page)
    if not ids:
        return [], total
    series = await _series_by_class(session, ids)
    # A class whose last series was cancelled since the page was chosen is left out.
    return [_item(series[i], where.near, feed_links(i)) for i in ids if i in series], total


async def offering(session: AsyncSession, class_id: int, feed: FeedAddresses) -> CatalogueItem:
    """One class as the catalogue shows it; 404 unless a committed series holds it."""
    series = (await _series_by_class(session, [class_id])).get(class_id)
    if not series:
        raise NotFound("class", class_id)
    return _item(series, None, feed)


@dataclass(frozen=True, slots=True)
class Choices:
    """What the catalogue's filters offer: the categories and target groups of listed classes."""

    categories: list[str]
    target_groups: list[str]


async def choices(session: AsyncSession) -> Choices:
    listed = CommunityClass.id.in_(_committed_series())
    rows = (await session.execute(select(CommunityClass.category, CommunityClass.target_group).where(listed))).all()
    return Choices(
        categories=sorted({row.category for row in rows if row.category}),
        target_groups=sorted({row.target_group for row in rows if row.target_group}),
    )
