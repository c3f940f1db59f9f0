"""Background work of an API process: solver runs, taken off the request path, and the
periodic release of sessions nobody checked in to.

Every API process runs one ``AllocationRunner``. Runs are queued in the database and claimed one
at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers), so several
processes share the queue. The solve itself runs in a worker thread — CP-SAT releases the GIL —
so the event loop keeps answering requests while it works.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import scheduling
from booking.services import allocations, checkin

log = logging.getLogger("venueshare.jobs")


class AllocationRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        *,
        workers: int = 2,
        poll_s: float = 0.5,
    ) -> None:
        self.sessions, self.clock, self.workers, self.poll_s = sessions, clock, workers, poll_s
        self._wake = asyncio.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run_forever(self) -> None:
        async with self.sessions() as session, session.begin():
            for allocation_id in await allocations.requeue_stale(session, now=self.clock()):
                log.warning("allocation %s was left running by a stopped process; queued again", allocation_id)
        while not self._stopping.is_set():
            async with self.sessions() as session, session.begin():
                allocation_id = await allocations.claim_next(session, now=self.clock())
            if allocation_id is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                except TimeoutError:
                    pass
                continue
            await self.run_one(allocation_id)

    async def run_one(self, allocation_id: int) -> None:
        result, error = None, None
        try:
            async with self.sessions() as session, session.begin():
                term = await allocations.load_term(session, allocation_id)
            result = await self._solve(allocation_id, term)
        except Exception as failure:  # a failed run is recorded, never lost, and the runner goes on
            log.exception("allocation %s failed", allocation_id)
            error = f"{type(failure).__name__}: {failure}"
        async with self.sessions() as session, session.begin():
            await allocations.store_result(session, allocation_id, result=result, error=error, now=self.clock())

    async def _solve(self, allocation_id: int, term: allocations.Term) -> dict[str, Any]:
        latest: list[scheduling.Progress] = []
        cancelled = threading.Event()

        def work() -> dict[str, Any]:
            problem, reasons = allocations.build_problem(term)
            solution = scheduling.solve(
                problem,
                time_limit_s=term.time_limit_s,
                seed=term.seed,
                workers=self.workers,
                on_progress=latest.append,
                stop=lambda: cancelled.is_set() or self._stopping.is_set(),
            )
            return allocations.describe(term, solution, reasons)

        solving = asyncio.ensure_future(asyncio.to_thread(work))
        reported = 0
        while not solving.done():
            await asyncio.wait({solving}, timeout=self.poll_s)
            if len(latest) > reported or not solving.done():
                reported = len(latest)
                progress = _progress(latest[-1]) if latest else {"placed": 0}
                async with self.sessions() as session, session.begin():
                    if await allocations.store_progress(session, allocation_id, progress):
                        cancelled.set()
        return solving.result()


def _progress(progress: scheduling.Progress) -> dict[str, Any]:
    return {
        "objective": progress.objective,
        "bound": progress.bound,
        "elapsed_s": round(progress.elapsed_s, 2),
        "placed": progress.placed,
    }


class NoShowSweeper:
    """Every ``every_s`` seconds, release the sessions whose check-in window closed unused.
    Safe with several processes: each release locks its booking and skips what is no longer confirmed."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime], *, every_s: float = 60.0
    ) -> None:
        self.sessions, self.clock, self.every_s = sessions, clock, every_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                async with self.sessions() as session, session.begin():
                    released = await checkin.release_no_shows(session, now=self.clock())
                if released:
                    log.info("released %d sessions nobody checked in to", len(released))
            except Exception:  # the sweep is retried next round; it never takes the process down
                log.exception("no-show sweep failed")
            try:
                await asyncio.wait_for(self._stop.wait(), self.every_s)
            except TimeoutError:
                pass
