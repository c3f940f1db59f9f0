"""Allocations: build the allocator's Problem from the database, store its plan, commit it as bookings.

The solve itself runs off the request (``booking/jobs.py``): ``load_term`` reads everything the
run needs in one read transaction, ``build_problem`` and ``describe`` (pure, in a child process:
``booking/solver_process.py``) convert it, solve and describe the plan, and ``store_result``
writes the outcome.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import scheduling
from booking.errors import Forbidden, InvalidRequest, InvalidStateTransition, NotFound, VenueshareError
from booking.models import (
    SLOT_HOLDING_STATES,
    Allocation,
    AllocationStatus,
    ClassBooking,
    CommunityClass,
    Occurrence,
    Organisation,
    Region,
    Space,
    Teacher,
    Venue,
)
from booking.rules.availability import SpaceCalendar
from booking.rules.divisible import leaves
from booking.rules.hours import clock, parse_clock
from booking.rules.intervals import Interval
from booking.rules.permissions import Actor, administers
from booking.rules.weekly_grid import date_of, space_grid, units_of, weeks_in
from booking.schemas.bookings import BookingCreate, OnConflict, Recurrence
from booking.schemas.teaching import AllocationCreate, AllocationPublic
from booking.services.accounts import subtree
from booking.services.bookings import request_booking
from booking.services.calendars import busy_by_space, calendars, venue_infos
from booking.services.common import PageRequest, get_or_404, page_of, require
from booking.services.guards import require_admin_of, require_signed_in

GRID_MINUTES = 30
TEACHER_SPEED_KMH = 20.0  # teachers' travel between venues, town roads and buses
MAX_TRAVEL_KM = 10.0  # learners are not sent farther than this from their community
ACTIVE = (AllocationStatus.queued.value, AllocationStatus.running.value)
ERROR_LENGTH = 2000  # Allocation.error's column


# ---- requests ---------------------------------------------------------------------------------


async def allocation_for(
    session: AsyncSession, actor: Actor, allocation_id: int, *, for_update: bool = False
) -> Allocation:
    """A run the actor may see: district administrators of its region; 404 for other signed-in people."""
    require_signed_in(actor)
    allocation = await get_or_404(session, Allocation, allocation_id, for_update=for_update)
    if not administers(actor, allocation.region_id):
        raise NotFound("allocation", allocation_id)
    return allocation


async def create_allocation(
    session: AsyncSession, actor: Actor, data: AllocationCreate, *, now: datetime
) -> AllocationPublic:
    """Queue a solver run. A re-run (``from_allocation_id``) keeps the parent's locks and forbids.

    A run belongs to a region (default the whole district); only that region's district
    administrators may start it, and only for classes of organisations in their care."""
    require_admin_of(actor, data.region_id, "run allocations for that region")
    await require(session, Region, data.region_id)
    locks: list[dict] = []
    forbids = [{**f.model_dump(exclude={"start"}), "start_unit": _unit(f.start)} for f in data.forbids]
    parent = None
    if data.from_allocation_id is not None:
        parent = await allocation_for(session, actor, data.from_allocation_id)
        locks, forbids = list(parent.locks), list(parent.forbids) + forbids
    if data.locks:
        if parent is None or parent.result is None:
            raise InvalidRequest("locks refer to a finished parent run: give from_allocation_id", field="locks")
        locks += _locks_from(parent.result, data.locks)
    class_ids = data.class_ids
    if class_ids is None:
        class_ids = list(
            await session.scalars(
                select(CommunityClass.id)
                .where(CommunityClass.term_start <= data.term_end, CommunityClass.term_end >= data.term_start)
                .order_by(CommunityClass.id)
            )
        )
    regions = dict(
        (
            await session.execute(
                select(CommunityClass.id, Organisation.region_id)
                .join(Organisation, Organisation.id == CommunityClass.organisation_id)
                .where(CommunityClass.id.in_(class_ids))
            )
        ).all()
    )
    if missing := sorted(set(class_ids) - set(regions)):
        raise InvalidRequest(f"unknown classes: {missing}", field="class_ids")
    inside = None if data.region_id is None else await subtree(session, {data.region_id})
    if foreign := sorted(cid for cid, region in regions.items() if inside is not None and region not in inside):
        if data.class_ids is None:  # by default, the term's classes of this region
            class_ids = [cid for cid in class_ids if cid not in foreign]
        else:
            raise Forbidden(f"classes {foreign} are outside the run's region", class_ids=foreign)
    allocation = Allocation(
        term_start=data.term_start,
        term_end=data.term_end,
        class_ids=sorted(set(class_ids)),
        status=AllocationStatus.queued,
        time_limit_s=data.time_limit_s,
        seed=data.seed,
        weights=data.weights.model_dump(),
        locks=_unique(locks),
        forbids=_unique(forbids),
        parent_id=data.from_allocation_id,
        region_id=data.region_id,
        created_at=now,
    )
    session.add(allocation)
    await session.flush()
    return AllocationPublic.model_validate(allocation)


def _unit(start: str | None) -> int | None:
    return None if start is None else parse_clock(start) // GRID_MINUTES


def _unique(items: list[dict]) -> list[dict]:
    return list({tuple(sorted(item.items())): item for item in items}.values())


def _locks_from(result: dict, wanted) -> list[dict]:
    placed = {c["class_id"]: c["sessions"] for c in result.get("classes", [])}
    locks = []
    for lock in wanted:
        if lock.class_id not in placed:
            raise InvalidRequest(f"class {lock.class_id} was not placed by the parent run", field="locks")
        for session_ in placed[lock.class_id]:
            if lock.session_index in (None, session_["session_index"]):
                locks.append(
                    {
                        "class_id": lock.class_id,
                        "session_index": session_["session_index"],
                        "weekday": session_["weekday"],
                        "start_unit": parse_clock(session_["start"]) // GRID_MINUTES,
                        "space_id": session_["space_id"],
                        "teacher_id": session_["teacher_id"],
                    }
                )
    return locks


async def get_allocation(session: AsyncSession, actor: Actor, allocation_id: int) -> AllocationPublic:
    return AllocationPublic.model_validate(await allocation_for(session, actor, allocation_id))


async def list_allocations(
    session: AsyncSession, actor: Actor, page: PageRequest, *, status: AllocationStatus | None
) -> tuple[list[AllocationPublic], int]:
    """Runs the actor may see, newest first (none for people who administer no region)."""
    require_signed_in(actor)
    stmt = select(Allocation).order_by(Allocation.id.desc())
    if not actor.everywhere:
        stmt = stmt.where(Allocation.region_id.in_(actor.admin_regions))
    if status is not None:
        stmt = stmt.where(Allocation.status == status)
    items, total = await page_of(session, stmt, page)
    return [AllocationPublic.model_validate(a) for a in items], total


async def cancel_allocation(
    session: AsyncSession, actor: Actor, allocation_id: int, *, now: datetime
) -> AllocationPublic:
    allocation = await allocation_for(session, actor, allocation_id, for_update=True)
    if allocation.status not in ACTIVE:
        raise InvalidStateTransition(
            f"a {allocation.status} run cannot be cancelled", allocation_status=allocation.status
        )
    if allocation.status == AllocationStatus.queued:
        allocation.status, allocation.finished_at = AllocationStatus.cancelled, now
    allocation.cancel_requested = True  # a running solve sees this and stops with what it has
    await session.flush()
    return AllocationPublic.model_validate(allocation)


# ---- the run: load, plan (pure), store --------------------------------------------------------


class Snapshot(SimpleNamespace):
    """A row's field values copied out of its session, read by attribute like the row itself:
    read-only, and picklable (the solve runs in another process)."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a snapshot of a row is read-only: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a snapshot of a row is read-only: cannot delete {name}")


