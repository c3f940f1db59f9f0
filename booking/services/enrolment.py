"""Enrolment: a class's policy, residents' applications, the lottery draw, the waitlist.

Seats are a database guarantee: ``enrolment_policies.enrolled`` counts confirmed seats, a CHECK
keeps it within ``seats``, and every seat is taken by a conditional UPDATE (``enrolled < seats``)
in the transaction that enrols, so concurrent applications, withdrawals and promotions can never
oversell a class on either database. One live application per resident and class is a partial
unique index.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import (
    AlreadyApplied,
    ClassFull,
    EnrolmentClosed,
    InvalidRequest,
    InvalidStateTransition,
    NotEligible,
    NotFound,
    TermLimitReached,
)
from booking.models import (
    HOLDING,
    Application,
    ApplicationState,
    Booking,
    BookingState,
    ClassBooking,
    CommunityClass,
    EnrolmentMode,
    EnrolmentPolicy,
    LearningEvent,
    Outcome,
    Region,
    Resident,
    Space,
    Tier,
)
from booking.rules import lottery
from booking.rules.permissions import Actor, manages_organisation
from booking.schemas.enrolment import (
    ApplicationPublic,
    DrawEntry,
    DrawPublic,
    PolicyPublic,
    PolicyWrite,
    RosterEntry,
)
from booking.services import bookings, learning_audit, residents
from booking.services.common import get_or_404
from booking.services.guards import allow, organisation_region

# A resident may have this many live applications per term, whatever the classes' limits on seats.
MAX_APPLICATIONS_PER_TERM = 12
SEAT = update(EnrolmentPolicy).where(EnrolmentPolicy.enrolled < EnrolmentPolicy.seats)
LIVE_BOOKINGS = (BookingState.pending.value, BookingState.confirmed.value)


# ---- the policy -------------------------------------------------------------------------------------


async def _class_staff(session: AsyncSession, actor: Actor, offer: CommunityClass) -> bool:
    return manages_organisation(actor, offer.organisation_id, await organisation_region(session, offer.organisation_id))


async def _smallest_capacity(session: AsyncSession, class_id: int) -> int | None:
    return await session.scalar(
        select(func.min(Space.capacity))
        .join(Booking, Booking.space_id == Space.id)
        .join(ClassBooking, ClassBooking.booking_id == Booking.id)
        .where(ClassBooking.class_id == class_id, Booking.state.in_(LIVE_BOOKINGS))
    )


async def put_policy(
    session: AsyncSession, actor: Actor, class_id: int, data: PolicyWrite, *, now: datetime
) -> PolicyPublic:
    """Set how a class gives out its seats. Once the window is open its rules are fixed (mode,
    tiers, opening, the seed); seats may grow, or shrink to what is taken; the window may be
    extended until it closes. A drawn or decided class changes no more."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await _class_staff(session, actor, offer), "set this class's enrolment")
    capacity = await _smallest_capacity(session, class_id)
    if capacity is None:
        raise InvalidRequest("the class has no booked space yet: commit its allocation first", field="seats")
    if data.seats > capacity:
        raise InvalidRequest(f"seats above the smallest booked space's capacity ({capacity})", field="seats")
    policy = await session.get(EnrolmentPolicy, class_id, with_for_update=True)
    fields = data.model_dump()
    fields["tiers"] = [tier.value for tier in data.tiers]
    if policy is None:
        seed = lottery.new_seed()
        policy = EnrolmentPolicy(
            class_id=class_id, seed=seed, seed_commitment=lottery.commitment(seed), updated_at=now, **fields
        )
        session.add(policy)
    else:
        _check_change(policy, data, now)
        for name, value in fields.items():
            setattr(policy, name, value)
        policy.updated_at = now
    await session.flush()
    detail = data.model_dump(mode="json")
    await learning_audit.record(
        session, "policy_set", class_id=class_id, now=now, actor_user_id=actor.user_id, detail=detail
    )
    return describe(policy, now)


