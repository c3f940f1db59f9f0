"""What the operator's endpoints read: whether the database is there with the schema this code
expects, and how much work is waiting (undelivered outbox messages, queued solver runs)."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.migrate import alembic_config
from booking.models import Allocation, OutboxMessage
from booking.models.teaching import AllocationStatus


@cache
def head_revision() -> str:
    """The newest migration this code ships (read from the migrations once per process)."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None, "the migrations have no head"
    return head


async def schema_revision(session: AsyncSession) -> str | None:
    """The migration the database is at; None before the first one ran. Raises the driver's
    error when the database cannot be reached at all."""
    await session.execute(text("SELECT 1"))
    try:
        async with session.begin_nested():
            return await session.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:  # no alembic_version table: nothing was migrated yet
        return None


@dataclass(frozen=True, slots=True)
class Backlog:
    outbox_pending: int
    outbox_lag_s: float  # age of the oldest undelivered message; 0 when none waits
    allocations_waiting: int


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.delivered_at.is_(None))
        )
    ).one()
    waiting = await session.scalar(
        select(func.count())
        .select_from(Allocation)
        .where(Allocation.status.in_([AllocationStatus.queued, AllocationStatus.running]))
    )
    return Backlog(pending, (now - oldest).total_seconds() if oldest is not None else 0.0, waiting or 0)
