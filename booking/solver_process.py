"""Solver runs in a child process of their own, so nothing a solver does — exhaust memory, crash in
C++, ignore a stop — can take the API process down.

``SolverProcess`` runs one piece of work (``solve_term`` for an allocation run) in a child started
with the multiprocessing "spawn" context — never fork: the API process has threads — under an
address-space limit. The child sends its progress, then its result or error, over a one-way pipe
and watches a stop event; the parent reads the pipe, sets the event to stop the child and kills
it when it has not answered ``STOP_GRACE_S`` later. A child that dies is a ``SolverFailed`` whose
message says why, in words fit for the run's ``error``.
"""

import asyncio
import ctypes
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import scheduling
from booking.services import allocations

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}  # a stop from outside: a service manager, Ctrl-C
STOP_GRACE_S = 1.5  # a stopped child that has not answered by then is killed
MIN_SOLVE_S = 1.0  # the solver's time limit, however late the child started
OUT_OF_MEMORY_EXIT = 3  # the child's exit status when its memory ran out (reporting it needs memory too)
NEAR_LIMIT = 0.9  # a killed child using this share of its memory limit had run out of memory
MALLOC_ARENAS = 2  # glibc reserves 64 MB of address space per malloc arena, one per allocating thread
M_ARENA_MAX = -8  # mallopt's parameter number for the arena cap (glibc's malloc.h)

Report = Callable[[dict[str, Any]], None]
Stop = Callable[[], bool]
Work = Callable[[Any, Report, Stop], dict[str, Any]]


class SolverFailed(Exception):
    """The child raised or died; the message is the reason to record with the run."""


class MemoryLimitTooLow(Exception):
    code = "memory_limit_too_low"


# ---- the work of an allocation run ---------------------------------------------------------------


@dataclass(frozen=True)
class TermSolve:
    term: allocations.Term
    # time.monotonic() by which the solver must be done. Linux's monotonic clock is system-wide,
    # so the child reads it against the parent's claim time, its own start-up included.
    deadline: float
    workers: int


def solve_term(job: TermSolve, report: Report, stop: Stop) -> dict[str, Any]:
    """In the child: the term's Problem, solved in what is left of the run's time, described."""
    problem, reasons = allocations.build_problem(job.term)
    solution = scheduling.solve(
        problem,
        time_limit_s=max(MIN_SOLVE_S, job.deadline - time.monotonic()),
        seed=job.term.seed,
        workers=job.workers,
        on_progress=lambda progress: report(progress_of(progress)),
        stop=stop,
    )
    return allocations.describe(job.term, solution, reasons)


def progress_of(progress: scheduling.Progress) -> dict[str, Any]:
    return {
        "objective": progress.objective,
        "bound": progress.bound,
        "elapsed_s": round(progress.elapsed_s, 2),
        "placed": progress.placed,
        "placed_bound": progress.placed_bound,
        "stage": progress.stage,
    }


# ---- the parent's side -------------------------------------------------------------------------------


class SolverProcess:
    """One piece of work in a child process: ``await SolverProcess(work, job, memory_mb=...).plan(on_tick)``."""

    def __init__(self, work: Work, job: Any, *, memory_mb: int) -> None:
        self._job = pickle.dumps(job, pickle.HIGHEST_PROTOCOL)  # first: a job that cannot go raises here
        context = multiprocessing.get_context("spawn")
        self.memory_mb = memory_mb
        self.progress: dict[str, Any] | None = None
        self.started_at: float | None = None
        self.first_progress_at: float | None = None
        self.killed_at_mb: int | None = None  # its address space when it had to be killed
        self._stop = context.Event()
        self._stop_requested_at: float | None = None
        # The job goes over a pipe of its own, not as an argument of the process: spawn writes the
        # arguments while holding the pipe's reading end itself, so a child that died before reading
        # a large job would leave that write blocked for ever. Ours fails with EPIPE.
        self._job_reader, self._job_writer = context.Pipe(duplex=False)
        self._messages, self._sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child,
            args=(work, memory_mb, self._job_reader, self._sending, self._stop, os.getpid()),
            name="venueshare-solver",
            daemon=True,
        )

    async def plan(
        self, on_tick: Callable[[dict[str, Any] | None], Awaitable[bool]], *, tick_s: float = 0.25
    ) -> dict[str, Any] | None:
        """Run the work in a child and wait for its answer, calling ``on_tick(latest progress)``
        every ``tick_s``; when that returns True, stop the child, and kill it if it has not answered
        ``STOP_GRACE_S`` later.

        The result, or None when the child had to be killed. Raises ``SolverFailed`` when the
        child raised or died. No child outlives this call.
        """
        self.started_at = time.monotonic()
        # Spawned with SIGTERM and SIGINT blocked (a signal mask outlives exec): one that reaches the
        # whole process group while the child is still starting waits, and is taken as a stop once
        # the child listens for it, instead of killing it before it could answer with its best plan.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._process.start()  # quick: its arguments are small
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._job_reader.close()  # the child holds the only ends it reads and writes now:
        self._sending.close()  # its death fails our writes and ends our reads
        handing_over = asyncio.ensure_future(asyncio.to_thread(self._hand_over))
        try:
            while True:
                exited = not self._process.is_alive()  # first: what it sent before exiting is in the pipe
                answer = self._receive()
                if answer is not None:
                    kind, payload = answer
                    if kind == "error":
                        raise SolverFailed(payload)
                    return payload
                if exited:
                    raise SolverFailed(self._death())
                if await on_tick(self.progress) and self._stop_requested_at is None:
                    self._stop_requested_at = time.monotonic()
                    self._stop.set()
                if self._stop_requested_at is not None and time.monotonic() - self._stop_requested_at > STOP_GRACE_S:
                    self.killed_at_mb = address_space_mb(self._process.pid)
                    return None
                await asyncio.sleep(tick_s)
        finally:
            if self._process.exitcode is None:  # one that answered has nothing left to do
                self._process.kill()
            self._process.join()
            await asyncio.wait({handing_over})  # done now: the child's death ended any write
            self._process.close()
            self._job_writer.close()
            self._messages.close()

    def near_memory_limit(self) -> bool:
        """Whether the killed child was at its memory limit: a MemoryError on a thread that could
        not even be reported leaves a solve waiting for ever."""
        return self.killed_at_mb is not None and self.killed_at_mb >= NEAR_LIMIT * self.memory_mb

    def _hand_over(self) -> None:
        with suppress(OSError):  # the child died first: its exit status will say why
            self._job_writer.send_bytes(self._job)

    def _receive(self) -> tuple[str, Any] | None:
        """Read what the child sent; its answer when it gave one."""
        try:
            while self._messages.poll():
                kind, payload = self._messages.recv()
                if kind != "progress":
                    return kind, payload
                self.progress = payload
                if self.first_progress_at is None:
                    self.first_progress_at = time.monotonic()
        except (EOFError, OSError):  # the child is gone; its exit status says how
            pass
        return None

    def _death(self) -> str:
        self._process.join()  # reaped already: is_alive() said so
        code = self._process.exitcode
        limit = f"limit {self.memory_mb} MB"
        if code == OUT_OF_MEMORY_EXIT:
            return f"solver process ran out of memory ({limit})"
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            # std::bad_alloc in C++ ends in abort(); the kernel's OOM killer sends SIGKILL
            hint = f"; it may have run out of memory ({limit})" if -code in (signal.SIGABRT, signal.SIGKILL) else ""
            return f"solver process exited with signal {-code} ({name}){hint}"
        return f"solver process exited with status {code} without a result"