def _check_change(policy: EnrolmentPolicy, data: PolicyWrite, now: datetime) -> None:
    if policy.drawn_at is not None or policy.outcome is not None:
        raise InvalidStateTransition("the class was drawn or decided: its enrolment is final", state="drawn")
    if policy.opens_at <= now:
        fixed = {"mode": policy.mode, "tiers": policy.tiers, "opens_at": policy.opens_at}
        wanted = {"mode": data.mode.value, "tiers": [tier.value for tier in data.tiers], "opens_at": data.opens_at}
        changed = [name for name in fixed if fixed[name] != wanted[name]]
        if changed:
            raise InvalidStateTransition(f"the window is open: {', '.join(changed)} can no longer change", state="open")
        if policy.closes_at <= now and data.closes_at != policy.closes_at:
            raise InvalidStateTransition("the window has closed", state="closed")
    if data.seats < policy.enrolled:
        raise InvalidRequest(f"{policy.enrolled} seats are taken already", field="seats")


def describe(policy: EnrolmentPolicy, now: datetime) -> PolicyPublic:
    decided_at = policy.drawn_at if policy.mode == EnrolmentMode.lottery else policy.closes_at
    closed = decided_at is not None and decided_at <= now
    stored = {name: getattr(policy, name) for name in PolicyPublic.model_fields if hasattr(policy, name)}
    stored["seed"] = policy.seed if policy.drawn_at is not None else None
    return PolicyPublic(
        **stored,
        seats_left=policy.seats - policy.enrolled,
        below_minimum=closed and policy.outcome is None and policy.enrolled < policy.min_learners,
    )


async def get_policy(session: AsyncSession, class_id: int, *, now: datetime) -> PolicyPublic:
    await get_or_404(session, CommunityClass, class_id)
    policy = await session.get(EnrolmentPolicy, class_id)
    if policy is None:
        raise NotFound("enrolment policy of class", class_id)
    return describe(policy, now)


# ---- applying and withdrawing -----------------------------------------------------------------------


async def _open_policy(session: AsyncSession, class_id: int, now: datetime) -> EnrolmentPolicy:
    policy = await session.get(EnrolmentPolicy, class_id)
    if policy is None:
        raise EnrolmentClosed("this class takes no applications (no enrolment policy)")
    if policy.outcome is not None:
        raise EnrolmentClosed("this class's enrolment has ended")
    if not policy.opens_at <= now < policy.closes_at:
        when = "opens" if now < policy.opens_at else "closed"
        at = policy.opens_at if now < policy.opens_at else policy.closes_at
        raise EnrolmentClosed(f"enrolment {when} at {at.isoformat()}", opens_at=policy.opens_at.isoformat())
    return policy


def _age(resident: Resident, offer: CommunityClass) -> int:
    return offer.term_start.year - resident.birth_year


def _check_eligible(policy: EnrolmentPolicy, resident: Resident, offer: CommunityClass) -> None:
    age = _age(resident, offer)
    if policy.min_age is not None and age < policy.min_age:
        raise NotEligible(f"this class is for residents aged {policy.min_age} or over", min_age=policy.min_age)
    if policy.max_age is not None and age > policy.max_age:
        raise NotEligible(f"this class is for residents aged {policy.max_age} or under", max_age=policy.max_age)


async def held_seats(session: AsyncSession, resident_ids: list[int], term_start: date) -> dict[int, int]:
    rows = await session.execute(
        select(Application.resident_id, func.count())
        .where(
            Application.resident_id.in_(resident_ids),
            Application.term_start == term_start,
            Application.state == ApplicationState.enrolled,
        )
        .group_by(Application.resident_id)
    )
    return dict(rows.all())


async def _check_term_limit(session: AsyncSession, policy: EnrolmentPolicy, resident: Resident, term: date) -> None:
    held, live = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((Application.state == ApplicationState.enrolled, 1), else_=0)), 0),
                func.count(),
            ).where(
                Application.resident_id == resident.user_id,
                Application.term_start == term,
                Application.state.in_(HOLDING),
            )
        )
    ).one()
    if held >= policy.term_limit:
        raise TermLimitReached(f"you hold {held} classes this term, the limit is {policy.term_limit}", limit=held)
    if live >= MAX_APPLICATIONS_PER_TERM:
        raise TermLimitReached(
            f"at most {MAX_APPLICATIONS_PER_TERM} applications per term", limit=MAX_APPLICATIONS_PER_TERM
        )


async def _ancestors(session: AsyncSession, region_id: int) -> set[int]:
    """The region and every region above it (at most district, town, community)."""
    found: set[int] = set()
    current: int | None = region_id
    while current is not None and current not in found:
        found.add(current)
        current = await session.scalar(select(Region.parent_id).where(Region.id == current))
    return found