def snapshot(row: SQLModel) -> Snapshot:
    return Snapshot(**row.model_dump())


@dataclass
class Term:
    """Everything one run needs, read from the database; plain values only (it is pickled to the
    solver process), teachers and classes as ``Snapshot``s of their rows."""

    allocation_id: int
    term_start: date
    term_end: date
    time_limit_s: float
    seed: int
    weights: dict[str, int]
    locks: list[dict]
    forbids: list[dict]
    spaces: list[dict] = field(default_factory=list)
    calendars: dict[int, SpaceCalendar] = field(default_factory=dict)
    busy: dict[int, list[Interval]] = field(default_factory=dict)
    teachers: list[Snapshot] = field(default_factory=list)
    teacher_busy: dict[int, list[Interval]] = field(default_factory=dict)
    classes: list[Snapshot] = field(default_factory=list)
    community_of: dict[int, int | None] = field(default_factory=dict)
    venue_points: dict[int, tuple[float, float]] = field(default_factory=dict)
    region_points: dict[int, tuple[float, float]] = field(default_factory=dict)


async def claim_next(session: AsyncSession, *, now: datetime) -> int | None:
    """Mark the oldest queued run as running and return its id (safe with several API workers)."""
    oldest = select(Allocation.id).where(Allocation.status == AllocationStatus.queued).order_by(Allocation.id).limit(1)
    if session.bind.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    allocation_id = await session.scalar(oldest)
    if allocation_id is not None:
        await session.execute(
            update(Allocation)
            .where(Allocation.id == allocation_id)
            .values(status=AllocationStatus.running, started_at=now)
        )
    return allocation_id


