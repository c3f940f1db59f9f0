"""Recording what happens in residents' learning: one audit row, and an outbox message when
someone must be told, written in the transaction that makes the change."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import LearningEvent, OutboxMessage

_AUDIT = insert(LearningEvent.__table__)
_OUTBOX = insert(OutboxMessage.__table__)


async def record(
    session: AsyncSession,
    kind: str,
    *,
    class_id: int,
    now: datetime,
    actor_user_id: int | None = None,
    channel: str | None = None,
    application_id: int | None = None,
    resident_id: int | None = None,
    occurrence_id: int | None = None,
    detail: dict[str, Any] | None = None,
    topic: str | None = None,
) -> None:
    """One audit row; with ``topic`` (e.g. ``enrolment.promoted``) also an outbox message."""
    event = {
        "kind": kind,
        "class_id": class_id,
        "application_id": application_id,
        "resident_id": resident_id,
        "occurrence_id": occurrence_id,
        "actor_user_id": actor_user_id,
        "channel": channel,
        "detail": detail or {},
        "at": now,
    }
    await session.execute(_AUDIT, event)
    if topic is not None:
        payload = {**event, "at": now.isoformat()}
        await session.execute(
            _OUTBOX, {"topic": topic, "booking_id": None, "class_id": class_id, "payload": payload, "created_at": now}
        )