# ---- the child's side ----------------------------------------------------------------------------------


def _child(work: Work, memory_mb: int, job_reader, sending, stop_event, parent_pid: int) -> None:
    signalled = _stop_on_signals()
    job = pickle.loads(job_reader.recv_bytes())
    job_reader.close()
    lock = threading.Lock()  # progress may come from a solver thread

    def send(message: tuple[str, Any]) -> None:
        with lock:
            sending.send(message)

    def stop() -> bool:  # also when the parent died without stopping us
        return stop_event.is_set() or signalled.is_set() or os.getppid() != parent_pid

    try:
        _exit_on_memory_error_anywhere()
        _limit_memory(memory_mb)
        answer = ("result", work(job, lambda progress: send(("progress", progress)), stop))
    except MemoryError:
        os._exit(OUT_OF_MEMORY_EXIT)
    except Exception as error:
        traceback.print_exc()
        answer = ("error", error_text(error))
    try:
        send(answer)
    except MemoryError:
        os._exit(OUT_OF_MEMORY_EXIT)
    sending.close()


def _stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT ask for a stop, as the parent does: a service manager's stop and Ctrl-C
    reach the whole process group, and the run should end with its best plan, not die. Python runs
    signal handlers in the main thread, busy in the solver: the wakeup fd tells a thread at once."""
    signalled = threading.Event()
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: signalled.set())
    signal.set_wakeup_fd(writer)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # one sent while starting arrives now

    def wait() -> None:
        os.read(reader, 1)
        signalled.set()

    threading.Thread(target=wait, name="venueshare-solver-signals", daemon=True).start()
    return signalled


def error_text(error: BaseException) -> str:
    """``code: message`` for errors that carry a machine code, ``Type: message`` for the rest."""
    code = getattr(error, "code", None)
    return f"{code if code is not None else type(error).__name__}: {error}"


def _exit_on_memory_error_anywhere() -> None:
    """A MemoryError on a thread of the solver (or where Python can only report it as unraisable)
    would be printed and ignored, leaving the solve waiting for that thread: end the child."""
    thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook

    def on_thread_error(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, MemoryError):
            os._exit(OUT_OF_MEMORY_EXIT)
        thread_hook(args)

    def on_unraisable(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, MemoryError):
            os._exit(OUT_OF_MEMORY_EXIT)
        unraisable_hook(unraisable)

    threading.excepthook, sys.unraisablehook = on_thread_error, on_unraisable


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's address space. Its imports are done by now (unpickling its target imported
    this module, hence the solver), so the solve meets the limit, as MemoryError or std::bad_alloc."""
    try:  # without a cap, each solver thread's arena reserves address space it never uses
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc
        pass
    in_use = address_space_mb(os.getpid())
    if in_use is not None and in_use >= memory_mb:  # nothing left: even reporting a MemoryError would fail
        raise MemoryLimitTooLow(
            f"the solver process uses {in_use} MB before it starts solving, more than its memory limit ({memory_mb} MB)"
        )
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def address_space_mb(pid: int) -> int | None:
    """A process's address space, which RLIMIT_AS limits (Linux; None elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize() // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return None