async def claim(session: AsyncSession, allocation_id: int, *, now: datetime) -> bool:
    """Mark one queued run as running; False when it is not queued (cancelled, or claimed already)."""
    claimed = await session.execute(
        update(Allocation)
        .where(Allocation.id == allocation_id, Allocation.status == AllocationStatus.queued)
        .values(status=AllocationStatus.running, started_at=now)
    )
    return claimed.rowcount == 1


async def queued_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Allocation.id).where(Allocation.status == AllocationStatus.queued)))


async def abandon(session: AsyncSession, allocation_id: int, why: str, *, now: datetime) -> None:
    """Fail a run nobody can finish (its worker kept dying), with the reason; never left running."""
    await session.execute(
        update(Allocation)
        .where(Allocation.id == allocation_id, Allocation.status.in_(ACTIVE))
        .values(status=AllocationStatus.failed, error=why, finished_at=now)
    )


STALE_AFTER = timedelta(minutes=5)  # past its time limit: the process running it is gone


async def requeue_stale(session: AsyncSession, *, now: datetime) -> list[int]:
    """Put back in the queue the runs whose process died mid-solve (running well past their limit)."""
    running = await session.scalars(select(Allocation).where(Allocation.status == AllocationStatus.running))
    stale = [
        a
        for a in running
        if a.started_at is not None and a.started_at + timedelta(seconds=a.time_limit_s) + STALE_AFTER < now
    ]
    for allocation in stale:
        _requeue(allocation)
    await session.flush()
    return [allocation.id for allocation in stale]


async def requeue(session: AsyncSession, allocation_id: int) -> None:
    """Put a run this process could not finish (it is shutting down, or its worker died) back in
    the queue; a run that ended meanwhile stays as it is."""
    allocation = await get_or_404(session, Allocation, allocation_id)
    if allocation.status == AllocationStatus.running:
        _requeue(allocation)
        await session.flush()


def _requeue(allocation: Allocation) -> None:
    allocation.status, allocation.started_at, allocation.progress = AllocationStatus.queued, None, None


async def load_term(session: AsyncSession, allocation_id: int) -> Term:
    allocation = await get_or_404(session, Allocation, allocation_id)
    start = datetime.combine(allocation.term_start, time(), UTC) - timedelta(days=1)
    end = datetime.combine(allocation.term_end, time(), UTC) + timedelta(days=2)
    term = Term(
        allocation_id,
        allocation.term_start,
        allocation.term_end,
        allocation.time_limit_s,
        allocation.seed,
        allocation.weights,
        allocation.locks,
        allocation.forbids,
    )
    classes = await session.scalars(select(CommunityClass).where(CommunityClass.id.in_(allocation.class_ids)))
    term.classes = [snapshot(c) for c in classes]
    rows = await session.execute(
        select(Space.id, Space.parent_id, Space.venue_id, Venue.region_id, Space.capacity, Space.kind, Space.features)
        .join(Venue, Venue.id == Space.venue_id)
        .order_by(Space.id)
    )
    term.spaces = [row._asdict() for row in rows]
    space_ids = [space["id"] for space in term.spaces]
    term.calendars = await calendars(session, await venue_infos(session, space_ids), start, end)
    planned = select(ClassBooking.booking_id).where(ClassBooking.class_id.in_(allocation.class_ids))
    term.busy = await busy_by_space(session, space_ids, start, end, except_bookings=planned)
    term.teachers = [snapshot(t) for t in await session.scalars(select(Teacher).order_by(Teacher.id))]
    term.teacher_busy = await _teacher_busy(session, start, end, exclude_classes=allocation.class_ids)
    organisations = dict((await session.execute(select(Organisation.id, Organisation.region_id))).all())
    term.community_of = {
        c.id: (c.preferred_region_ids[0] if c.preferred_region_ids else organisations.get(c.organisation_id))
        for c in term.classes
    }
    venues = (await session.execute(select(Venue.id, Venue.region_id, Venue.latitude, Venue.longitude))).all()
    term.venue_points = {v.id: (v.latitude, v.longitude) for v in venues if v.latitude is not None}
    parents = dict((await session.execute(select(Region.id, Region.parent_id))).all())
    term.region_points = _region_centroids(venues, parents)
    return term


