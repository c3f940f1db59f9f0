"""Recording what happens to bookings: one audit row for people and one outbox message for
machines, written in the transaction that makes the change, so neither can miss or invent one."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Booking, BookingEvent, EventKind, OutboxMessage
from booking.rules.permissions import Actor
from booking.schemas.bookings import BookingEventPublic
from booking.services.common import PageRequest, page_of

_AUDIT = insert(BookingEvent.__table__)
_OUTBOX = insert(OutboxMessage.__table__)
# Events worth telling the world about; check-ins and title edits stay in the audit trail.
PUBLISHED = frozenset(
    {
        EventKind.requested,
        EventKind.confirmed,
        EventKind.rejected,
        EventKind.cancelled,
        EventKind.released,
        EventKind.moved,
        EventKind.added,
    }
)


def rows_for(
    booking: Booking,
    kind: EventKind,
    *,
    actor: Actor | None,
    now: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str = "",
    occurrence_ids: Sequence[int] = (),
) -> tuple[dict, dict | None]:
    """The audit row of one change, and its outbox message (None for a change nobody is told of)."""
    event = {
        "booking_id": booking.id,
        "kind": kind.value,
        "occurrence_ids": list(occurrence_ids),
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "actor_user_id": actor.user_id if actor is not None else None,
        "at": now,
    }
    if kind not in PUBLISHED:
        return event, None
    payload = {
        **event,
        "at": now.isoformat(),
        "organisation_id": booking.organisation_id,
        "space_id": booking.space_id,
        "title": booking.title,
    }
    return event, {"topic": f"booking.{kind.value}", "booking_id": booking.id, "payload": payload, "created_at": now}


async def record(session: AsyncSession, booking: Booking, kind: EventKind, **change) -> None:
    """Record one change of a booking, or of some of its occurrences (``occurrence_ids``): keywords
    as ``rows_for``. ``actor`` None is the system itself (the no-show sweep, a competing approval)."""
    event, message = rows_for(booking, kind, **change)
    await session.execute(_AUDIT, event)
    if message is not None:
        await session.execute(_OUTBOX, message)


async def history(session: AsyncSession, booking_id: int, page: PageRequest) -> tuple[list[BookingEventPublic], int]:
    stmt = select(BookingEvent).where(BookingEvent.booking_id == booking_id).order_by(BookingEvent.id)
    events, total = await page_of(session, stmt, page)
    return [BookingEventPublic.model_validate(event) for event in events], total
