"""Where background work runs: solver runs, the no-show sweep and due lottery draws, and webhook
deliveries.

- On PostgreSQL it is a job queue (procrastinate; its tables come with migration 0009). A solver
  run is one job; webhook delivery is a periodic job every few seconds; the sweep is a periodic
  job once a minute. Periodic jobs are deferred once per tick whichever workers run. The sweep
  also recovers what dead workers left: a job whose worker stopped sending heartbeats is retried
  (its run queued again) up to ``MAX_SOLVE_ATTEMPTS`` times, then its run fails with the reason,
  and a queued run without a job gets one. ``venueshare worker`` runs a worker; API processes run
  one of their own too unless told not to (``Settings.api_runs_jobs``).
- On SQLite (the embedded default) the same work runs in the API process, as loops that poll.

Either way a running solve looks for a cancel request every tick, so a cancel stops it within a
second wherever it runs, and a stopping process puts its run back in the queue.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.config import Settings
from booking.jobs import AllocationRunner, Deliverer, Interrupted, Sweeper
from booking.services import allocations
from booking.services.mail import Mailer

log = logging.getLogger("venueshare.jobs")

MAX_SOLVE_ATTEMPTS = 3  # a run whose worker died this many times fails, with the reason
HEARTBEAT_S = 5.0  # a worker's heartbeat; one silent for STALLED_AFTER_S is taken as dead
STALLED_AFTER_S = 30.0
SHUTDOWN_GRACE_S = 15.0  # a stopping worker waits this long for its jobs (a solve stops within a tick)
API_JOBS = 2  # jobs an API process works at once (when it works the queue at all)
RESTART_AFTER_S = 2.0  # a worker that failed (the database went away) starts again this much later
SOLVE = "solve_allocation"
KEEP_FINISHED_JOBS_HOURS = 24
SWEEP = "sweep"
DELIVER = "deliver_webhooks"


class Background(Protocol):
    """What the API asks of wherever background work runs."""

    async def start(self) -> None: ...

    def stop(self) -> None:
        """Stop taking work and interrupt running solves (their runs go back to the queue)."""

    async def close(self) -> None: ...

    async def allocation_queued(self, allocation_id: int) -> None:
        """A run was queued (and committed): have it solved."""


@dataclass
class Work:
    """What the jobs need from the process they run in."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    settings: Settings
    stopping: threading.Event = field(default_factory=threading.Event)
    mailer: Mailer | None = field(init=False)

    def __post_init__(self) -> None:
        self.mailer = Mailer.from_settings(self.settings)  # a malformed SMTP URL stops the start, not each round

    def runner(self) -> AllocationRunner:
        return AllocationRunner(
            self.sessions,
            self.clock,
            workers=self.settings.solver_workers,
            memory_mb=self.settings.solver_memory_mb,
            stopping=self.stopping,
        )

    def deliverer(self) -> Deliverer:
        return Deliverer(
            self.sessions,
            self.clock,
            every_s=self.settings.deliver_every_s,
            internal=self.settings.webhooks_to_internal_network,
            mailer=self.mailer,
        )


class InProcess:
    """SQLite: the allocation runner, the sweeper and the deliverer (webhooks, mail) as loops of this process."""

    def __init__(self, work: Work) -> None:
        settings = work.settings
        self.runner = work.runner()
        self.sweeper = Sweeper(work.sessions, work.clock, every_s=settings.sweep_every_s)
        self.deliverer = work.deliverer()
        self.loops = [self.runner]
        self.loops += [self.sweeper] if settings.sweep_every_s > 0 else []
        self.loops += [self.deliverer] if settings.deliver_every_s > 0 else []
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(loop.run_forever()) for loop in self.loops]

    def stop(self) -> None:
        for loop in self.loops:
            loop.stop()

    async def close(self) -> None:
        self.stop()
        for task in self._tasks:
            await task

    async def allocation_queued(self, allocation_id: int) -> None:
        self.runner.wake()


def job_queue(database_url: str, work: Work, *, pool_size: int) -> procrastinate.App:
    """The queue on ``database_url`` (PostgreSQL), with this process's tasks."""
    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=0, max_size=pool_size))

    @app.task(
        name=SOLVE,
        retry=procrastinate.RetryStrategy(max_attempts=MAX_SOLVE_ATTEMPTS, wait=1, retry_exceptions={Interrupted}),
    )
    async def solve_allocation(allocation_id: int) -> None:
        async with work.sessions() as session, session.begin():
            claimed = await allocations.claim(session, allocation_id, now=work.clock())
        if not claimed:  # cancelled before it started, or solved already
            return
        if not await work.runner().run_one(allocation_id, claimed_at=time.monotonic()):
            raise Interrupted  # this worker is stopping: the job is retried, on whichever worker is up

    async def sweep(context: procrastinate.JobContext, timestamp: int) -> None:
        await Sweeper(work.sessions, work.clock).sweep()
        await recover(context.app, work)
        # Finished jobs are kept a while for whoever looks into the queue, then dropped (the
        # periodic ones alone add 18,000 a day).
        await context.app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_JOBS_HOURS)

    async def deliver(timestamp: int) -> None:
        await work.deliverer().deliver()

    if work.settings.sweep_every_s > 0:  # once a minute, across every worker of the queue
        app.periodic(cron="* * * * *", periodic_id=SWEEP)(
            app.task(name=SWEEP, queueing_lock=SWEEP, pass_context=True)(sweep)
        )
    if work.settings.deliver_every_s > 0:  # every few seconds (cron's sixth field), across every worker
        every = min(max(int(work.settings.deliver_every_s), 1), 59)
        # ``lock``: one round at a time across workers, so messages are fanned out and sent in order
        app.periodic(cron=f"* * * * * */{every}", periodic_id=DELIVER)(
            app.task(name=DELIVER, queueing_lock=DELIVER, lock=DELIVER)(deliver)
        )
    return app