async def _teacher_busy(session, start, end, *, exclude_classes) -> dict[int, list[Interval]]:
    """When teachers already teach other classes' committed sessions."""
    rows = await session.execute(
        select(ClassBooking.teacher_id, Occurrence.starts_at, Occurrence.ends_at)
        .join(Occurrence, Occurrence.booking_id == ClassBooking.booking_id)
        .where(
            ClassBooking.class_id.not_in(exclude_classes),
            Occurrence.state.in_(SLOT_HOLDING_STATES),
            Occurrence.starts_at < end,
            Occurrence.ends_at > start,
        )
        .distinct()
    )
    busy: dict[int, list[Interval]] = {}
    for teacher_id, starts_at, ends_at in rows:
        busy.setdefault(teacher_id, []).append((starts_at, ends_at))
    return busy


def _region_centroids(venues, parents: dict[int, int | None]) -> dict[int, tuple[float, float]]:
    """Each region's centre: the mean position of the venues in it and beneath it."""
    points: dict[int, list[tuple[float, float]]] = {}
    for venue in venues:
        if venue.latitude is None:
            continue
        region: int | None = venue.region_id
        while region is not None:
            points.setdefault(region, []).append((venue.latitude, venue.longitude))
            region = parents.get(region)
    return {r: (sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps)) for r, ps in points.items()}


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _windows(windows: list[dict]) -> list[tuple[int, int, int]]:
    return [(w["weekday"], parse_clock(w["opens"]), parse_clock(w["closes"])) for w in windows]


def build_problem(term: Term) -> tuple[scheduling.Problem, dict]:
    """The allocator's Problem for a term, and why each blocked (space, unit, week) is blocked."""
    parent_of = {space["id"]: space["parent_id"] for space in term.spaces}
    spaces, reasons = [], {}
    for space in term.spaces:
        calendar = term.calendars[space["id"]]
        open_units, blocked, why = space_grid(
            calendar, term.busy[space["id"]], term.term_start, term.term_end, GRID_MINUTES
        )
        reasons[space["id"]] = why
        subtree = {sid: pid for sid, pid in parent_of.items() if _under(sid, space["id"], parent_of)}
        spaces.append(
            scheduling.Space(
                id=space["id"],
                venue_id=space["venue_id"],
                region_id=space["region_id"],
                capacity=space["capacity"],
                kind=space["kind"],
                features=frozenset(space["features"]),
                leaves=frozenset(leaves(space["id"], subtree)),
                open_units=open_units,
                blocked=blocked,
            )
        )
    zone = next(iter(term.calendars.values())).zone if term.calendars else ZoneInfo("Asia/Shanghai")
    teachers = [
        scheduling.Teacher(
            id=t.id,
            skills=frozenset(t.skills),
            available_units=units_of(_windows(t.availability), GRID_MINUTES)
            - _taken_units(term.teacher_busy.get(t.id, []), zone),
            max_minutes_per_week=t.max_minutes_per_week,
            home_region_id=t.home_region_id,
            refused_venue_ids=frozenset(t.refused_venue_ids),
        )
        for t in term.teachers
    ]
    classes = [
        scheduling.ClassOffer(
            id=c.id,
            sessions_per_week=c.sessions_per_week,
            length_units=math.ceil(c.session_minutes / GRID_MINUTES),
            learners=c.learners,
            required_features=frozenset(c.required_features),
            allowed_kinds=frozenset(c.allowed_kinds),
            required_skill=c.required_skill,
            fixed_teacher_id=c.fixed_teacher_id,
            preferred_region_ids=frozenset(c.preferred_region_ids),
            allowed_units=units_of(_windows(c.allowed_windows), GRID_MINUTES),
            cohorts=frozenset(c.cohorts),
            community_id=term.community_of.get(c.id),
        )
        for c in term.classes
    ]
    regions = {r for c in term.classes for r in c.preferred_region_ids if r in term.region_points}
    travel_km = {
        (region, venue): round(km_between(term.region_points[region], point), 1)
        for region in regions
        for venue, point in term.venue_points.items()
    }
    venue_minutes = {
        (a, b): round(km_between(pa, pb) / TEACHER_SPEED_KMH * 60)
        for a, pa in term.venue_points.items()
        for b, pb in term.venue_points.items()
        if a != b
    }
    problem = scheduling.Problem(
        grid_minutes=GRID_MINUTES,
        weeks=weeks_in(term.term_start, term.term_end),
        spaces=tuple(spaces),
        teachers=tuple(teachers),
        classes=tuple(classes),
        locks=tuple(scheduling.Lock(**lock) for lock in term.locks),
        forbids=tuple(scheduling.Forbid(**forbid) for forbid in term.forbids),
        weights=scheduling.Weights(**term.weights),
        travel_km=travel_km,
        venue_travel_minutes=venue_minutes,
        max_travel_km=MAX_TRAVEL_KM,
    )
    return problem, reasons


