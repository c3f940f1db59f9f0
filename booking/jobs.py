"""The background work itself: solver runs, taken off the request path, and the periodic sweep
(no-shows released, due lotteries drawn). ``booking/background.py`` decides where it runs: as
jobs of the PostgreSQL queue, or as loops of the server process on SQLite.

Runs are kept in the database and claimed one at a time, so any number of processes share them.
Each solve runs in a child process of its own under a memory limit
(``booking/solver_process.py``): a solver that runs out of memory or crashes fails its run, never
the process that started it, and its event loop keeps going while it works.
"""

import asyncio
import functools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.models import DeliveryState
from booking.observability import SOLVER_RUNS
from booking.services import allocations, checkin, draws, mail, outbox, webhooks
from booking.solver_process import SolverFailed, SolverProcess, TermSolve, solve_term
from integrations import fetch
from integrations import mail as smtp
from integrations import webhooks as signatures

log = logging.getLogger("venueshare.jobs")

RESULT_RESERVE_S = 1.0  # of a run's time limit, kept for describing and storing the plan
OVERRUN_GRACE_S = 2.0  # past its time limit, a run's solver is stopped (and killed STOP_GRACE_S later)
PROGRESS_EVERY_S = 1.0  # a running run's progress is written at least this often
TICK_S = 0.25  # how often a running run looks for a cancel request and at its solver


class Interrupted(Exception):
    """This process is shutting down and had to kill a run's solver: the run goes back to the queue."""


class AllocationRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        *,
        workers: int = 2,
        memory_mb: int = 2048,
        poll_s: float = 0.5,
        stopping: threading.Event | None = None,
    ) -> None:
        self.sessions, self.clock, self.poll_s = sessions, clock, poll_s
        self.workers, self.memory_mb = workers, memory_mb
        self._wake = asyncio.Event()
        self._stopping = stopping or threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run_forever(self) -> None:
        stale_requeued = False
        while not self._stopping.is_set():
            try:
                if not stale_requeued:
                    async with self.sessions() as session, session.begin():
                        for allocation_id in await allocations.requeue_stale(session, now=self.clock()):
                            log.warning("allocation %s was left running by a stopped process; requeued", allocation_id)
                    stale_requeued = True
                async with self.sessions() as session, session.begin():
                    allocation_id = await allocations.claim_next(session, now=self.clock())
                if allocation_id is not None:
                    await self.run_one(allocation_id, claimed_at=time.monotonic())
                    continue
            except Exception:  # the runner outlives any one run and any passing database trouble
                log.exception("allocation runner: a round failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except TimeoutError:
                pass

    async def run_one(self, allocation_id: int, *, claimed_at: float) -> bool:
        """Solve a claimed run and store its outcome, all within its time limit from ``claimed_at``
        (``time.monotonic()``). False when this process is shutting down: the run is queued again."""
        result, error = None, None
        try:
            async with self.sessions() as session, session.begin():
                term = await allocations.load_term(session, allocation_id)
            result = await self._solve(allocation_id, term, claimed_at)
        except Interrupted:
            log.warning("allocation %s was interrupted by shutdown; queued again", allocation_id)
            async with self.sessions() as session, session.begin():
                await allocations.requeue(session, allocation_id)
            SOLVER_RUNS.labels("interrupted").inc()
            return False
        except SolverFailed as failure:
            log.warning("allocation %s failed: %s", allocation_id, failure)
            error = str(failure)
        except Exception as failure:  # a failed run is recorded, never lost, and the runner goes on
            log.exception("allocation %s failed", allocation_id)
            error = f"{type(failure).__name__}: {failure}"
        async with self.sessions() as session, session.begin():
            await allocations.store_result(session, allocation_id, result=result, error=error, now=self.clock())
        SOLVER_RUNS.labels("failed" if error else "done").inc()
        return True

    async def _solve(self, allocation_id: int, term: allocations.Term, claimed_at: float) -> dict[str, Any] | None:
        if self._stopping.is_set():
            raise Interrupted
        deadline = claimed_at + term.time_limit_s - RESULT_RESERVE_S
        solver = SolverProcess(
            solve_term, TermSolve(term, deadline=deadline, workers=self.workers), memory_mb=self.memory_mb
        )
        watch = RunWatch(
            self.sessions,
            allocation_id,
            claimed_at=claimed_at,
            overrun_at=claimed_at + term.time_limit_s + OVERRUN_GRACE_S,
            shutting_down=self._stopping.is_set,
        )
        result = await solver.plan(watch, tick_s=TICK_S)
        if solver.first_progress_at is not None:
            log.info(
                "allocation %s: solver process reported first %.2f s after it was spawned",
                allocation_id,
                solver.first_progress_at - solver.started_at,
            )
        if result is None and watch.stopped_for == "shutdown":
            raise Interrupted
        if result is None and watch.stopped_for == "overrun":
            why = f"solver process overran its time limit ({term.time_limit_s:g} s) and was killed"
            if solver.near_memory_limit():
                why += f"; it had run out of memory ({solver.killed_at_mb} MB of its {self.memory_mb} MB limit)"
            raise SolverFailed(why)
        return result  # None after a cancel: the run ends cancelled, without a plan


class RunWatch:
    """Called by ``SolverProcess.plan`` every tick of a run: writes its progress (at least every
    ``PROGRESS_EVERY_S``, elapsed time counted from its claim) and says when to stop its solver."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        allocation_id: int,
        *,
        claimed_at: float,
        overrun_at: float,
        shutting_down: Callable[[], bool],
    ) -> None:
        self.sessions, self.allocation_id, self.shutting_down = sessions, allocation_id, shutting_down
        self.claimed_at, self.overrun_at = claimed_at, overrun_at
        self.stopped_for: str | None = None  # "cancel", "shutdown" or "overrun"
        self._written: dict[str, Any] | None = None
        self._written_at = float("-inf")

    async def __call__(self, progress: dict[str, Any] | None) -> bool:
        now = time.monotonic()
        async with self.sessions() as session, session.begin():
            if progress is not self._written or now - self._written_at >= PROGRESS_EVERY_S:
                elapsed = {"elapsed_s": round(now - self.claimed_at, 2)}
                cancel = await allocations.store_progress(
                    session, self.allocation_id, {"placed": 0, **(progress or {}), **elapsed}
                )
                self._written, self._written_at = progress, now
            else:
                cancel = await allocations.cancel_requested(session, self.allocation_id)
        if self.stopped_for is None:
            if cancel:
                self.stopped_for = "cancel"
            elif self.shutting_down():
                self.stopped_for = "shutdown"
            elif now > self.overrun_at:
                self.stopped_for = "overrun"
        return self.stopped_for is not None


class Periodic(ABC):
    """Something done every ``every_s`` seconds by a loop of this process, until ``stop``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime], *, every_s: float):
        self.sessions, self.clock, self.every_s = sessions, clock, every_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            await self.round()
            try:
                await asyncio.wait_for(self._stop.wait(), self.every_s)
            except TimeoutError:
                pass

    @abstractmethod
    async def round(self) -> object:
        """One round; never raises (a failed round is logged and the next one tries again)."""


