"""The outbox's readers: new messages taken in the order they were written, and the schedule
every delivery made of them (a webhook, a mail) is retried on: ``FIRST_RETRY_S`` doubling up to
``MAX_RETRY_S`` apart, for ``GIVE_UP_AFTER``; then it is dead, kept with its last error."""

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from booking.models import DeliveryState, OutboxMessage

FIRST_RETRY_S = 5
MAX_RETRY_S = 3600
GIVE_UP_AFTER = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # a delivery being sent is hidden this long from other senders
BATCH = 500


async def take_new(session: AsyncSession, *, now: datetime) -> list[OutboxMessage]:
    """The oldest messages not handed over yet (at most ``BATCH``), marked handed over: the caller
    turns them into deliveries in the same transaction."""
    messages = list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if messages:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in messages])).values(delivered_at=now)
        )
    return messages


def retry_in(attempts: int) -> timedelta:
    """After the ``attempts``-th failed attempt: 5 s, 10 s, 20 s… at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** (attempts - 1), MAX_RETRY_S))


def due(model, order: str, *same: str, now: datetime):
    """A condition on ``model`` (a delivery table): pending, its next attempt come, and its turn:
    no earlier row (by ``order``) with the same ``same`` columns is still pending."""
    earlier = aliased(model)
    waiting_behind = exists().where(
        and_(
            *(getattr(earlier, column) == getattr(model, column) for column in same),
            getattr(earlier, order) < getattr(model, order),
            earlier.state == DeliveryState.pending,
        )
    )
    return and_(model.state == DeliveryState.pending, model.next_attempt_at <= now, ~waiting_behind)


async def lease(session: AsyncSession, model, ids: list[int], *, now: datetime) -> None:
    """Hide the rows being sent from other senders for ``LEASE`` (a sender that dies gives them back)."""
    if ids:
        await session.execute(update(model).where(model.id.in_(ids)).values(next_attempt_at=now + LEASE))


def after_failure(attempts: int, created_at: datetime, *, now: datetime, error: str, permanent: bool = False) -> dict:
    """The new state of a delivery whose ``attempts``-th attempt failed: pending until its next
    attempt, or dead once past ``GIVE_UP_AFTER`` (at once if ``permanent``)."""
    next_at = now + retry_in(attempts)
    gone = permanent or next_at > created_at + GIVE_UP_AFTER
    return {
        "state": DeliveryState.dead if gone else DeliveryState.pending,
        "next_attempt_at": next_at,
        "last_error": error[:500],
    }
