"""The job queue on PostgreSQL: solver runs worked by `venueshare worker` processes, a run whose
worker died is retried on another (never left running), a run past its attempts fails with the
reason, and a queued run always has a job."""

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from booking.background import MAX_SOLVE_ATTEMPTS, SOLVE, Work, job_queue, recover
from booking.config import Settings
from booking.db import sessionmakers
from tests.api.test_allocations import TERM, created, crowded_term, finished  # noqa: F401  (a fixture)
from tests.api.test_operations import sample
from tests.test_cli import free_port

pytestmark = [
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
    pytest.mark.parametrize("settings_overrides", [{"api_runs_jobs": False}]),  # only workers solve
]


def start_worker(db_url: str, *options: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "VENUESHARE_LOG_LEVEL": "warning"}
    return subprocess.Popen(
        [sys.executable, "-m", "booking.cli", "worker", "--concurrency", "1", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a kill takes its solver process too
    )


def stop(worker: subprocess.Popen, how: signal.Signals, *, group: bool = True) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, how) if group else worker.send_signal(how)
        worker.wait(timeout=60)


async def jobs(engine) -> list[tuple]:
    """The solver jobs (workers also run the periodic sweep)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT task_name, status::text, attempts, args FROM procrastinate_jobs"
                f" WHERE task_name = '{SOLVE}' ORDER BY id"
            )
        )
        return [tuple(row) for row in rows]


async def progress_seen(client, allocation_id: int) -> dict:
    for _ in range(600):
        run = (await client.get(f"/allocations/{allocation_id}")).json()
        if run["status"] == "running" and run["progress"] is not None:
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"allocation {allocation_id} never showed progress: {run}")


async def test_a_run_whose_worker_was_killed_is_solved_by_another(make, crowded_term, db_url, engine):  # noqa: F811
    client = make.client
    run = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 8}))
    await asyncio.sleep(0.5)
    assert (await client.get(f"/allocations/{run['id']}")).json()["status"] == "queued"  # the API solves nothing

    first = start_worker(db_url)
    try:
        await progress_seen(client, run["id"])
        stop(first, signal.SIGKILL)  # mid-solve, with no chance to tidy up
    finally:
        stop(first, signal.SIGKILL)
    assert (await client.get(f"/allocations/{run['id']}")).json()["status"] == "running"
    async with engine.begin() as connection:  # its heartbeat stops: let the time it takes to notice pass
        await connection.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"))

    port = free_port()
    second = start_worker(db_url, "--metrics-port", str(port))
    try:
        final = await finished(client, run["id"], within_s=120)
        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        stop(second, signal.SIGTERM)

    assert final["status"] == "done", final
    assert final["result"]["placed"] > 0
    assert await jobs(engine) == [(SOLVE, "succeeded", 2, {"allocation_id": run["id"]})]
    assert sample(metrics, "venueshare_solver_runs_total", outcome="done") == 1  # the second worker's own


# A deploy's stop, which does not wait out the solve: to the main process alone (``docker stop``), or
# to the whole process group, solver included (a terminal's Ctrl-C, systemd's default KillMode).
@pytest.mark.parametrize("group", [False, True], ids=["main-process", "process-group"])
async def test_a_stopped_worker_ends_its_solve_and_leaves_nothing_running(
    make,
    crowded_term,  # noqa: F811
    db_url,
    engine,
    group,
):
    client = make.client
    run = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    first = start_worker(db_url)
    try:
        await progress_seen(client, run["id"])
    finally:
        stop(first, signal.SIGTERM, group=group)

    stopped = (await client.get(f"/allocations/{run['id']}")).json()
    [(task, status, attempts, _)] = await jobs(engine)
    # Stopped in time, the run keeps its best plan so far; killed, it goes back to the queue and its
    # job waits for whichever worker comes next.
    assert (stopped["status"], status) in (("done", "succeeded"), ("queued", "todo")), stopped["error"]
    assert (task, attempts) == (SOLVE, 1)


@pytest.fixture
async def queue(db_url, engine, clock):
    sessions, _ = sessionmakers(engine)
    work = Work(sessions, clock, Settings(database_url=db_url, sweep_every_s=0))
    app = job_queue(db_url, work, pool_size=2)
    async with app.open_async():
        yield app, work


async def stall(engine, attempts: int) -> None:
    """The run's job was taken by a worker that then died, after ``attempts`` earlier tries."""
    async with engine.begin() as connection:
        worker = await connection.scalar(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id")
        )
        await connection.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :worker, attempts = :attempts"),
            {"worker": worker, "attempts": attempts},
        )
        await connection.execute(text("UPDATE allocations SET status = 'running', started_at = now()"))


async def test_a_run_past_its_attempts_fails_with_the_reason(make, crowded_term, queue, engine):  # noqa: F811
    app, work = queue
    run = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    await stall(engine, attempts=MAX_SOLVE_ATTEMPTS - 1)

    await recover(app, work)

    final = (await make.client.get(f"/allocations/{run['id']}")).json()
    assert final["status"] == "failed"
    assert f"stopped {MAX_SOLVE_ATTEMPTS} times" in final["error"]
    assert [(task, status) for task, status, *_ in await jobs(engine)] == [(SOLVE, "failed")]


async def test_a_stalled_run_is_queued_again_and_its_job_retried(make, crowded_term, queue, engine):  # noqa: F811
    app, work = queue
    run = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    await stall(engine, attempts=0)

    await recover(app, work)
    await recover(app, work)  # twice: still one job

    assert (await make.client.get(f"/allocations/{run['id']}")).json()["status"] == "queued"
    assert [(task, status) for task, status, *_ in await jobs(engine)] == [(SOLVE, "todo")]


async def test_a_queued_run_without_a_job_gets_exactly_one(make, crowded_term, queue, engine):  # noqa: F811
    app, work = queue
    run = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    async with engine.begin() as connection:  # lost between the run's commit and its job
        await connection.execute(text("DELETE FROM procrastinate_jobs"))

    await recover(app, work)
    await recover(app, work)

    assert [(task, status, args) for task, status, _, args in await jobs(engine)] == [
        (SOLVE, "todo", {"allocation_id": run["id"]})
    ]


async def test_metrics_show_the_queue_depth_and_the_longest_wait(make, crowded_term, engine):  # noqa: F811
    await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    async with engine.begin() as connection:  # deferred a minute ago, and no worker since
        await connection.execute(text("UPDATE procrastinate_events SET at = now() - interval '1 minute'"))

    metrics = (await make.client.get("http://testserver/metrics")).text

    assert sample(metrics, "venueshare_jobs", state="waiting") == 1
    assert sample(metrics, "venueshare_jobs", state="running") == 0
    assert 60 <= sample(metrics, "venueshare_job_wait_seconds") < 3600
    assert sample(metrics, "venueshare_allocations_waiting") == 1


async def test_a_periodic_round_a_dead_worker_left_is_closed_not_retried(queue, engine, settings_overrides):
    app, work = queue
    await app.configure_task("sweep", queueing_lock="sweep").defer_async(timestamp=1)
    await stall(engine, attempts=0)  # taken by a worker that died
    await app.configure_task("sweep", queueing_lock="sweep").defer_async(timestamp=2)  # the next tick's

    await recover(app, work)

    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT status::text FROM procrastinate_jobs ORDER BY id"))
        assert [status for (status,) in rows] == ["failed", "todo"]