async def defer_solve(app: procrastinate.App, allocation_id: int) -> None:
    """A job for a queued run; none if one is already waiting for it."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(SOLVE, queueing_lock=f"allocation-{allocation_id}").defer_async(
            allocation_id=allocation_id
        )


async def recover(app: procrastinate.App, work: Work) -> None:
    """What dead workers left: a solve's job retried (its run queued again) or, past the attempts,
    the run failed with the reason; a periodic round's job closed (the next tick redoes it); and
    every queued run has a job."""
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S):
        if job.task_name != SOLVE:  # a periodic round: closed, the next tick does the same work
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            continue
        allocation_id = int(job.task_kwargs["allocation_id"])
        if job.attempts + 1 >= MAX_SOLVE_ATTEMPTS:
            why = f"the worker solving it stopped {job.attempts + 1} times; start the run again"
            async with work.sessions() as session, session.begin():
                await allocations.abandon(session, allocation_id, why, now=work.clock())
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            log.warning("allocation %s failed: %s", allocation_id, why)
            continue
        async with work.sessions() as session, session.begin():
            await allocations.requeue(session, allocation_id)
        await manager.retry_job(job)
        log.warning("allocation %s: its worker stopped; queued again", allocation_id)
    async with work.sessions() as session, session.begin():
        for allocation_id in await allocations.requeue_stale(session, now=work.clock()):
            log.warning("allocation %s was left running with no job; queued again", allocation_id)
        queued = await allocations.queued_ids(session)
    for allocation_id in queued:
        await defer_solve(app, allocation_id)


class JobQueue:
    """PostgreSQL: the job queue, and (``run_jobs``) a worker of it in this process."""

    def __init__(self, app: procrastinate.App, work: Work, *, run_jobs: bool, concurrency: int = 1) -> None:
        self.app, self.work, self.run_jobs, self.concurrency = app, work, run_jobs, concurrency
        self._worker: asyncio.Task | None = None

    async def start(self) -> None:
        await self.app.open_async()
        if self.run_jobs:
            await self.recover()
            self._worker = asyncio.create_task(self._work_until_stopped())

    @property
    def working(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def until_stopped(self) -> None:
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._worker)

    async def _work_until_stopped(self) -> None:
        """This process's worker, started again after the database went away under it."""
        while not self.work.stopping.is_set():
            try:
                await self.run_worker()
                return
            except Exception:
                log.exception("the job worker stopped; starting it again in %g s", RESTART_AFTER_S)
                await asyncio.sleep(RESTART_AFTER_S)

    async def recover(self) -> None:
        """At a worker's start, what dead workers left (the sweep does it again every minute)."""
        try:
            await recover(self.app, self.work)
        except Exception:  # the database may be down: the sweep tries again
            log.exception("recovering what stopped workers left failed")

    async def run_worker(self) -> None:
        # Signals are the process's to handle: a stop must interrupt solves (``stop``), not wait.
        await self.app.run_worker_async(
            concurrency=self.concurrency,
            install_signal_handlers=False,
            shutdown_graceful_timeout=SHUTDOWN_GRACE_S,
            update_heartbeat_interval=HEARTBEAT_S,
            stalled_worker_timeout=STALLED_AFTER_S,
            fetch_job_polling_interval=2.0,
            abort_job_polling_interval=2.0,
        )

    def stop(self) -> None:
        self.work.stopping.set()
        if self._worker is not None:
            self._worker.cancel()

    async def close(self) -> None:
        self.stop()
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.app.close_async()

    async def allocation_queued(self, allocation_id: int) -> None:
        await defer_solve(self.app, allocation_id)


def background_for(settings: Settings, sessions: async_sessionmaker[AsyncSession], clock) -> Background:
    work = Work(sessions, clock, settings)
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return InProcess(work)
    # Two at once: a long solve never holds up the sweep.
    queue = job_queue(settings.database_url, work, pool_size=API_JOBS + 2)
    return JobQueue(queue, work, run_jobs=settings.api_runs_jobs, concurrency=API_JOBS)
