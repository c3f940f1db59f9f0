"""Enrolment policies: how a class gives out its seats, and what becomes of a class that ended its
enrolment below its minimum of learners."""

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, InvalidStateTransition, NotFound
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
    Outcome,
    Space,
)
from booking.rules import lottery
from booking.rules.permissions import Actor, manages_organisation
from booking.schemas.enrolment import PolicyPublic, PolicyWrite
from booking.services import bookings, learning_audit
from booking.services.common import get_or_404
from booking.services.guards import allow, organisation_region

LIVE_BOOKINGS = (BookingState.pending.value, BookingState.confirmed.value)


async def class_staff(session: AsyncSession, actor: Actor, offer: CommunityClass) -> bool:
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
    allow(actor, await class_staff(session, actor, offer), "set this class's enrolment")
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
        if data.closes_at < policy.closes_at:  # residents planned on it: an open window only grows
            raise InvalidStateTransition("an open window may be extended, not cut short", state="open")
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


# ---- classes below their minimum --------------------------------------------------------------------


async def decide(
    session: AsyncSession, actor: Actor, class_id: int, decision: Outcome, *, now: datetime
) -> PolicyPublic:
    """Keep or cancel a class that ended its enrolment below ``min_learners``. Cancelling cancels its
    booking series (freeing the spaces) and every live application, and tells the residents."""
    offer = await get_or_404(session, CommunityClass, class_id)
    allow(actor, await class_staff(session, actor, offer), "decide this class's future")
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
