"""The one Alembic chain runs up from empty and down to nothing on both databases."""

import asyncio

import pytest
from sqlalchemy import inspect

from booking.db import create_engine
from booking.migrate import downgrade, upgrade
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_admin_url

TABLES = {
    "regions",
    "organisations",
    "venues",
    "spaces",
    "bookings",
    "occurrences",
    "idempotency_keys",
    "opening_hours",
    "closures",
    "space_tree",
    "teachers",
    "classes",
    "allocations",
    "class_bookings",
    "users",
    "role_grants",
    "api_tokens",
    "policies",
    "booking_events",
    "outbox",
}


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return names - {"alembic_version"}


@pytest.fixture
def empty_url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    admin = postgres_admin_url()
    url = asyncio.run(create_postgres_database(admin))
    yield url
    asyncio.run(drop_postgres_database(admin, url))


def test_upgrade_head_then_downgrade_base(empty_url):
    upgrade(empty_url)
    assert asyncio.run(table_names(empty_url)) == TABLES

    downgrade(empty_url)
    assert asyncio.run(table_names(empty_url)) == set()

    upgrade(empty_url)  # and up again, as a redeploy after a rollback would
    assert asyncio.run(table_names(empty_url)) == TABLES