async def _was_enrolled_last_term(session: AsyncSession, resident: Resident, offer: CommunityClass) -> bool:
    """Enrolled in the same course (organisation and title) in the term before this one."""
    same_course = (CommunityClass.organisation_id == offer.organisation_id, CommunityClass.title == offer.title)
    previous = await session.scalar(
        select(func.max(CommunityClass.term_start)).where(*same_course, CommunityClass.term_start < offer.term_start)
    )
    if previous is None:
        return False
    held = await session.scalar(
        select(func.count())
        .select_from(Application)
        .join(CommunityClass, CommunityClass.id == Application.class_id)
        .where(
            *same_course,
            CommunityClass.term_start == previous,
            Application.resident_id == resident.user_id,
            Application.state == ApplicationState.enrolled,
        )
    )
    return bool(held)


async def tier_of(session: AsyncSession, policy: EnrolmentPolicy, resident: Resident, offer: CommunityClass) -> int:
    """The first of the policy's tiers that applies (``len(tiers)`` if none does): fixed when applying."""
    for index, tier in enumerate(policy.tiers):
        if tier == Tier.everyone:
            return index
        if tier == Tier.preferred_region:
            if set(offer.preferred_region_ids) & await _ancestors(session, resident.home_region_id):
                return index
        elif tier == Tier.new_to_class and not await _was_enrolled_last_term(session, resident, offer):
            return index
    return len(policy.tiers)


