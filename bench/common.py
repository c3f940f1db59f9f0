"""What the PostgreSQL benchmarks share: a scratch database per run, and how a run ends."""

import asyncio
import contextlib
import secrets
import sys
import time
from collections.abc import Callable, Iterator

import asyncpg
from sqlalchemy.engine import URL, make_url


def driver_url(url: str | URL, driver: str) -> str:
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


async def _admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(driver_url(admin_url, "postgresql"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "venueshare_bench") -> Iterator[URL]:
    """A fresh database next to the admin one, dropped afterwards whatever happens."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    print(f"scratch database {name}", file=sys.stderr)
    try:
        yield make_url(admin_url).set(database=name)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(f"dropped {name}", file=sys.stderr)


class BenchError(Exception):
    """The benchmark could not run or its answers were wrong (not: it was slow)."""


def run_benchmark(run: Callable[[], str]) -> int:
    """Print the table ``run`` returns; exit 1 if the benchmark failed, 130 if interrupted.

    Timing never decides the exit status."""
    started = time.perf_counter()
    try:
        table = run()
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(table)
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")
    return 0
