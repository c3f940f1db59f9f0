"""A solve in a child process: its answer, its errors and its deaths come back as a plan or a reason.

The work functions live at module level: the spawned child imports them from here.
"""

import os
import signal
import threading
import time

import pytest

from booking.solver_process import SolverFailed, SolverProcess

MEMORY_MB = 1024  # above what the child's imports take (about 400 MB of address space)


class Unsolvable(Exception):
    code = "unsolvable_term"


def answers(job, report, stop):
    report({"placed": 1, "pid": os.getpid()})
    return {"placed": job}


def raises_coded(job, report, stop):
    raise Unsolvable(f"no plan for {job} classes")


def raises_plain(job, report, stop):
    raise ValueError("bad input")


def kills_itself(job, report, stop):
    os.kill(os.getpid(), signal.SIGKILL)


def hoards_memory(job, report, stop):
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def hoards_memory_on_a_thread(job, report, stop):
    hoarding = threading.Thread(target=hoards_memory, args=(job, report, stop))
    hoarding.start()
    hoarding.join()
    return {"placed": 0}  # reached only if the thread's MemoryError was swallowed


def stops_when_asked(job, report, stop):
    report({"placed": 1, "pid": os.getpid()})
    while not stop():
        time.sleep(0.01)
    return {"placed": 1, "stopped": True}


def ignores_stop(job, report, stop):
    report({"placed": 1, "pid": os.getpid()})
    while True:
        time.sleep(0.05)


class Ticks:
    """``on_tick`` for ``plan``: records the progress it is shown; asks to stop once it saw some."""

    def __init__(self, *, stop_on_progress: bool = False) -> None:
        self.stop_on_progress = stop_on_progress
        self.seen: list[dict | None] = []

    async def __call__(self, progress: dict | None) -> bool:
        self.seen.append(progress)
        return self.stop_on_progress and progress is not None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_childs_answer_and_progress_come_back():
    ticks = Ticks()
    solver = SolverProcess(answers, 3, memory_mb=MEMORY_MB)

    assert await solver.plan(ticks, tick_s=0.05) == {"placed": 3}
    assert solver.progress["placed"] == 1 and solver.first_progress_at >= solver.started_at
    assert gone(solver.progress["pid"])


@pytest.mark.parametrize(
    ("work", "reason"),
    [(raises_coded, "unsolvable_term: no plan for 3 classes"), (raises_plain, "ValueError: bad input")],
)
async def test_an_error_in_the_child_is_reported_with_its_code(work, reason):
    with pytest.raises(SolverFailed) as failed:
        await SolverProcess(work, 3, memory_mb=MEMORY_MB).plan(Ticks(), tick_s=0.05)
    assert str(failed.value) == reason


async def test_a_killed_child_fails_with_its_signal():
    with pytest.raises(SolverFailed, match=r"exited with signal 9 \(SIGKILL\)"):
        await SolverProcess(kills_itself, 3, memory_mb=MEMORY_MB).plan(Ticks(), tick_s=0.05)


@pytest.mark.parametrize("work", [hoards_memory, hoards_memory_on_a_thread])
async def test_a_child_out_of_memory_fails_saying_so(work):
    with pytest.raises(SolverFailed) as failed:
        await SolverProcess(work, 3, memory_mb=MEMORY_MB).plan(Ticks(), tick_s=0.05)
    assert str(failed.value) == f"solver process ran out of memory (limit {MEMORY_MB} MB)"


async def test_a_memory_limit_below_what_the_child_already_uses_is_refused():
    with pytest.raises(SolverFailed, match=r"^memory_limit_too_low: .* more than its memory limit \(64 MB\)"):
        await SolverProcess(answers, 3, memory_mb=64).plan(Ticks(), tick_s=0.05)


async def test_a_stopped_child_answers_with_what_it_has():
    solver = SolverProcess(stops_when_asked, 3, memory_mb=MEMORY_MB)

    assert await solver.plan(Ticks(stop_on_progress=True), tick_s=0.05) == {"placed": 1, "stopped": True}


async def test_sigterm_stops_the_child_like_a_stop_request():
    async def terminate_once_it_reports(progress: dict | None) -> bool:
        if progress is not None and not signalled:
            os.kill(progress["pid"], signal.SIGTERM)  # as a service manager stopping the process group
            signalled.append(progress["pid"])
        return False

    signalled: list[int] = []
    solver = SolverProcess(stops_when_asked, 3, memory_mb=MEMORY_MB)

    assert await solver.plan(terminate_once_it_reports, tick_s=0.05) == {"placed": 1, "stopped": True}


async def test_a_child_that_ignores_stop_is_killed_after_the_grace():
    ticks = Ticks(stop_on_progress=True)
    solver = SolverProcess(ignores_stop, 3, memory_mb=MEMORY_MB)

    assert await solver.plan(ticks, tick_s=0.05) is None

    assert gone(solver.progress["pid"])
    assert solver.killed_at_mb is not None and not solver.near_memory_limit()
    asked = next(i for i, progress in enumerate(ticks.seen) if progress is not None)
    assert len(ticks.seen) > asked + 1, "progress ticks go on while the child is given its grace"
