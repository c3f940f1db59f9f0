"""A scratch PostgreSQL database for one benchmark run, shared by the benchmarks."""

import asyncio
import contextlib
import secrets
import sys
from collections.abc import Iterator

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
