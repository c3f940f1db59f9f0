"""Recording what happens in residents' learning: one audit row, and an outbox message when
someone must be told, written in the transaction that makes the change."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import LearningEvent, OutboxMessage

_AUDIT = insert(LearningEvent.__table__)
_OUTBOX = insert(OutboxMessage.__table__)


def event(
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
) -> dict[str, Any]:
    """One audit row; with ``topic`` (e.g. ``enrolment.promoted``) it is also an outbox message."""
    return {
        "kind": kind,
        "class_id": class_id,
        "application_id": application_id,
        "resident_id": resident_id,
        "occurrence_id": occurrence_id,
        "actor_user_id": actor_user_id,
        "channel": channel,
        "detail": detail or {},
        "at": now,
        "topic": topic,
    }


async def record(session: AsyncSession, kind: str, **fields: Any) -> None:
    await record_all(session, [event(kind, **fields)])


async def record_all(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Many events in two statements (audit rows, outbox messages), however many there are."""
    if not events:
        return
    await session.execute(_AUDIT, [{k: v for k, v in e.items() if k != "topic"} for e in events])
    told = [
        {
            "topic": e["topic"],
            "booking_id": None,
            "class_id": e["class_id"],
            "payload": {**{k: v for k, v in e.items() if k != "topic"}, "at": e["at"].isoformat()},
            "created_at": e["at"],
        }
        for e in events
        if e["topic"] is not None
    ]
    if told:
        await session.execute(_OUTBOX, told)