def _under(space_id: int, root: int, parent_of: dict[int, int | None]) -> bool:
    current: int | None = space_id
    while current is not None:
        if current == root:
            return True
        current = parent_of.get(current)
    return False


def _taken_units(busy: list[Interval], zone: ZoneInfo) -> frozenset[tuple[int, int]]:
    """Weekly units a teacher is already teaching in (in any week of the term)."""
    taken = set()
    for start, end in busy:
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        minute = local_start.hour * 60 + local_start.minute
        last = local_end.hour * 60 + local_end.minute if local_end.date() == local_start.date() else 1440
        for unit in range(minute // GRID_MINUTES, math.ceil(last / GRID_MINUTES)):
            taken.add((local_start.weekday(), unit))
    return frozenset(taken)


def describe(term: Term, solution: scheduling.Solution, reasons: dict) -> dict[str, Any]:
    """The plan as staff read it: each class's weekly pattern, its skipped dates and why; the unplaced."""
    titles = {c.id: c.title for c in term.classes}
    minutes = {c.id: c.session_minutes for c in term.classes}
    sessions: dict[int, list[dict]] = {}
    for a in sorted(solution.assignments, key=lambda a: (a.class_id, a.session_index)):
        start_min = a.start_unit * GRID_MINUTES
        skipped = [
            {
                "date": date_of(term.term_start, week, a.weekday).isoformat(),
                "reason": _skip_reason(reasons[a.space_id], a, week, minutes[a.class_id]),
            }
            for week in a.skipped_weeks
        ]
        sessions.setdefault(a.class_id, []).append(
            {
                "session_index": a.session_index,
                "weekday": a.weekday,
                "start": clock(start_min),
                "end": clock(start_min + minutes[a.class_id]),
                "space_id": a.space_id,
                "teacher_id": a.teacher_id,
                "skipped": skipped,
            }
        )
    return {
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "wall_time_s": round(solution.wall_time_s, 3),
        "first_feasible_s": solution.first_feasible_s,
        "placed": solution.placed_count,
        "placed_bound": solution.placed_bound,
        "method": solution.method,
        "total": len(term.classes),
        "classes": [
            {"class_id": class_id, "title": titles[class_id], "sessions": found}
            for class_id, found in sorted(sessions.items())
        ],
        "unplaced": [
            {"class_id": u.class_id, "title": titles[u.class_id], "reasons": list(u.reasons), "detail": u.detail}
            for u in sorted(solution.unplaced, key=lambda u: u.class_id)
        ],
    }


def _skip_reason(why: dict, assignment: scheduling.Assignment, week: int, session_minutes: int) -> str:
    for unit in range(assignment.start_unit, assignment.start_unit + math.ceil(session_minutes / GRID_MINUTES)):
        reason = why.get(((assignment.weekday, unit), week))
        if reason:
            return reason
    return "blocked"


async def store_progress(session: AsyncSession, allocation_id: int, progress: dict) -> bool:
    """Record progress; True when staff asked to cancel the run."""
    await session.execute(update(Allocation).where(Allocation.id == allocation_id).values(progress=progress))
    return await cancel_requested(session, allocation_id)


async def cancel_requested(session: AsyncSession, allocation_id: int) -> bool:
    return bool(await session.scalar(select(Allocation.cancel_requested).where(Allocation.id == allocation_id)))


async def store_result(
    session: AsyncSession, allocation_id: int, *, result: dict | None, error: str | None, now: datetime
) -> None:
    allocation = await get_or_404(session, Allocation, allocation_id)
    if error is not None:
        allocation.status = AllocationStatus.failed
    elif allocation.cancel_requested:
        allocation.status = AllocationStatus.cancelled
    else:
        allocation.status = AllocationStatus.done
    if error is not None and len(error) > ERROR_LENGTH:  # a solver's message may be long; the column is not
        error = error[: ERROR_LENGTH - 1] + "…"
    allocation.result, allocation.error, allocation.finished_at = result, error, now
    await session.flush()


# ---- commit -------------------------------------------------------------------------------------


async def commit_allocation(
    session: AsyncSession, actor: Actor, allocation_id: int, *, now: datetime
) -> AllocationPublic:
    """Turn the plan into weekly booking series, through the same checked path as any booking.

    Each session becomes one series over the term with on_conflict=skip: dates taken or closed
    since the run are skipped and reported; a session that cannot be booked at all is reported
    as failed (with the reason), never silently dropped.
    """
    allocation = await allocation_for(session, actor, allocation_id, for_update=True)
    if allocation.status != AllocationStatus.done:
        raise InvalidStateTransition(
            f"a {allocation.status} run cannot be committed", allocation_status=allocation.status
        )
    classes = {
        c.id: c
        for c in await session.scalars(select(CommunityClass).where(CommunityClass.id.in_(allocation.class_ids)))
    }
    report: dict[str, list] = {"booked": [], "failed": []}
    zones = {sid: ZoneInfo(v.timezone) for sid, v in (await venue_infos(session, _space_ids(allocation))).items()}
    for placed in allocation.result["classes"]:
        offer = classes[placed["class_id"]]
        for session_ in placed["sessions"]:
            zone = zones[session_["space_id"]]
            outcome = await _book_session(session, actor, allocation, offer, session_, zone, now=now)
            report["failed" if "reason" in outcome else "booked"].append(outcome)
    allocation.status, allocation.commit_report = AllocationStatus.committed, report
    await session.flush()
    return AllocationPublic.model_validate(allocation)


def _space_ids(allocation: Allocation) -> list[int]:
    return sorted({s["space_id"] for c in allocation.result["classes"] for s in c["sessions"]})


async def _book_session(session, actor: Actor, allocation, offer, planned: dict, zone: ZoneInfo, *, now) -> dict:
    base = {"class_id": offer.id, "session_index": planned["session_index"]}
    first = _first_date(offer, allocation, planned, zone, now)
    if first is None:
        return {**base, "reason": "no_date_left", "detail": "no date of the term is still ahead"}
    start = datetime.combine(first, time.fromisoformat(planned["start"]), zone)
    request = BookingCreate(
        space_id=planned["space_id"],
        organisation_id=offer.organisation_id,
        title=offer.title,
        attendees=offer.learners,
        starts_at=start,
        ends_at=start + timedelta(minutes=offer.session_minutes),
        recurrence=Recurrence(rrule=f"FREQ=WEEKLY;UNTIL={min(offer.term_end, allocation.term_end):%Y%m%d}"),
        on_conflict=OnConflict.skip,
    )
    try:
        async with session.begin_nested():
            booking = await request_booking(session, actor, request, now=now)
            session.add(
                ClassBooking(
                    booking_id=booking.id,
                    class_id=offer.id,
                    teacher_id=planned["teacher_id"],
                    allocation_id=allocation.id,
                    session_index=planned["session_index"],
                )
            )
            await session.flush()
    except VenueshareError as error:
        return {**base, "reason": error.code, "detail": error.detail, **error.extra}
    return {
        **base,
        "booking_id": booking.id,
        "sessions": len(booking.occurrences),
        "skipped": [s.model_dump(mode="json") for s in booking.skipped],
    }


def _first_date(offer, allocation, planned, zone: ZoneInfo, now: datetime) -> date | None:
    last = min(offer.term_end, allocation.term_end)
    day = date_of(max(offer.term_start, allocation.term_start), 0, planned["weekday"])
    while day <= last:
        if datetime.combine(day, time.fromisoformat(planned["start"]), zone) > now:
            return day
        day += timedelta(days=7)
    return None
