"""Enrolment: residents' applications, seats, withdrawals and the waitlist.

Seats are a database guarantee: ``enrolment_policies.enrolled`` counts confirmed seats, a CHECK
keeps it within ``seats``, and every seat is taken by a conditional UPDATE (``enrolled < seats``)
in the transaction that enrols, so concurrent applications, withdrawals and promotions can never
oversell a class on either database. One live application per resident and class is a partial
unique index. The lottery draw is in ``draws``, the policies in ``enrolment_policies``.
"""

import uuid
from datetime import date, datetime

import asyncpg
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.errors import (
    AlreadyApplied,
    ClassFull,
    NotFound,
)
from booking.models import (
    HOLDING,
    Application,
    ApplicationState,
    CommunityClass,
    EnrolmentMode,
    EnrolmentPolicy,
    Region,
    Resident,
    Tier,
)
from booking.rules.applications import check_eligible, check_not_applied, check_open, check_term_limit
from booking.rules.permissions import ANONYMOUS, Actor
from booking.schemas.enrolment import (
    ApplicationPublic,
    RosterEntry,
)
from booking.services import learning_audit, residents
from booking.services.accounts import actor_for_token
from booking.services.common import get_or_404
from booking.services.enrolment_policies import class_staff
from booking.services.guards import allow, require_signed_in
from booking.services.postgres_enrolment import apply_first_come

SEAT = update(EnrolmentPolicy).where(EnrolmentPolicy.enrolled < EnrolmentPolicy.seats)


# ---- applying and withdrawing -----------------------------------------------------------------------


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


async def _term_counts(session: AsyncSession, resident_id: int, term: date) -> tuple[int, int]:
    """The resident's seats and live applications in the term."""
    held, live = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((Application.state == ApplicationState.enrolled, 1), else_=0)), 0),
                func.count(),
            ).where(
                Application.resident_id == resident_id,
                Application.term_start == term,
                Application.state.in_(HOLDING),
            )
        )
    ).one()
    return held, live


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
    acting = await _acting(session, actor, offer, resident_public_id)
    resident = acting.resident
    policy = await session.get(EnrolmentPolicy, class_id)
    check_open(policy, now)
    check_not_applied(await _has_applied(session, class_id, resident.user_id))
    check_eligible(policy, resident.birth_year, offer.term_start)
    check_term_limit(policy, *await _term_counts(session, resident.user_id, offer.term_start))
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


async def apply_with_token(
    writes: async_sessionmaker[AsyncSession],
    driver_pool: asyncpg.Pool | None,
    token: str | None,
    class_id: int,
    resident_public_id: str | None,
    *,
    now: datetime,
) -> ApplicationPublic:
    """The API's application, for the bearer ``token`` (None: anonymous, 401).

    On PostgreSQL (``driver_pool`` given) a resident's own application to a first-come class takes
    the two-round-trip path; everything else (an agent or the counter applying, a lottery class)
    runs in one transaction.
    """
    if token is None:
        require_signed_in(ANONYMOUS)
    if driver_pool is not None and resident_public_id is None:
        async with driver_pool.acquire() as driver:
            applied = await apply_first_come(driver, token, class_id, now=now)
        if applied is not None:
            return applied
    async with writes() as session, session.begin():
        actor = await actor_for_token(session, token, now=now)
        return await apply(session, actor, class_id, resident_public_id, now=now)


async def _acting(
    session: AsyncSession, actor: Actor, offer: CommunityClass, resident_public_id: str | None
) -> residents.Acting:
    """Who a request about ``offer`` acts for; the class's staff may act at the counter."""
    counter = resident_public_id is not None and await class_staff(session, actor, offer)
    return await residents.acting_for(session, actor, resident_public_id, counter=counter)


async def _has_applied(session: AsyncSession, class_id: int, resident_id: int) -> bool:
    found = await session.scalar(
        select(Application.id).where(
            Application.class_id == class_id, Application.resident_id == resident_id, Application.state.in_(HOLDING)
        )
    )
    return found is not None


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
    acting = await _acting(session, actor, offer, resident_public_id)
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
    return ApplicationPublic.of(application, resident_public_id, await _waitlist_position(session, application))


async def application_of(
    session: AsyncSession, actor: Actor, class_id: int, resident_public_id: str | None
) -> ApplicationPublic:
    """The resident's latest application to the class (the caller's own, or one they act for)."""
    offer = await get_or_404(session, CommunityClass, class_id)
    acting = await _acting(session, actor, offer, resident_public_id)
    application = await session.scalar(
        select(Application)
        .where(Application.class_id == class_id, Application.resident_id == acting.resident.user_id)
        .order_by(Application.id.desc())
        .limit(1)
    )
    if application is None:
        raise NotFound("application to class", class_id)
    return await _public(session, application, acting.resident.public_id)


async def my_applications(
    session: AsyncSession, actor: Actor, resident_public_id: str | None = None
) -> list[ApplicationPublic]:
    """The resident's applications (the caller's own, or of one they act for)."""
    resident = await residents.resident_for(session, actor, resident_public_id)
    found = (
        await session.execute(
            select(Application, CommunityClass.title)
            .join(CommunityClass, CommunityClass.id == Application.class_id)
            .where(Application.resident_id == resident.user_id)
            .order_by(Application.id)
        )
    ).all()
    listed = []
    for application, title in found:
        listed.append(await _public(session, application, resident.public_id))
        listed[-1].class_title = title
    return listed


async def roster(session: AsyncSession, actor: Actor, class_id: int) -> list[RosterEntry]:
    """Every application to a class, with names, for its staff."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await class_staff(session, actor, offer), "see this class's applications")
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