class Sweeper(Periodic):
    """Every ``every_s`` seconds: release the sessions whose check-in window closed unused, and draw
    the lotteries whose enrolment window closed. Safe with several processes: a release locks its
    booking and skips what is no longer confirmed; a draw locks its policy and a drawn class is
    never drawn again."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime], *, every_s: float = 60.0
    ) -> None:
        super().__init__(sessions, clock, every_s=every_s)

    async def round(self) -> None:
        await self.sweep()

    async def sweep(self) -> None:
        try:
            async with self.sessions() as session, session.begin():
                released = await checkin.release_no_shows(session, now=self.clock())
            if released:
                log.info("released %d sessions nobody checked in to", len(released))
        except Exception:  # the sweep is retried next round; it never takes the process down
            log.exception("no-show sweep failed")
        await self.draw_due()

    async def draw_due(self) -> None:
        """The due draws in one transaction, in order (earlier draws count towards term limits)."""
        try:
            async with self.sessions() as session, session.begin():
                drawn = await draws.draw_due(session, now=self.clock())
        except Exception:  # retried next round: a draw is a pure function of what is stored
            log.exception("drawing the due lotteries failed")
            return
        if drawn:
            log.info("drew the lotteries of classes %s", drawn)


class Deliverer(Periodic):
    """Hands outbox messages to webhook endpoints and, with a ``mailer``, to people by mail: fans new
    messages out into webhook deliveries and mails, then sends the due ones (webhooks signed),
    outside any transaction (``deliver`` once; ``run_forever`` every ``every_s``). Several
    processes may deliver at once: a delivery or mail being sent is leased."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        *,
        every_s: float = 5.0,
        timeout_s: float = 10.0,
        internal: bool = False,
        mailer: mail.Mailer | None = None,
    ) -> None:
        super().__init__(sessions, clock, every_s=every_s)
        self.timeout_s, self.internal, self.mailer = timeout_s, internal, mailer

    async def round(self) -> int:
        return await self.deliver()

    async def deliver(self) -> int:
        """One round; how many deliveries and mails were attempted. Never raises: the next round retries."""
        try:
            async with self.sessions() as session, session.begin():
                now = self.clock()
                messages = await outbox.take_new(session, now=now)
                await webhooks.fan_out(session, messages, now=now)
                if self.mailer is not None:
                    await mail.fan_out(session, messages, self.mailer.sender, now=now)
            attempted = await self._each_due(webhooks.take_due, self._send)
            if self.mailer is not None:
                attempted += await self._each_due(mail.take_due, self._mail)
            return attempted
        except Exception:
            log.exception("delivery round failed")
            return 0

    async def _each_due(self, take_due: Callable, send: Callable) -> int:
        attempted = 0
        while True:
            async with self.sessions() as session, session.begin():
                due = await take_due(session, now=self.clock())
            if not due:
                return attempted
            for item in due:
                await send(item)
            attempted += len(due)

    async def _send(self, due: webhooks.Due) -> None:
        message_id = f"msg_{due.message_id}"
        # the moment of sending, by the wall clock receivers check it against (they refuse stale ones)
        headers = signatures.headers(due.secret, message_id, int(time.time()), due.body)
        status, error = None, None
        try:
            send = functools.partial(fetch.post, timeout_s=self.timeout_s, internal=self.internal)
            status = await asyncio.to_thread(send, due.url, due.body, headers)
        except fetch.FetchError as failure:  # refused (the URL now reaches inside), reset, timed out
            error = failure.detail
        async with self.sessions() as session, session.begin():
            state = await webhooks.record_attempt(session, due, status=status, error=error, now=self.clock())
        if state != DeliveryState.delivered:
            log.warning("webhook %s to %s: %s (%s)", message_id, due.url, error or f"answered {status}", state)

    async def _mail(self, due: mail.Due) -> None:
        error, permanent = None, False
        try:
            send = functools.partial(smtp.send, timeout_s=self.timeout_s * 3)
            await asyncio.to_thread(send, self.mailer.server, self.mailer.sender.address, due.to_address, due.content)
        except smtp.MailError as failure:
            error, permanent = failure.detail, failure.permanent
        async with self.sessions() as session, session.begin():
            state = await mail.record_attempt(session, due, error=error, permanent=permanent, now=self.clock())
        if state != DeliveryState.delivered:
            log.warning("mail %s to %s: %s (%s)", due.mail_id, due.to_address, error, state)
