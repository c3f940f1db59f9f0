"""What the operator's endpoints read: whether the database is there with the schema this code
expects, and how much work is waiting (outbox messages, webhook deliveries, mails, solver runs, jobs)."""

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.migrate import alembic_config
from booking.models import Allocation, MailDelivery, OutboxMessage, WebhookDelivery
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
    deliveries_pending: int = 0  # webhook deliveries waiting for their turn or next attempt
    deliveries_dead: int = 0
    mails_pending: int = 0  # mails to people waiting for their turn or next attempt
    mails_dead: int = 0
    jobs_waiting: int = 0  # the job queue (PostgreSQL): due and not yet started
    jobs_running: int = 0
    job_wait_s: float = 0.0  # how long the longest-waiting due job has waited; 0 when none


# Due jobs, running jobs, and since when the longest-waiting due job could have started (its
# scheduled time, else when it was deferred or last made due again).
_JOBS = text(
    """
    SELECT count(*) FILTER (WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
           count(*) FILTER (WHERE j.status = 'doing'),
           min(COALESCE(j.scheduled_at, e.due_at)) FILTER (WHERE j.status = 'todo'
                                                          AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
           now()
    FROM procrastinate_jobs j
    LEFT JOIN LATERAL (SELECT max(at) AS due_at FROM procrastinate_events
                       WHERE job_id = j.id AND type IN ('deferred', 'deferred_for_retry')) e ON true
    WHERE j.status IN ('todo', 'doing')
    """
)


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
    lag = (now - oldest).total_seconds() if oldest is not None else 0.0
    states = dict(
        (await session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state))).all()
    )
    mails = dict((await session.execute(select(MailDelivery.state, func.count()).group_by(MailDelivery.state))).all())
    backlog = Backlog(
        pending,
        lag,
        waiting or 0,
        states.get("pending", 0),
        states.get("dead", 0),
        mails.get("pending", 0),
        mails.get("dead", 0),
    )
    if session.bind.dialect.name != "postgresql":  # no job queue: work runs in the server process
        return backlog
    due, running, since, db_now = (await session.execute(_JOBS)).one()
    wait = (db_now - since).total_seconds() if since else 0.0
    return replace(backlog, jobs_waiting=due, jobs_running=running, job_wait_s=wait)
