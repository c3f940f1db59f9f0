"""Where background work runs, decided from the settings alone (no database is touched)."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from booking.background import DELIVER, SOLVE, SWEEP, InProcess, JobQueue, Work, background_for, job_queue
from booking.config import Settings

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/nowhere"


def clock() -> datetime:
    return datetime(2027, 1, 1, tzinfo=UTC)


def test_sqlite_works_in_process_and_postgresql_through_the_queue():
    sessions = async_sessionmaker()
    assert isinstance(background_for(Settings(database_url="sqlite+aiosqlite:///x.db"), sessions, clock), InProcess)
    queue = background_for(Settings(database_url=POSTGRES, api_runs_jobs=False), sessions, clock)
    assert isinstance(queue, JobQueue) and not queue.run_jobs


def test_the_sweep_and_the_deliveries_are_periodic_jobs_unless_turned_off():
    def periodic(settings: Settings) -> list[tuple[str, str]]:
        app = job_queue(POSTGRES, Work(async_sessionmaker(), clock, settings), pool_size=1)
        assert SOLVE in app.tasks
        return [(task.task.name, task.cron) for task in app.periodic_registry.periodic_tasks.values()]

    assert sorted(periodic(Settings(database_url=POSTGRES))) == [(DELIVER, "* * * * * */5"), (SWEEP, "* * * * *")]
    assert periodic(Settings(database_url=POSTGRES, sweep_every_s=0, deliver_every_s=0)) == []
    assert (
        job_queue(POSTGRES, Work(async_sessionmaker(), clock, Settings(database_url=POSTGRES)), pool_size=1)
        .tasks[DELIVER]
        .lock
        == DELIVER
    )  # one delivery round at a time across workers: messages go in order
