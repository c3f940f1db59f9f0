"""Real databases for every test: SQLite always, PostgreSQL whenever TEST_POSTGRES_URL is set.

TEST_POSTGRES_URL names an administrative database (``.../postgres``); the suite creates its
own scratch database beside it and drops it at the end. If the variable is set and the
server cannot be reached, the PostgreSQL tests fail: they are never silently skipped.
"""

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.app import create_app
from booking.config import Settings, normalise_database_url
from booking.db import create_engine
from booking.migrate import upgrade
from booking.models import ApiToken, RoleGrant, User
from tests.factories import Factory

BACKENDS = ("sqlite", "postgresql")
UNUSABLE_PASSWORD = "!"  # not an argon2 hash: nobody signs in with a password as these users
TABLES = (
    "webhook_deliveries",
    "webhook_endpoints",
    "learning_events",
    "session_codes",
    "attendance",
    "applications",
    "enrolment_policies",
    "resident_agents",
    "residents",
    "outbox",
    "booking_events",
    "policies",
    "api_tokens",
    "role_grants",
    "users",
    "class_bookings",
    "allocations",
    "classes",
    "teachers",
    "idempotency_keys",
    "occurrences",
    "bookings",
    "closures",
    "opening_hours",
    "space_tree",
    "spaces",
    "venues",
    "organisations",
    "regions",
)


def postgres_admin_url() -> str | None:
    return os.environ.get("TEST_POSTGRES_URL") or None


def _asyncpg_dsn(url: str) -> str:
    return make_url(normalise_database_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str) -> str:
    name = f"venueshare_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(normalise_database_url(admin_url)).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory) -> dict[str, str]:
    """One migrated database per backend for the whole run; tests empty it before use."""
    urls = {"sqlite": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'venueshare.db'}"}
    admin = postgres_admin_url()
    if admin:
        urls["postgresql"] = asyncio.run(create_postgres_database(admin))
    for url in urls.values():
        upgrade(url)
    yield urls
    if admin:
        asyncio.run(drop_postgres_database(admin, urls["postgresql"]))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql" and not postgres_admin_url():
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: set TEST_POSTGRES_URL")
        pytest.skip("PostgreSQL tests need TEST_POSTGRES_URL (scripts/test and CI set it)")
    return request.param


JOB_QUEUE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)  # PostgreSQL only


@pytest.fixture
async def db_url(backend: str, migrated_urls: dict[str, str]) -> str:
    url = migrated_urls[backend]
    engine = create_engine(url)
    async with engine.begin() as connection:
        if backend == "postgresql":
            tables = ", ".join((*TABLES, *JOB_QUEUE_TABLES))
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


# The fake clock drives every test, so no sweeper runs on a timer: one that woke mid-test would draw
# lotteries, release sessions or send webhooks at whatever moment the clock then showed. Tests
# sweep and deliver explicitly.
TEST_SETTINGS = {"sweep_every_s": 0, "deliver_every_s": 0}


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 1, 10, 0, 0, tzinfo=UTC))


@pytest.fixture
def settings_overrides() -> dict:
    """Settings of the app under test besides its database; override with
    ``@pytest.mark.parametrize("settings_overrides", [{"solver_memory_mb": 64}])``."""
    return {}


@pytest.fixture
async def transport(db_url: str, clock: FakeClock, settings_overrides: dict) -> AsyncIterator[httpx.ASGITransport]:
    """The real app behind an in-process transport. ASGITransport runs requests concurrently in this loop."""
    app = create_app(Settings(database_url=db_url, **(TEST_SETTINGS | settings_overrides)), clock=clock)
    lifespan = await start_lifespan(app)
    yield httpx.ASGITransport(app=app)
    await stop_lifespan(*lifespan)


@pytest.fixture
async def as_user(transport, db_url: str, clock: FakeClock):
    """``await as_user(role, organisation_id=..., region_id=...)``: a client signed in with that one grant
    (``role=None``: anonymous)."""
    opened: list[httpx.AsyncClient] = []

    async def signed_in(role: str | None, **scope: int | None) -> httpx.AsyncClient:
        headers = {} if role is None else bearer(await issue_token(db_url, clock.now, role, **scope))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1", headers=headers)
        opened.append(http)
        return http

    yield signed_in
    for http in opened:
        await http.aclose()


@pytest.fixture
async def client(as_user) -> httpx.AsyncClient:
    """A client signed in as a district administrator of the whole district."""
    return await as_user("district_admin")


@pytest.fixture
async def anonymous(as_user) -> httpx.AsyncClient:
    return await as_user(None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def issue_token(
    db_url: str, now: datetime, role: str, *, organisation_id: int | None = None, region_id: int | None = None
) -> str:
    """A user holding one grant, and an API token for it, written straight to the database (fast:
    no password hashing per test)."""
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            return await insert_signed_in_user(connection, now, role, organisation_id, region_id)
    finally:
        await engine.dispose()


async def insert_signed_in_user(
    connection, now: datetime, role: str, organisation_id: int | None, region_id: int | None, *, name: str = ""
) -> str:
    """In an open transaction: a user with one grant and an API token; the token."""
    token = f"vs_test_{uuid.uuid4().hex}"
    user_id = await connection.scalar(
        insert(User)
        .values(username=f"{name or role}-{uuid.uuid4().hex[:8]}", password_hash=UNUSABLE_PASSWORD, created_at=now)
        .returning(User.id)
    )
    grant = {"user_id": user_id, "role": role, "organisation_id": organisation_id, "region_id": region_id}
    await connection.execute(insert(RoleGrant).values(**grant))
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    await connection.execute(
        insert(ApiToken).values(user_id=user_id, name="tests", kind="api", token_hash=token_hash, created_at=now)
    )
    return token


async def start_lifespan(app) -> tuple[asyncio.Task, asyncio.Queue, asyncio.Queue]:
    """Drive the ASGI lifespan from a task of its own, so start-up and shut-down share one task."""
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    message = await from_app.get()
    assert message["type"] == "lifespan.startup.complete", message
    return task, to_app, from_app


async def stop_lifespan(task: asyncio.Task, to_app: asyncio.Queue, from_app: asyncio.Queue) -> None:
    await to_app.put({"type": "lifespan.shutdown"})
    message = await from_app.get()
    assert message["type"] == "lifespan.shutdown.complete", message
    await task


@pytest.fixture
def make(client: httpx.AsyncClient) -> Factory:
    return Factory(client)
