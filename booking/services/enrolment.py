"""Enrolment: residents' applications, seats, withdrawals and the waitlist.

Seats are a database guarantee: ``enrolment_policies.enrolled`` counts confirmed seats, a CHECK
keeps it within ``seats``, and every seat is taken by a conditional UPDATE (``enrolled < seats``)
in the transaction that enrols, so concurrent applications, withdrawals and promotions can never
oversell a class on either database. One live application per resident and class is a partial
unique index. The lottery draw is in ``draws``, the policies in ``enrolment_policies``.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import (
    AlreadyApplied,
    ClassFull,
    EnrolmentClosed,
    NotEligible,
    NotFound,
    TermLimitReached,
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
from booking.rules.permissions import Actor
from booking.schemas.enrolment import (
    ApplicationPublic,
    RosterEntry,
)
from booking.services import learning_audit, residents
from booking.services.common import get_or_404
from booking.services.enrolment_policies import class_staff
from booking.services.guards import allow

# A resident may have this many live applications per term, whatever the classes' limits on seats.
MAX_APPLICATIONS_PER_TERM = 12
SEAT = update(EnrolmentPolicy).where(EnrolmentPolicy.enrolled < EnrolmentPolicy.seats)


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
    acting = await _acting(session, actor, offer, resident_public_id)
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


async def _acting(
    session: AsyncSession, actor: Actor, offer: CommunityClass, resident_public_id: str | None
) -> residents.Acting:
    """Who a request about ``offer`` acts for; the class's staff may act at the counter."""
    counter = resident_public_id is not None and await class_staff(session, actor, offer)
    return await residents.acting_for(session, actor, resident_public_id, counter=counter)


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
