"""The operator's endpoints, outside the versioned API: liveness, readiness and metrics."""

import logging

from litestar import Request, Response, get
from sqlalchemy.exc import DBAPIError

from booking.api.problems import problem
from booking.observability import (
    ALLOCATIONS_WAITING,
    JOB_WAIT,
    JOBS,
    MAILS,
    OUTBOX_LAG,
    OUTBOX_PENDING,
    WEBHOOK_DELIVERIES,
    render_metrics,
)
from booking.services import operations

log = logging.getLogger("venueshare")


@get("/health", tags=["operations"])
async def health() -> dict[str, str]:
    """The process is alive (it reads nothing)."""
    return {"status": "ok"}


@get("/ready", tags=["operations"])
async def ready(request: Request) -> Response:
    """The database answers and its schema is the one this code expects (503 otherwise)."""
    try:
        async with request.app.state.read_sessions() as session:
            revision = await operations.schema_revision(session)
    except (OSError, DBAPIError) as error:
        log.warning("not ready: the database cannot be reached: %s", error)
        return problem(503, "database_unavailable", "Database unavailable", "the database cannot be reached")
    if revision != operations.head_revision():
        detail = f"the schema is at {revision or 'nothing'}, this code needs {operations.head_revision()}: migrate"
        return problem(503, "schema_outdated", "Schema not up to date", detail)
    return Response({"status": "ready", "schema": revision})


@get("/metrics", tags=["operations"], media_type="text/plain; version=0.0.4; charset=utf-8")
async def metrics(request: Request) -> bytes:
    """Prometheus metrics of every worker; the backlog gauges are read from the database now."""
    state = request.app.state
    async with state.read_sessions() as session:
        waiting = await operations.backlog(session, state.clock())
    OUTBOX_PENDING.set(waiting.outbox_pending)
    OUTBOX_LAG.set(waiting.outbox_lag_s)
    ALLOCATIONS_WAITING.set(waiting.allocations_waiting)
    WEBHOOK_DELIVERIES.labels("pending").set(waiting.deliveries_pending)
    WEBHOOK_DELIVERIES.labels("dead").set(waiting.deliveries_dead)
    MAILS.labels("pending").set(waiting.mails_pending)
    MAILS.labels("dead").set(waiting.mails_dead)
    JOBS.labels("waiting").set(waiting.jobs_waiting)
    JOBS.labels("running").set(waiting.jobs_running)
    JOB_WAIT.set(waiting.job_wait_s)
    return render_metrics()
