"""The lottery draw: once per class, when its window has closed; published, and verifiable by anyone
who re-computes it from the revealed seed (``rules.lottery``)."""

from datetime import date, datetime

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidStateTransition, NotFound
from booking.models import Application, ApplicationState, CommunityClass, EnrolmentMode, EnrolmentPolicy, LearningEvent
from booking.rules import lottery
from booking.rules.permissions import Actor
from booking.schemas.enrolment import DrawEntry, DrawPublic
from booking.services import learning_audit
from booking.services.common import get_or_404
from booking.services.enrolment_policies import class_staff
from booking.services.guards import allow


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
    allow(actor, await class_staff(session, actor, offer), "draw this class")
    return await draw(session, class_id, now=now, actor=actor)