async def apply(
    session: AsyncSession, actor: Actor, class_id: int, resident_public_id: str | None, *, now: datetime
) -> ApplicationPublic:
    offer = await get_or_404(session, CommunityClass, class_id)
    counter = resident_public_id is not None and await _class_staff(session, actor, offer)
    acting = await residents.acting_for(session, actor, resident_public_id, counter=counter)
    resident = acting.resident
    policy = await _open_policy(session, class_id, now)
    await _check_not_applied(session, class_id, resident.user_id)
    _check_eligible(policy, resident, offer)
    await _check_term_limit(session, policy, resident, offer.term_start)
    first_come = policy.mode == EnrolmentMode.first_come
    application = Application(
        public_id=str(uuid.uuid4()),
        class_id=class_id,
        resident_id=resident.user_id,
        term_start=offer.term_start,
        state=ApplicationState.applied,
        tier=0 if first_come else await tier_of(session, policy, resident, offer),  # tiers order only draws
        channel=acting.channel,
        actor_user_id=acting.actor_user_id,
        created_at=now,
        updated_at=now,
    )
    if first_come:
        taken = await session.scalar(
            SEAT.where(EnrolmentPolicy.class_id == class_id)
            .values(enrolled=EnrolmentPolicy.enrolled + 1)
            .returning(EnrolmentPolicy.enrolled)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            raise ClassFull(f"all {policy.seats} seats are taken", seats=policy.seats)
        application.state, application.rank = ApplicationState.enrolled, taken
    session.add(application)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent application of the same resident won; all is rolled back
        raise AlreadyApplied("you have already applied to this class") from error
    await learning_audit.record(
        session,
        "applied" if application.state == ApplicationState.applied else "enrolled",
        class_id=class_id,
        now=now,
        actor_user_id=acting.actor_user_id,
        channel=acting.channel,
        application_id=application.id,
        resident_id=resident.user_id,
        detail={"tier": application.tier},
    )
    return await _public(session, application, resident.public_id)


async def _check_not_applied(session: AsyncSession, class_id: int, resident_id: int) -> None:
    existing = await session.scalar(
        select(Application.id).where(
            Application.class_id == class_id, Application.resident_id == resident_id, Application.state.in_(HOLDING)
        )
    )
    if existing is not None:
        raise AlreadyApplied("you have already applied to this class")


async def _live_application(session: AsyncSession, class_id: int, resident_id: int) -> Application:
    application = await session.scalar(
        select(Application)
        .where(Application.class_id == class_id, Application.resident_id == resident_id)
        .where(Application.state.in_(HOLDING))
        .with_for_update()
    )
    if application is None:
        raise NotFound("application to class", class_id)
    return application


async def withdraw(
    session: AsyncSession, actor: Actor, class_id: int, resident_public_id: str | None, *, now: datetime
) -> ApplicationPublic:
    """Withdraw an application or give up a seat; a seat given up goes to the waitlist's next."""
    offer = await get_or_404(session, CommunityClass, class_id)
    acting = await residents.acting_for(
        session,
        actor,
        resident_public_id,
        counter=resident_public_id is not None and await _class_staff(session, actor, offer),
    )
    application = await _live_application(session, class_id, acting.resident.user_id)
    held_seat = application.state == ApplicationState.enrolled
    application.state, application.updated_at = ApplicationState.withdrawn, now
    await session.flush()
    await learning_audit.record(
        session,
        "withdrawn",
        class_id=class_id,
        now=now,
        actor_user_id=acting.actor_user_id,
        channel=acting.channel,
        application_id=application.id,
        resident_id=application.resident_id,
    )
    if held_seat:
        await session.execute(
            update(EnrolmentPolicy)
            .where(EnrolmentPolicy.class_id == class_id)
            .values(enrolled=EnrolmentPolicy.enrolled - 1)
        )
        await promote(session, offer, now=now)
    return await _public(session, application, acting.resident.public_id)


async def promote(session: AsyncSession, offer: CommunityClass, *, now: datetime) -> Application | None:
    """Give a free seat to the first waitlisted resident not at their term limit; recorded, with an
    outbox message to tell them. Each step is conditional, so concurrent promotions never over-fill."""
    policy = await session.get(EnrolmentPolicy, offer.id, populate_existing=True)
    waiting = await session.scalars(
        select(Application)
        .where(Application.class_id == offer.id, Application.state == ApplicationState.waitlisted)
        .order_by(Application.rank)
    )
    for candidate in waiting.all():
        held = (await held_seats(session, [candidate.resident_id], offer.term_start)).get(candidate.resident_id, 0)
        if held >= policy.term_limit:
            continue
        seat = await session.execute(
            SEAT.where(EnrolmentPolicy.class_id == offer.id).values(enrolled=EnrolmentPolicy.enrolled + 1)
        )
        if seat.rowcount == 0:
            return None  # the class is full again
        moved = await session.execute(
            update(Application)
            .where(Application.id == candidate.id, Application.state == ApplicationState.waitlisted)
            .values(state=ApplicationState.enrolled, updated_at=now)
        )
        if moved.rowcount == 0:  # someone else promoted or withdrew them meanwhile: give the seat back
            await session.execute(
                update(EnrolmentPolicy)
                .where(EnrolmentPolicy.class_id == offer.id)
                .values(enrolled=EnrolmentPolicy.enrolled - 1)
            )
            continue
        await learning_audit.record(
            session,
            "promoted",
            class_id=offer.id,
            now=now,
            application_id=candidate.id,
            resident_id=candidate.resident_id,
            detail={"rank": candidate.rank},
            topic="enrolment.promoted",
        )
        return candidate
    return None


# ---- reading applications ---------------------------------------------------------------------------


async def _waitlist_position(session: AsyncSession, application: Application) -> int | None:
    if application.state != ApplicationState.waitlisted:
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            Application.class_id == application.class_id,
            Application.state == ApplicationState.waitlisted,
            Application.rank < application.rank,
        )
    )
    return ahead + 1


