"""The one Alembic chain runs up from empty and down to nothing on both databases, and its data
migrations carry existing rows across."""

import asyncio
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from booking.db import create_engine
from booking.migrate import downgrade, upgrade
from booking.models.base import JSONList, UTCDateTime
from tests.conftest import JOB_QUEUE_TABLES, create_postgres_database, drop_postgres_database, postgres_admin_url

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
    "residents",
    "resident_agents",
    "enrolment_policies",
    "applications",
    "attendance",
    "session_codes",
    "learning_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "mail_deliveries",
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


def test_upgrade_head_then_downgrade_base(empty_url, backend):
    tables = TABLES | (set(JOB_QUEUE_TABLES) if backend == "postgresql" else set())
    upgrade(empty_url)
    assert asyncio.run(table_names(empty_url)) == tables

    downgrade(empty_url)
    assert asyncio.run(table_names(empty_url)) == set()

    upgrade(empty_url)  # and up again, as a redeploy after a rollback would
    assert asyncio.run(table_names(empty_url)) == tables


def _insert(table: str, **values) -> sa.Insert:
    """A row for a table as it stood at some revision, not as today's model has it."""
    types = {list: JSONList, datetime: UTCDateTime, date: sa.Date}
    columns = [sa.column(name, types.get(type(value), sa.types.NULLTYPE)) for name, value in values.items()]
    return sa.insert(sa.table(table, *columns)).values(**values)


def _execute(url: str, *statements) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def _rows(url: str, query) -> list[tuple]:
    async def read() -> list[tuple]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(query)]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _columns(url: str, table: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
        finally:
            await engine.dispose()
        return {column["name"] for column in columns}

    return asyncio.run(read())


def _classes_at_0006_one_of_them_booked() -> list[sa.Insert]:
    """A kitchen class with a booked weekly session (so class_bookings point at it), and a class that
    takes any kind of space."""
    now = datetime(2027, 1, 10, tzinfo=UTC)
    lists = {"required_features": [], "preferred_region_ids": [], "allowed_windows": [], "cohorts": []}
    term = {"term_start": date(2027, 3, 1), "term_end": date(2027, 6, 27), "sessions_per_week": 1}
    offer = {"organisation_id": 1, "session_minutes": 120, "learners": 16, **term, **lists}
    session = {"starts_at": datetime(2027, 3, 2, 11, tzinfo=UTC), "ends_at": datetime(2027, 3, 2, 13, tzinfo=UTC)}
    teacher = {"skills": [], "availability": [], "max_minutes_per_week": 600, "refused_venue_ids": []}
    return [
        _insert("regions", id=1, name="临江区", level="district"),
        _insert("organisations", id=1, name="江滨街道社区学校", kind="community_school", region_id=1),
        _insert("venues", id=1, name="江滨街道社区学校", kind="community_school", region_id=1, owner_id=1),
        _insert("spaces", id=1, venue_id=1, name="烹饪教室", kind="kitchen", capacity=20, features=[]),
        _insert("teachers", id=1, name="王老师", **teacher),
        _insert("classes", id=1, title="家常菜", required_kind="kitchen", **offer),
        _insert("classes", id=2, title="英语角", required_kind=None, **offer),
        _insert(
            "bookings",
            id=1,
            space_id=1,
            organisation_id=1,
            title="家常菜",
            attendees=16,
            state="confirmed",
            created_at=now,
            updated_at=now,
            **session,
        ),
        _insert("class_bookings", booking_id=1, class_id=1, teacher_id=1, session_index=0),
    ]


def test_0007_turns_required_kind_into_allowed_kinds_and_back(empty_url):
    classes = sa.table("classes", sa.column("id"), sa.column("allowed_kinds", JSONList), sa.column("required_kind"))
    upgrade(empty_url, "0006")
    _execute(empty_url, *_classes_at_0006_one_of_them_booked())

    upgrade(empty_url)

    assert _rows(empty_url, sa.select(classes.c.id, classes.c.allowed_kinds).order_by(classes.c.id)) == [
        (1, ["kitchen"]),
        (2, []),
    ]
    assert "required_kind" not in _columns(empty_url, "classes")

    _execute(empty_url, sa.update(classes).where(classes.c.id == 2).values(allowed_kinds=["classroom", "reading_room"]))
    downgrade(empty_url, "0006")

    assert _rows(empty_url, sa.select(classes.c.id, classes.c.required_kind).order_by(classes.c.id)) == [
        (1, "kitchen"),
        (2, "classroom"),  # the first of several kinds
    ]
    assert "allowed_kinds" not in _columns(empty_url, "classes")
    assert _rows(empty_url, sa.text("SELECT class_id FROM class_bookings")) == [(1,)]