async def _public(session: AsyncSession, application: Application, resident_public_id: str) -> ApplicationPublic:
    return ApplicationPublic(
        id=application.public_id,
        class_id=application.class_id,
        resident_id=resident_public_id,
        term_start=application.term_start,
        state=application.state,
        tier=application.tier,
        rank=application.rank,
        waitlist_position=await _waitlist_position(session, application),
        channel=application.channel,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


async def application_of(
    session: AsyncSession, actor: Actor, class_id: int, resident_public_id: str | None
) -> ApplicationPublic:
    """The resident's latest application to the class (the caller's own, or one they act for)."""
    offer = await get_or_404(session, CommunityClass, class_id)
    acting = await residents.acting_for(
        session,
        actor,
        resident_public_id,
        counter=resident_public_id is not None and await _class_staff(session, actor, offer),
    )
    application = await session.scalar(
        select(Application)
        .where(Application.class_id == class_id, Application.resident_id == acting.resident.user_id)
        .order_by(Application.id.desc())
        .limit(1)
    )
    if application is None:
        raise NotFound("application to class", class_id)
    return await _public(session, application, acting.resident.public_id)


async def my_applications(session: AsyncSession, actor: Actor) -> list[ApplicationPublic]:
    resident = await residents.own_profile(session, actor)
    found = await session.scalars(
        select(Application).where(Application.resident_id == resident.user_id).order_by(Application.id)
    )
    return [await _public(session, application, resident.public_id) for application in found]


async def roster(session: AsyncSession, actor: Actor, class_id: int) -> list[RosterEntry]:
    """Every application to a class, with names, for its staff."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await _class_staff(session, actor, offer), "see this class's applications")
    rows = await session.execute(
        select(Application, Resident.public_id, Resident.display_name)
        .join(Resident, Resident.user_id == Application.resident_id)
        .where(Application.class_id == class_id)
        .order_by(Application.rank.is_(None), Application.rank, Application.id)
    )
    waitlisted = 0
    entries = []
    for application, public_id, name in rows:
        position = None
        if application.state == ApplicationState.waitlisted:
            waitlisted += 1
            position = waitlisted
        entries.append(
            RosterEntry(
                **(await _public(session, application, public_id)).model_dump(exclude={"waitlist_position"}),
                waitlist_position=position,
                display_name=name,
            )
        )
    return entries


# ---- the draw ---------------------------------------------------------------------------------------


async def draw(session: AsyncSession, class_id: int, *, now: datetime, actor: Actor | None = None) -> DrawPublic:
    """Draw a lottery class whose window has closed. Once only: a drawn class is never re-drawn."""
    policy = await session.get(EnrolmentPolicy, class_id, with_for_update=True, populate_existing=True)
    if policy is None:
        raise NotFound("enrolment policy of class", class_id)
    if policy.mode != EnrolmentMode.lottery:
        raise InvalidStateTransition("a first-come class has no draw", state=policy.mode)
    if policy.drawn_at is not None:
        raise InvalidStateTransition("this class was drawn already; a draw is never repeated", state="drawn")
    if now < policy.closes_at:
        raise InvalidStateTransition(f"the window closes at {policy.closes_at.isoformat()}", state="open")
    return _draw_public(policy, (await _draw_all(session, [policy], now=now, actor=actor))[0])


async def _draw_all(
    session: AsyncSession, policies: list[EnrolmentPolicy], *, now: datetime, actor: Actor | None
) -> list[dict]:
    """Draw these classes in this order, in a few statements however many they are: the seats each
    draw gives count towards the term limits the later ones apply."""
    class_ids = [policy.class_id for policy in policies]
    terms = dict(
        (
            await session.execute(
                select(CommunityClass.id, CommunityClass.term_start).where(CommunityClass.id.in_(class_ids))
            )
        ).all()
    )
    waiting = select(Application.resident_id).where(
        Application.class_id.in_(class_ids), Application.state == ApplicationState.applied
    )
    applied: dict[int, list[lottery.Entry]] = {class_id: [] for class_id in class_ids}
    for class_id, public_id, tier, resident in await session.execute(
        select(Application.class_id, Application.public_id, Application.tier, Application.resident_id).where(
            Application.class_id.in_(class_ids), Application.state == ApplicationState.applied
        )
    ):
        applied[class_id].append(lottery.Entry(public_id, tier, resident))
    held: dict[tuple[int, date], int] = {
        (resident, term): count
        for resident, term, count in await session.execute(
            select(Application.resident_id, Application.term_start, func.count())
            .where(Application.resident_id.in_(waiting), Application.state == ApplicationState.enrolled)
            .group_by(Application.resident_id, Application.term_start)
        )
    }
    changes, events, published = [], [], []  # published: each class's draw as the audit trail keeps it
    for policy in policies:
        term, entries = terms[policy.class_id], applied[policy.class_id]
        owners = {entry.public_id: entry.resident for entry in entries}
        limit = policy.term_limit

        def at_limit(entry: lottery.Entry, term: date = term, limit: int = limit) -> bool:
            return held.get((entry.resident, term), 0) >= limit

        ranked = lottery.draw(policy.seed, entries, policy.seats, at_limit)
        for item in ranked:
            seat = item.outcome == lottery.Outcome.seat
            if seat:
                held[owners[item.public_id], term] = held.get((owners[item.public_id], term), 0) + 1
            state = ApplicationState.enrolled if seat else ApplicationState.waitlisted
            changes.append((item.public_id, state.value, item.rank))
        given = sum(item.outcome == lottery.Outcome.seat for item in ranked)
        policy.enrolled, policy.drawn_at, policy.updated_at = given, now, now
        detail = {
            "algorithm": lottery.ALGORITHM,
            "seats": policy.seats,
            "tiers": policy.tiers,
            "ranked": [[item.rank, item.public_id, item.tier, item.outcome.value] for item in ranked],
        }
        actor_id = actor.user_id if actor is not None else None
        events += [
            learning_audit.event("drawn", class_id=policy.class_id, now=now, actor_user_id=actor_id, detail=detail),
            learning_audit.event(
                "draw_published",
                class_id=policy.class_id,
                now=now,
                detail={"enrolled": given, "waitlisted": len(ranked) - given},
                topic="enrolment.drawn",
            ),
        ]
        published.append(detail)
    await _set_ranks(session, changes, now=now)
    await session.flush()
    await learning_audit.record_all(session, events)
    return published


# PostgreSQL takes a draw's ranks as three arrays in one statement; SQLite, in-process, as one
# prepared statement run per row.
_RANKS_FROM_ARRAYS = text(
    "UPDATE applications SET state = drawn.state, rank = drawn.rank, updated_at = :now"
    " FROM unnest(CAST(:public_ids AS text[]), CAST(:states AS text[]), CAST(:ranks AS integer[]))"
    " AS drawn (public_id, state, rank) WHERE applications.public_id = drawn.public_id"
)


async def _set_ranks(session: AsyncSession, changes: list[tuple[str, str, int]], *, now: datetime) -> None:
    """Each drawn application's state and rank, without a round trip per row."""
    if not changes:
        return
    if session.bind.dialect.name == "postgresql":
        public_ids, states, ranks = (list(column) for column in zip(*changes, strict=True))
        params = {"public_ids": public_ids, "states": states, "ranks": ranks, "now": now}
        await session.execute(_RANKS_FROM_ARRAYS, params)
        return
    table = Application.__table__
    await session.execute(
        update(table)
        .where(table.c.public_id == bindparam("b_public_id"))
        .values(state=bindparam("b_state"), rank=bindparam("b_rank"), updated_at=now),
        [{"b_public_id": p, "b_state": state, "b_rank": rank} for p, state, rank in changes],
    )


def _draw_public(policy: EnrolmentPolicy, detail: dict | None) -> DrawPublic:
    ranked = detail["ranked"] if detail else []
    return DrawPublic(
        class_id=policy.class_id,
        algorithm=lottery.ALGORITHM,
        seed_commitment=policy.seed_commitment,
        seed=policy.seed if policy.drawn_at is not None else None,
        drawn_at=policy.drawn_at,
        seats=detail["seats"] if detail else policy.seats,
        tiers=detail["tiers"] if detail else policy.tiers,
        ranked=[DrawEntry(rank=r, application=p, tier=t, outcome=o) for r, p, t, o in ranked],
    )


async def published_draw(session: AsyncSession, class_id: int) -> DrawPublic:
    """The draw as published: commitment before it; seed and ranked list (no names) after."""
    policy = await session.get(EnrolmentPolicy, class_id)
    if policy is None or policy.mode != EnrolmentMode.lottery:
        raise NotFound("lottery of class", class_id)
    detail = await session.scalar(
        select(LearningEvent.detail).where(LearningEvent.class_id == class_id, LearningEvent.kind == "drawn")
    )
    return _draw_public(policy, detail)


def published_problems(draw: DrawPublic) -> list[str]:
    """What is wrong with a published draw, re-computed from its seed (empty: it is right)."""
    if draw.seed is None:
        return ["the class has not been drawn yet"]
    ranked = [
        lottery.Ranked(item.rank, item.application, item.tier, lottery.Outcome(item.outcome)) for item in draw.ranked
    ]
    return lottery.verify(draw.seed, draw.seed_commitment, ranked, draw.seats)


async def verify_draw(session: AsyncSession, class_id: int) -> tuple[DrawPublic, list[str]]:
    """The published draw re-computed, and checked against the applications as stored: the same
    applications, with the ranks the draw gave them."""
    draw = await published_draw(session, class_id)
    problems = published_problems(draw)
    stored = dict(
        (
            await session.execute(
                select(Application.public_id, Application.rank).where(
                    Application.class_id == class_id, Application.rank.is_not(None)
                )
            )
        ).all()
    )
    if stored != {item.application: item.rank for item in draw.ranked}:
        problems.append("the applications' stored ranks differ from the published draw")
    return draw, problems


async def due_draws(session: AsyncSession, *, now: datetime) -> list[int]:
    """Lottery classes whose window has closed undrawn, in the order they are drawn: by closing time,
    then class id (so a resident's term limit counts seats from earlier draws)."""
    return list(
        await session.scalars(
            select(EnrolmentPolicy.class_id)
            .where(
                EnrolmentPolicy.mode == EnrolmentMode.lottery,
                EnrolmentPolicy.drawn_at.is_(None),
                EnrolmentPolicy.outcome.is_(None),
                EnrolmentPolicy.closes_at <= now,
            )
            .order_by(EnrolmentPolicy.closes_at, EnrolmentPolicy.class_id)
        )
    )


async def draw_due(session: AsyncSession, *, now: datetime) -> list[int]:
    """Draw every due class in one transaction, in order; the ids drawn. Their policy rows are
    locked first, so a class another process is drawing meanwhile is drawn once."""
    due = await due_draws(session, now=now)
    if not due:
        return []
    locked = await session.scalars(
        select(EnrolmentPolicy)
        .where(EnrolmentPolicy.class_id.in_(due), EnrolmentPolicy.drawn_at.is_(None))
        .order_by(EnrolmentPolicy.closes_at, EnrolmentPolicy.class_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    policies = list(locked)
    await _draw_all(session, policies, now=now, actor=None)
    return [policy.class_id for policy in policies]


async def staff_draw(session: AsyncSession, actor: Actor, class_id: int, *, now: datetime) -> DrawPublic:
    """Staff need not wait for the sweep once the window has closed."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await _class_staff(session, actor, offer), "draw this class")
    return await draw(session, class_id, now=now, actor=actor)


# ---- classes below their minimum --------------------------------------------------------------------


async def decide(
    session: AsyncSession, actor: Actor, class_id: int, decision: Outcome, *, now: datetime
) -> PolicyPublic:
    """Keep or cancel a class that ended its enrolment below ``min_learners``. Cancelling cancels its
    booking series (freeing the spaces) and every live application, and tells the residents."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await _class_staff(session, actor, offer), "decide this class's future")
    policy = await session.get(EnrolmentPolicy, class_id, with_for_update=True, populate_existing=True)
    if policy is None or not describe(policy, now).below_minimum:
        raise InvalidStateTransition("only a class whose enrolment ended below its minimum is decided", state="open")
    policy.outcome, policy.updated_at = decision, now
    if decision == Outcome.cancelled:
        await _cancel_class(session, actor, offer, policy, now=now)
    await session.flush()
    await learning_audit.record(
        session, f"class_{decision.value}", class_id=class_id, now=now, actor_user_id=actor.user_id
    )
    return describe(policy, now)


async def _cancel_class(
    session: AsyncSession, actor: Actor, offer: CommunityClass, policy: EnrolmentPolicy, *, now: datetime
) -> None:
    series = await session.scalars(
        select(Booking.id)
        .join(ClassBooking, ClassBooking.booking_id == Booking.id)
        .where(ClassBooking.class_id == offer.id, Booking.state.in_(LIVE_BOOKINGS))
    )
    for booking_id in series.all():
        try:
            await bookings.cancel_booking(session, actor, booking_id, now=now)
        except InvalidStateTransition:  # every session of it is over already
            continue
    told = (
        await session.execute(
            select(Application.id, Application.resident_id).where(
                Application.class_id == offer.id, Application.state.in_(HOLDING)
            )
        )
    ).all()
    await session.execute(
        update(Application)
        .where(Application.class_id == offer.id, Application.state.in_(HOLDING))
        .values(state=ApplicationState.cancelled, updated_at=now)
    )
    policy.enrolled = 0
    for application_id, resident_id in told:
        await learning_audit.record(
            session,
            "cancelled",
            class_id=offer.id,
            now=now,
            actor_user_id=actor.user_id,
            application_id=application_id,
            resident_id=resident_id,
            topic="enrolment.cancelled",
        )
