"""Booking throughput on PostgreSQL: the HTTP API, the app's own SQL replayed, and a raw INSERT.

Three phases run in one invocation, in this order, on one scratch database, with the same
slot distribution (mostly free one-hour slots spread over many spaces, plus a share of
deliberate repeats that must be refused) and the same number of concurrent clients:

* app: POST /api/v1/bookings against the real server (``venueshare serve``), 201 or 409,
  signed in as an organiser of the booking organisation (so the permission and policy checks
  run as they do for real users);
* replay: the SQL the app sends for one booking (the same statements, in the same round trips
  and transactions, a refused slot taking the app's refusal path), sent over the load
  generator's own asyncpg connections, without HTTP and without the app. It is captured at
  the driver while the app, built in this process, books a few slots; each replay fills in its
  slot's values, the ids its earlier statements returned and the clock's reading;
* raw: single-row autocommit INSERTs into ``bench_occurrences``, a copy of ``occurrences``
  with the same columns, CHECKs, indexes and exclusion constraint (no foreign keys).

The figures of merit are app/raw throughput, app/replay throughput (what the app's Python
costs beside the SQL it sends) and app p99. Timing never fails the run: the exit status is
non-zero only when the benchmark itself could not run (or >1% errors).

    .venv/bin/python bench/booking_throughput.py [--clients 32] [--requests 4000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import itertools
import json
import logging
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from enum import Enum
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from asyncpg.prepared_stmt import PreparedStatement
from availability_search import start_lifespan, stop_lifespan
from common import BenchError, driver_url, run_benchmark, scratch_database
from sqlalchemy.ext.asyncio import AsyncSession

from booking.app import create_app
from booking.config import Settings
from booking.db import create_engine
from booking.migrate import upgrade
from booking.schemas.accounts import UserCreate
from booking.services.accounts import create_user
from integrations.holidays import public_holidays

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

TARGET_RATIO = 0.25  # app throughput / raw throughput
TARGET_APP_OVER_REPLAY = 0.6  # app throughput / replay throughput
TARGET_APP_P99_MS = 50.0
MAX_ERROR_SHARE = 0.01
WARMUP_REQUESTS = 200
SPACE_COUNT = 200
SPACE_CAPACITY = 50
SLOT_LENGTH = timedelta(hours=1)
VENUE_ZONE = ZoneInfo("Asia/Shanghai")
VENUE_COUNTRY = "CN"
OPENS_HOUR, CLOSES_HOUR = 7, 22  # the venue's hours, every day; sessions start on the hour
HISTORY_DAYS = 28  # every open hour of every room booked and held in the four weeks before the run
CAPTURE_HOURS = 150  # open hours kept before the app's first slot for the replay's captures
# The venue's rules, as a district would set them: automatic approval, 30-minute steps, 30 minutes
# to 4 hours, booked an hour to a year ahead. With --weekly-quota also a weekly quota per
# organisation and room (counted on every request; as large as a week's open hours, since the
# bench's one organisation books every hour of every room).
VENUE_POLICY = {
    "approval": "auto",
    "min_duration_min": 30,
    "max_duration_min": 240,
    "slot_step_min": 30,
    "lead_time_min": 60,
    "horizon_days": 365,
}
WEEKLY_QUOTA = {"max_minutes_per_week": 7 * (CLOSES_HOUR - OPENS_HOUR) * 60}
SERVER_START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


class RequestFailed(Exception):
    """One request got neither "booked" nor "conflict" (counted; the run aborts above 1%)."""


# --- the workload, shared by all phases --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    seq: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
    repeat: bool = False  # a deliberate repeat of an already-booked slot: must be refused


class Timeline:
    """The hour-long sessions the bench's venue takes, in order from tomorrow: it opens 07:00-22:00
    local time every day and closes on public holidays, so a slot plan skips nights and holidays
    as real bookers must (and the app checks hours and holidays on every request)."""

    def __init__(self, first_day: date) -> None:
        self._starts: list[datetime] = []
        self._days = (first_day + timedelta(days=n) for n in itertools.count())

    def __getitem__(self, index: int) -> datetime:
        while len(self._starts) <= index:
            day = next(self._days)
            if day in _holidays(day.year):
                continue
            for hour in range(OPENS_HOUR, CLOSES_HOUR):
                self._starts.append(datetime.combine(day, dt_time(hour), VENUE_ZONE).astimezone(UTC))
        return self._starts[index]


@functools.cache
def _holidays(year: int) -> frozenset[date]:
    return frozenset(day for day, _ in public_holidays(VENUE_COUNTRY, date(year, 1, 1), date(year, 12, 31)))


class SlotPlan:
    """Fresh slots from a counter (never colliding), and an exact share of repeats.

    Fresh slot n goes to space n mod S, in the timeline's hour ``first`` + n div S; a repeat
    copies a slot that has already been booked (``booked`` is told about each success).
    """

    def __init__(
        self, space_ids: list[int], timeline: Timeline, first: int, conflict_share: float, seed: int = 1
    ) -> None:
        self._space_ids = space_ids
        self._timeline = timeline
        self._first = first
        self._conflict_share = conflict_share
        self._rng = random.Random(seed)
        self._issued = itertools.count()
        self._fresh_issued = 0
        self._booked: list[Slot] = []

    def next(self) -> Slot:
        n = next(self._issued)
        wants_repeat = int((n + 1) * self._conflict_share) > int(n * self._conflict_share)
        if wants_repeat and self._booked:
            return replace(self._rng.choice(self._booked), seq=n, repeat=True)
        fresh, self._fresh_issued = self._fresh_issued, self._fresh_issued + 1
        starts_at = self._timeline[self._first + fresh // len(self._space_ids)]
        space_id = self._space_ids[fresh % len(self._space_ids)]
        return Slot(seq=n, space_id=space_id, starts_at=starts_at, ends_at=starts_at + SLOT_LENGTH)

    def booked(self, slot: Slot) -> None:
        if not slot.repeat:
            self._booked.append(slot)

    def end(self) -> int:
        """The timeline's first hour after every fresh slot issued so far: a plan starting there
        collides with none."""
        return self._first + self._fresh_issued // len(self._space_ids) + 1


class Outcome(Enum):
    BOOKED = "booked"
    CONFLICT = "conflict"


# One client's way of asking for a slot; raises on anything but booked / conflict.
Send = Callable[[Slot], Awaitable[Outcome]]
# Opens one client (one connection, held for the whole phase) and yields its Send.
OpenClient = Callable[[], AbstractAsyncContextManager[Send]]


@dataclass(slots=True)
class Tally:
    requests: int
    latencies: list[float] = field(default_factory=list)
    booked: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, slot: Slot, outcome: Outcome, seconds: float) -> None:
        if outcome is Outcome.BOOKED and slot.repeat:
            raise BenchError(f"a repeated slot was accepted (double booking): {slot}")
        if outcome is Outcome.CONFLICT and not slot.repeat:
            self.fail(f"a fresh slot was refused: {slot}")
            return
        self.latencies.append(seconds)
        if outcome is Outcome.BOOKED:
            self.booked += 1
        else:
            self.conflicts += 1

    def fail(self, message: str) -> None:
        self.errors.append(message)
        if len(self.errors) > self.requests * MAX_ERROR_SHARE:
            raise BenchError(f"more than {MAX_ERROR_SHARE:.0%} errors; first: {self.errors[0]}")


@dataclass(frozen=True, slots=True)
class PhaseResult:
    name: str
    requests: int
    booked: int
    conflicts: int
    errors: int
    seconds: float
    client_cpu_seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return (self.booked + self.conflicts) / self.seconds


def percentiles_ms(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


async def drive(open_client: OpenClient, plan: SlotPlan, *, clients: int, requests: int) -> Tally:
    """Run ``requests`` requests from ``clients`` concurrent clients, each timed on its own."""
    tally = Tally(requests=requests)
    tickets = iter(range(requests))  # shared: every ticket is taken by exactly one client

    async def client() -> None:
        async with open_client() as send:
            for _ in tickets:
                slot = plan.next()
                started = time.perf_counter()
                try:
                    outcome = await send(slot)
                except (RequestFailed, OSError, asyncio.IncompleteReadError, asyncpg.PostgresError) as error:
                    tally.fail(f"{type(error).__name__}: {error}")
                    continue
                tally.record(slot, outcome, time.perf_counter() - started)
                if outcome is Outcome.BOOKED:
                    plan.booked(slot)

    await asyncio.gather(*(client() for _ in range(clients)))
    return tally


async def measure(name: str, open_client: OpenClient, plan: SlotPlan, *, clients: int, requests: int) -> PhaseResult:
    """A short unmeasured warm-up, then the measured run, on the same slot plan."""
    await drive(open_client, plan, clients=clients, requests=min(WARMUP_REQUESTS, requests))
    cpu_started, started = time.process_time(), time.perf_counter()
    tally = await drive(open_client, plan, clients=clients, requests=requests)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    for message in tally.errors[:5]:
        print(f"  {name}: error: {message}", file=sys.stderr)
    p50, p99 = percentiles_ms(tally.latencies)
    return PhaseResult(
        name=name,
        requests=requests,
        booked=tally.booked,
        conflicts=tally.conflicts,
        errors=len(tally.errors),
        seconds=seconds,
        client_cpu_seconds=cpu_seconds,
        p50_ms=p50,
        p99_ms=p99,
    )


# --- a lean HTTP/1.1 client -----------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, one request at a time, Content-Length bodies only.

    Client, server and PostgreSQL share the machine's cores, so the load generator has to be
    cheap: httpx spends more CPU per request here than the server spends answering /health.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str) -> None:
        self._reader, self._writer, self._host = reader, writer, host
        self._auth = f"Authorization: Bearer {token}\r\n" if token else ""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str, token: str = "") -> AsyncIterator[HttpConnection]:
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            yield cls(reader, writer, f"{host}:{port}", token)
        finally:
            writer.close()

    async def post_json(self, path: str, payload: Any, *, token: str | None = None) -> tuple[int, bytes]:
        """POST as the connection's user, or as ``token``'s (many users may share a connection)."""
        return await self.send_json("POST", path, payload, token=token)

    async def put_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        return await self.send_json("PUT", path, payload)

    async def send_json(self, method: str, path: str, payload: Any, *, token: str | None = None) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        auth = f"Authorization: Bearer {token}\r\n" if token else self._auth
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return await asyncio.wait_for(self._response(), REQUEST_TIMEOUT_S)

    async def _response(self) -> tuple[int, bytes]:
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in header_lines if ": " in line)
        if "content-length" not in headers:
            raise RequestFailed(f"response without Content-Length: {status_line}")
        return int(status_line.split(" ", 2)[1]), await self._reader.readexactly(int(headers["content-length"]))


async def create(connection: HttpConnection, path: str, payload: dict) -> int:
    status, body = await connection.post_json(path, payload)
    if status != 201:
        raise BenchError(f"seeding POST {path} answered {status}: {body[:300]!r}")
    return json.loads(body)["id"]


# --- app phase: the HTTP API ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seed:
    organisation_id: int
    space_ids: list[int]
    organiser_token: str


BENCH_PASSWORD = "bench-password-not-secret"


async def add_user(database_url: str, username: str, role: str, organisation_id: int | None = None) -> None:
    """A user made as the ``venueshare users create`` command makes one."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            session = AsyncSession(bind=connection)
            data = UserCreate(username=username, password=BENCH_PASSWORD, role=role, organisation_id=organisation_id)
            await create_user(session, data, now=datetime.now(UTC))
            await session.flush()
    finally:
        await engine.dispose()


async def sign_in(base_url: str, username: str) -> str:
    async with HttpConnection.open(base_url) as api:
        status, body = await api.post_json("/api/v1/auth/token", {"username": username, "password": BENCH_PASSWORD})
    if status != 200:
        raise BenchError(f"signing in as {username} answered {status}: {body[:300]!r}")
    return json.loads(body)["access_token"]


async def seed_through_api(base_url: str, database_url: str, policy: dict[str, Any]) -> Seed:
    """One district, organisation and venue with many leaf spaces, made as a user would: by a
    district administrator; the bookings are then made by an organiser of the organisation."""
    await add_user(database_url, "bench-admin", "district_admin")
    admin_token = await sign_in(base_url, "bench-admin")
    async with HttpConnection.open(base_url, admin_token) as api:
        region_id = await create(api, "/api/v1/regions", {"name": "Bench District", "level": "district"})
        organisation_id = await create(
            api, "/api/v1/organisations", {"name": "Bench Club", "kind": "ngo", "region_id": region_id}
        )
        venue = {
            "name": "Bench Hall",
            "kind": "community_centre",
            "region_id": region_id,
            "owner_id": organisation_id,
            "timezone": VENUE_ZONE.key,
            "country": VENUE_COUNTRY,
            "closes_on_public_holidays": True,
        }
        venue_id = await create(api, "/api/v1/venues", venue)
        hours = [
            {"weekday": day, "opens": f"{OPENS_HOUR:02d}:00", "closes": f"{CLOSES_HOUR:02d}:00"} for day in range(7)
        ]
        rules = {f"/api/v1/venues/{venue_id}/opening-hours": hours, f"/api/v1/venues/{venue_id}/policy": policy}
        for path, body in rules.items():
            status, answer = await api.put_json(path, body)
            if status != 200:
                raise BenchError(f"PUT {path} answered {status}: {answer[:300]!r}")
    space_ids = await create_spaces(base_url, admin_token, venue_id)
    await add_user(database_url, "bench-organiser", "organiser", organisation_id)
    return Seed(organisation_id, space_ids, await sign_in(base_url, "bench-organiser"))


async def create_spaces(base_url: str, token: str, venue_id: int, connections: int = 10) -> list[int]:
    async def some(numbers: range) -> list[int]:
        async with HttpConnection.open(base_url, token) as api:
            path, space = f"/api/v1/venues/{venue_id}/spaces", {"kind": "meeting_room", "capacity": SPACE_CAPACITY}
            return [await create(api, path, {**space, "name": f"Room {n}"}) for n in numbers]

    batches = await asyncio.gather(*(some(range(k, SPACE_COUNT + 1, connections)) for k in range(1, connections + 1)))
    return sorted(itertools.chain.from_iterable(batches))


async def add_history(dsn: str, seed: Seed, timeline_start: date) -> int:
    """Fill the ``HISTORY_DAYS`` before the timeline with completed bookings, every open hour of
    every room, as a district's past weeks fill its tables; then ANALYZE, as autovacuum keeps a
    live database. The statements the run sends are then planned on tables of a real size and
    shape, not on empty ones. Returns the number of occurrences added."""
    first = datetime.combine(timeline_start - timedelta(days=HISTORY_DAYS), dt_time(0), VENUE_ZONE)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                """
                INSERT INTO bookings (space_id, organisation_id, title, attendees, starts_at, ends_at, state,
                                      version, created_at, updated_at)
                SELECT s, $2, 'history', 10, t, t + interval '1 hour', 'completed', 1, t, t
                FROM unnest($1::int[]) s,
                     generate_series($3::timestamptz, $3::timestamptz + $4 * interval '1 day' - interval '1 hour',
                                     interval '1 hour') t
                WHERE extract(hour FROM t AT TIME ZONE $5) BETWEEN $6 AND $7 - 1
                """,
                seed.space_ids,
                seed.organisation_id,
                first,
                HISTORY_DAYS,
                VENUE_ZONE.key,
                OPENS_HOUR,
                CLOSES_HOUR,
            )
            added = await connection.fetchval(
                """
                WITH o AS (
                    INSERT INTO occurrences (booking_id, space_id, starts_at, ends_at, blocked_start_at, blocked_end_at,
                                             state, original_starts_at)
                    SELECT id, space_id, starts_at, ends_at, starts_at, ends_at, state, starts_at
                    FROM bookings WHERE title = 'history'
                    RETURNING 1
                )
                SELECT count(*) FROM o
                """
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return added


def booking_body(seed: Seed, slot: Slot) -> dict[str, Any]:
    """The JSON body of POST /api/v1/bookings for ``slot``."""
    return {
        "space_id": slot.space_id,
        "organisation_id": seed.organisation_id,
        "title": f"bench {slot.seq}",
        "attendees": 10,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
    }


def api_client(base_url: str, seed: Seed) -> OpenClient:
    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        async with HttpConnection.open(base_url, seed.organiser_token) as api:

            async def send(slot: Slot) -> Outcome:
                status, body = await api.post_json("/api/v1/bookings", booking_body(seed, slot))
                if status == 201:
                    return Outcome.BOOKED
                if status == 409:
                    return Outcome.CONFLICT
                raise RequestFailed(f"HTTP {status}: {body[:300]!r}")

            yield send

    return open_client


# --- replay phase: the app's own SQL for a booking, without HTTP and without the app ----------
#
# What the app sends is captured at the driver: while a booking request runs through the app
# (built in this process, on the scratch database), asyncpg's methods that send statements
# record each statement, its parameters and what it returned. asyncpg's query logger
# (Connection.add_query_logger) cannot do this alone: it reports BEGIN/COMMIT/ROLLBACK and what
# runs through Connection methods, but not executions of prepared statements (SQLAlchemy's
# asyncpg dialect runs every statement as one), and never what a statement returned (a new
# booking's id feeds the statements after it). Wrapping the methods of asyncpg's Connection and
# PreparedStatement sees the same whether the booking path uses the ORM, Core or asyncpg itself;
# the query logger then checks the replay (``check_replay``). Cursors and COPY are not recorded:
# the booking path uses neither.

CAPTURE_SEQ = 1_000_000  # request numbers (and titles) of the captured requests: no plan reaches them
MAX_CAPTURES = 6  # requests to reach two in a row that send the same statements
CLOCK_TOLERANCE = timedelta(minutes=5)  # a timestamp this close to now was read from the clock
SLOT_VALUES = ("space_id", "starts_at", "ends_at")  # every booking must send these on
EXCLUSION_VIOLATION = "exclusion violation"

# The asyncpg methods that send statements, and how each one's result reads as rows.
ROWS_OF: dict[str, Callable[[Any], list]] = {
    "execute": lambda _status: [],
    "executemany": lambda _none: [],
    "fetch": list,
    "fetchmany": list,
    "fetchrow": lambda record: [] if record is None else [record],
    "fetchval": lambda value: [] if value is None else [(value,)],
}


@dataclass(frozen=True, slots=True)
class Sent:
    """One statement as the driver sent it (one round trip)."""

    method: str  # the asyncpg method, a key of ROWS_OF
    query: str
    args: Any  # a tuple of parameters; a list of such tuples for executemany/fetchmany
    rows: list  # what came back, as indexable rows ([] for a command)
    error: Exception | None = None


def outcome_of(rows: list, error: Exception | None) -> str:
    """What may tell a free slot from a taken one at the statement where the two paths part."""
    if isinstance(error, asyncpg.exceptions.ExclusionViolationError):
        return EXCLUSION_VIOLATION
    return "rows" if rows else "no rows"


_capture: ContextVar[list[Sent] | None] = ContextVar("capture", default=None)


def recording(method: Callable[..., Awaitable[Any]], name: str, *, prepared: bool) -> Callable[..., Awaitable[Any]]:
    """``method`` of asyncpg's Connection or (``prepared``) PreparedStatement, recording what it
    sends while a capture is on in the calling task (``capture_request``)."""
    many = name in ("executemany", "fetchmany")
    first = 0 if prepared else 1  # where the parameters start: a Connection method takes the query first

    @functools.wraps(method)
    async def record(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent = _capture.get()
        if sent is None:
            return await method(self, *args, **kwargs)
        query = self.get_query() if prepared else args[0]
        if many:  # the parameter rows may be an iterator: read them once, pass them on as a list
            args = (*args[:first], [tuple(row) for row in args[first]], *args[first + 1 :])
        params = args[first] if many else args[first:]
        try:
            result = await method(self, *args, **kwargs)
        except asyncpg.PostgresError as error:
            sent.append(Sent(name, query, params, [], error))
            raise
        sent.append(Sent(name, query, params, ROWS_OF[name](result)))
        return result

    return record


@contextlib.contextmanager
def driver_recording() -> Iterator[None]:
    """asyncpg's methods that send statements, wrapped by ``recording`` until the block ends."""
    with contextlib.ExitStack() as restore:
        for cls, prepared in ((asyncpg.Connection, False), (PreparedStatement, True)):
            for name in ROWS_OF:
                if (original := getattr(cls, name, None)) is not None:
                    setattr(cls, name, recording(original, name, prepared=prepared))
                    restore.callback(setattr, cls, name, original)
        yield


@dataclass(frozen=True, slots=True)
class Captured:
    slot: Slot
    status: int
    sent: list[Sent]

    @property
    def queries(self) -> list[str]:
        return [statement.query for statement in self.sent]

    def outcome(self, statement: int) -> str:
        """The outcome of statement number ``statement`` (counted from 1)."""
        sent = self.sent[statement - 1]
        return outcome_of(sent.rows, sent.error)


async def capture_request(client: httpx.AsyncClient, seed: Seed, slot: Slot) -> Captured:
    """POST one booking; record what the driver sends for it. The capture is on in this task and in
    any task the request starts, never in the app's background jobs (started before it)."""
    sent: list[Sent] = []
    token = _capture.set(sent)
    try:
        response = await client.post("/bookings", json=booking_body(seed, slot))
    finally:
        _capture.reset(token)
    return Captured(slot, response.status_code, sent)


async def capture_until_steady(
    client: httpx.AsyncClient, seed: Seed, slots: Iterator[Slot], status: int
) -> list[Captured]:
    """Requests until, after a warm-up request, two in a row send the same statements (the first
    ones may open connections and fill the app's and the driver's caches)."""
    captures: list[Captured] = []
    for slot in itertools.islice(slots, MAX_CAPTURES):
        captures.append(captured := await capture_request(client, seed, slot))
        if captured.status != status:
            raise BenchError(f"capturing: booking {slot} answered {captured.status}, not {status}")
        if len(captures) >= 3 and captures[-2].queries == captured.queries:
            return captures
    raise BenchError(f"capturing: no two requests in a row sent the same statements ({len(captures)} tried)")


def capture_slots(space_ids: list[int], timeline: Timeline, before: int, seqs: Iterator[int]) -> Iterator[Slot]:
    """Slots in the timeline's hours just before ``before`` (no phase books there), each an hour
    earlier and on a space with a lower id than the one before, so two requests in a row differ in
    every value they send; and as the ids the database hands out only grow, no id returned in both
    of two requests can pass for their space ids."""
    descending = sorted(space_ids, reverse=True)
    for n in range(before):
        starts_at = timeline[before - n - 1]
        space_id = descending[n % len(descending)]
        yield Slot(seq=next(seqs), space_id=space_id, starts_at=starts_at, ends_at=starts_at + SLOT_LENGTH)


def request_values(seed: Seed, slot: Slot) -> dict[str, Any]:
    """What a booking request tells the app, its times as the datetimes the app reads them as."""
    return {**booking_body(seed, slot), "starts_at": slot.starts_at, "ends_at": slot.ends_at}


@dataclass(slots=True)
class ReplayState:
    """One replayed request: its values, what its statements returned so far, the clock's reading."""

    request: dict[str, Any]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: list[list] = field(default_factory=list)
    fresh: dict[Any, Any] = field(default_factory=dict)  # a captured uuid -> its stand-in in this request


# How a replay computes one parameter (or a part of one).
Value = Callable[[ReplayState], Any]


def _constant(value: Any) -> Value:
    return lambda state: value


def _request_value(key: str) -> Value:
    return lambda state: state.request[key]


def _returned(statement: int, row: int, column: int) -> Value:
    return lambda state: state.rows[statement][row][column]


def _clock(aware: bool) -> Value:
    return (lambda state: state.now) if aware else (lambda state: state.now.replace(tzinfo=None))


def _new_uuid(captured: uuid.UUID) -> Value:
    return lambda state: state.fresh.setdefault(captured, uuid.uuid4())


def _sequence(kind: type, parts: list[Value]) -> Value:
    return lambda state: kind(part(state) for part in parts)


def _mapping(parts: dict[str, Value]) -> Value:
    return lambda state: {key: part(state) for key, part in parts.items()}


def _rendered(render: Callable[[Any], str], inner: Value) -> Value:
    return lambda state: render(inner(state))


# Text whose parts may come from the request: (parse, render), tried in order.
TEXT_FORMATS: tuple[tuple[Callable[[str], Any], Callable[[Any], str]], ...] = (
    (json.loads, json.dumps),  # JSON documents, e.g. an outbox message's payload
    (datetime.fromisoformat, datetime.isoformat),  # timestamps written as text (inside JSON)
)


def _same(x: Any, y: Any) -> bool:
    return type(x) is type(y) and x == y


def _is_clock_reading(value: Any) -> bool:
    if not isinstance(value, datetime):
        return False
    now = datetime.now(UTC) if value.tzinfo else datetime.now(UTC).replace(tzinfo=None)
    return abs(now - value) < CLOCK_TOLERANCE


@dataclass(frozen=True, slots=True)
class Statement:
    method: str  # as captured: execute, fetch, fetchrow, fetchval, executemany, fetchmany
    query: str
    args: Value  # the parameters, computed for each replayed request


class Tracer:
    """Explains each parameter of a captured request by the same parameter of another request:
    equal in both, it is a constant; else it is a value of the request, a value an earlier
    statement returned (found at the same place in both requests), the clock's reading or a new
    uuid. JSON and timestamp text is explained part by part; anything else fails the run."""

    def __init__(self, seed: Seed, first: Captured, second: Captured) -> None:
        if first.queries != second.queries:
            raise BenchError("capturing: two requests sent different statements")
        self._requests = (request_values(seed, first.slot), request_values(seed, second.slot))
        self._sent = (first.sent, second.sent)
        self.used: set[str] = set()  # the request values some parameter comes from

    def statements(self) -> list[Statement]:
        first, second = self._sent
        return [
            Statement(a.method, a.query, self._trace(a.args, b.args, index))
            for index, (a, b) in enumerate(zip(first, second, strict=True))
        ]

    def _trace(self, a: Any, b: Any, statement: int) -> Value:
        if _same(a, b):
            return _constant(a)
        if type(a) in (list, tuple) and type(a) is type(b) and len(a) == len(b):
            return _sequence(type(a), [self._trace(x, y, statement) for x, y in zip(a, b, strict=True)])
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            return _mapping({key: self._trace(a[key], b[key], statement) for key in a})
        if (source := self._source(a, b, statement)) is not None:
            return source
        if _is_clock_reading(a) and _is_clock_reading(b):
            return _clock(a.tzinfo is not None)
        if isinstance(a, uuid.UUID) and isinstance(b, uuid.UUID):
            return _new_uuid(a)
        if isinstance(a, str) and isinstance(b, str):
            for parse, render in TEXT_FORMATS:
                try:
                    parsed = parse(a), parse(b)
                except ValueError:
                    continue
                return _rendered(render, self._trace(*parsed, statement))
        query = " ".join(self._sent[0][statement].query.split())[:80]
        raise BenchError(
            f"capturing: statement {statement + 1} ({query}) sent {a!r} in one request and {b!r} in the "
            "next; neither the request, an earlier result, the clock nor a new uuid explains it"
        )

    def _source(self, a: Any, b: Any, statement: int) -> Value | None:
        (request_a, request_b), (sent_a, sent_b) = self._requests, self._sent
        for key, value in request_a.items():
            if _same(value, a) and _same(request_b[key], b):
                self.used.add(key)
                return _request_value(key)
        for earlier in range(statement):
            for row, (row_a, row_b) in enumerate(zip(sent_a[earlier].rows, sent_b[earlier].rows, strict=False)):
                for column, (x, y) in enumerate(zip(row_a, row_b, strict=False)):
                    if _same(x, a) and _same(y, b):
                        return _returned(earlier, row, column)
        return None


@dataclass(frozen=True, slots=True)
class ReplayTemplate:
    """One booking request as the app sends it: the ``shared`` statements, the last of which tells a
    free slot (its outcome is ``booked_when``) from a taken one (``refused_when``), then the rest of
    the app's path for a booked slot or for a refused one."""

    shared: list[Statement]
    booked: list[Statement]
    refused: list[Statement]
    booked_when: str
    refused_when: str

    def path(self, outcome: Outcome) -> list[Statement]:
        return self.shared + (self.booked if outcome is Outcome.BOOKED else self.refused)

    def describe(self) -> str:
        def verbs(statements: list[Statement]) -> str:
            words = [statement.query.split(None, 1)[0].rstrip(";").upper() for statement in statements]
            runs = [(word, len(list(same))) for word, same in itertools.groupby(words)]
            return ", ".join(f"{word} x{count}" if count > 1 else word for word, count in runs)

        booked, refused = self.path(Outcome.BOOKED), self.path(Outcome.CONFLICT)
        return (
            f"booked {len(booked)} round trips ({verbs(booked)}), refused {len(refused)} ({verbs(refused)}); "
            f"statement {len(self.shared)} gives {self.booked_when} when booked, {self.refused_when} when refused"
        )

    def listing(self) -> list[str]:
        def line(number: int, statement: Statement) -> str:
            return f"{number:>3}. {' '.join(statement.query.split())[:100]}"

        booked = [line(n, s) for n, s in enumerate(self.path(Outcome.BOOKED), 1)]
        refused = [line(n, s) for n, s in enumerate(self.refused, len(self.shared) + 1)]
        return ["booked:", *booked, f"refused, after the first {len(self.shared)}:", *refused]


def shared_length(a: list[str], b: list[str]) -> int:
    """How many statements two requests sent alike before they parted."""
    return next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def build_template(seed: Seed, booked: tuple[Captured, Captured], refused: tuple[Captured, Captured]) -> ReplayTemplate:
    """The booked and the refused path part after the statements they share; the outcome of the last
    shared one must tell them apart, the same in both requests of each pair."""
    for captured in (*booked, *refused):
        for sent in captured.sent:
            if sent.error and not isinstance(sent.error, asyncpg.exceptions.ExclusionViolationError):
                raise BenchError(f"capturing: a statement of the app failed: {sent.error!r}")
    shared = shared_length(booked[0].queries, refused[0].queries)
    if shared == 0:
        raise BenchError("capturing: a booked and a refused request do not even begin alike")
    booked_when, refused_when = {c.outcome(shared) for c in booked}, {c.outcome(shared) for c in refused}
    if len(booked_when) != 1 or len(refused_when) != 1 or booked_when == refused_when:
        raise BenchError(f"capturing: statement {shared} does not tell a booked request from a refused one")
    booked_tracer, refused_tracer = Tracer(seed, *booked), Tracer(seed, *refused)
    booked_path, refused_path = booked_tracer.statements(), refused_tracer.statements()
    if missing := set(SLOT_VALUES) - booked_tracer.used:
        raise BenchError(f"capturing: no statement of a booking sends the slot's {sorted(missing)}")
    return ReplayTemplate(
        booked_path[:shared], booked_path[shared:], refused_path[shared:], booked_when.pop(), refused_when.pop()
    )


async def capture_template(app_url: str, seed: Seed, slots: Iterator[Slot], seqs: Iterator[int]) -> ReplayTemplate:
    """Book through the app, built in this process on the scratch database, while the driver records:
    free slots until two bookings in a row send the same statements, then repeats of those slots
    until two refusals do."""
    app = create_app(Settings(database_url=app_url))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the app's logging config would log every request
    lifespan = await start_lifespan(app)
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {seed.organiser_token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1", headers=headers) as client:
            with driver_recording():
                booked = await capture_until_steady(client, seed, slots, 201)
                repeats = (replace(c.slot, seq=next(seqs), repeat=True) for c in booked)  # in the same order
                refused = await capture_until_steady(client, seed, repeats, 409)
    finally:
        await stop_lifespan(*lifespan)
    return build_template(seed, (booked[-2], booked[-1]), (refused[-2], refused[-1]))


async def send_statement(connection: asyncpg.Connection, statement: Statement, state: ReplayState) -> None:
    """One round trip, as the app made it: BEGIN/COMMIT/ROLLBACK by the simple query protocol, any
    other statement as a prepared statement (cached on the connection, as the app's are)."""
    args = statement.args(state)
    if statement.method == "executemany":
        await connection.executemany(statement.query, args)
        rows = []
    elif statement.method == "fetchmany":
        rows = await connection.fetchmany(statement.query, args)
    elif statement.method == "execute" and not args:
        await connection.execute(statement.query)
        rows = []
    else:
        rows = await connection.fetch(statement.query, *args)
    state.rows.append(rows)


async def replay_booking(connection: asyncpg.Connection, template: ReplayTemplate, request: dict[str, Any]) -> Outcome:
    state = ReplayState(request)
    try:
        for statement in template.shared[:-1]:
            await send_statement(connection, statement, state)
        error = None
        try:
            await send_statement(connection, template.shared[-1], state)
        except asyncpg.exceptions.ExclusionViolationError as violation:
            state.rows.append([])
            error = violation
        seen = outcome_of(state.rows[-1], error)
        if seen not in (template.booked_when, template.refused_when):
            raise RequestFailed(f"statement {len(template.shared)} gave {seen}")
        outcome = Outcome.BOOKED if seen == template.booked_when else Outcome.CONFLICT
        for statement in template.booked if outcome is Outcome.BOOKED else template.refused:
            await send_statement(connection, statement, state)
    except Exception:
        if connection.is_in_transaction():  # leave the connection usable for the client's next request
            await connection.execute("ROLLBACK")
        raise
    return outcome


# asyncpg looks up a parameter type it has no codec for yet (e.g. an array), once per connection,
# with these queries (and turns JIT off around them): the driver's, not the app's.
DRIVER_INTROSPECTION = ("typeinfo_tree", "set_config('jit'", "current_setting('jit')")


async def check_replay(connection: asyncpg.Connection, template: ReplayTemplate, seed: Seed, slot: Slot) -> None:
    """A free slot, then a repeat of it, replayed under asyncpg's query logger: the driver must
    report the captured statements of either path, and the slot must be booked, then refused."""
    logged: list[str] = []

    def log(record: Any) -> None:
        if not any(mark in record.query for mark in DRIVER_INTROSPECTION):
            logged.append(record.query)

    connection.add_query_logger(log)
    try:
        for request, expected in ((slot, Outcome.BOOKED), (replace(slot, repeat=True), Outcome.CONFLICT)):
            logged.clear()
            try:
                outcome = await replay_booking(connection, template, request_values(seed, request))
            except (RequestFailed, asyncpg.PostgresError) as error:
                raise BenchError(f"replay check: replaying {request} failed: {error!r}") from error
            await asyncio.sleep(0)  # the logger is called soon after each statement, not at once
            captured = [statement.query for statement in template.path(expected)]
            if outcome is not expected or logged != captured:
                raise BenchError(
                    f"replay check: replaying {request} gave {outcome.value} after {len(logged)} statements; "
                    f"expected {expected.value} after the {len(captured)} the app sent"
                )
    finally:
        connection.remove_query_logger(log)


def replay_client(
    pool: asyncpg.Pool, template: ReplayTemplate, seed: Seed, outcomes: collections.Counter[Outcome]
) -> OpenClient:
    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        async with pool.acquire() as connection:  # held for the whole phase, like a keep-alive

            async def send(slot: Slot) -> Outcome:
                outcome = await replay_booking(connection, template, request_values(seed, slot))
                outcomes[outcome] += 1
                return outcome

            yield send

    return open_client


async def replay_phase(
    app_url: str,
    dsn: str,
    seed: Seed,
    plan: SlotPlan,
    *,
    timeline: Timeline,
    capture_before: int,
    clients: int,
    requests: int,
) -> tuple[PhaseResult, ReplayTemplate]:
    """Capture the app's statements, check a replay of them, then measure replays on ``plan``."""
    seqs = itertools.count(CAPTURE_SEQ)
    slots = capture_slots(seed.space_ids, timeline, capture_before, seqs)
    template = await capture_template(app_url, seed, slots, seqs)
    for line in template.listing():
        print(f"  {line}", file=sys.stderr)
    outcomes: collections.Counter[Outcome] = collections.Counter()
    async with asyncpg.create_pool(dsn, min_size=clients, max_size=clients) as pool:
        async with pool.acquire() as connection:
            await check_replay(connection, template, seed, next(slots))
            bookings_before = await connection.fetchval("SELECT count(*) FROM bookings")
        client = replay_client(pool, template, seed, outcomes)
        result = await measure("replay", client, plan, clients=clients, requests=requests)
        async with pool.acquire() as connection:
            created = await connection.fetchval("SELECT count(*) FROM bookings") - bookings_before
    if created != outcomes[Outcome.BOOKED]:
        raise BenchError(f"replay: {outcomes[Outcome.BOOKED]} requests were booked, {created} bookings created")
    return result, template


# --- raw phase: single-row INSERTs into a copy of occurrences ------------------------------


async def create_baseline_table(connection: asyncpg.Connection) -> None:
    """``occurrences`` copied from its live definition: LIKE copies the columns, CHECKs,
    indexes and the EXCLUDE constraint (never foreign keys); the id gets its own sequence."""
    await connection.execute(
        """
        CREATE TABLE bench_occurrences (LIKE occurrences INCLUDING ALL EXCLUDING DEFAULTS);
        CREATE SEQUENCE bench_occurrences_id_seq OWNED BY bench_occurrences.id;
        ALTER TABLE bench_occurrences ALTER COLUMN id SET DEFAULT nextval('bench_occurrences_id_seq');
        """
    )
    exclusions = await connection.fetchval(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'bench_occurrences'::regclass AND contype = 'x'"
    )
    if exclusions != 1:
        raise BenchError("bench_occurrences did not inherit the exclusion constraint of occurrences")


# How the baseline fills each column of an occurrence from a slot (no buffers: blocked = booked).
BASELINE_VALUES: dict[str, Callable[[Slot], Any]] = {
    "booking_id": lambda slot: slot.seq,
    "space_id": lambda slot: slot.space_id,
    "starts_at": lambda slot: slot.starts_at,
    "ends_at": lambda slot: slot.ends_at,
    "blocked_start_at": lambda slot: slot.starts_at,
    "blocked_end_at": lambda slot: slot.ends_at,
    "original_starts_at": lambda slot: slot.starts_at,
    "state": lambda slot: "confirmed",
}


async def baseline_insert(connection: asyncpg.Connection) -> tuple[str, list[Callable[[Slot], Any]]]:
    """The INSERT for the columns the app writes: every required column, plus known optional ones."""
    columns = await connection.fetch(
        "SELECT column_name, is_nullable = 'NO' AND column_default IS NULL AS required "
        "FROM information_schema.columns WHERE table_name = 'bench_occurrences' AND column_name <> 'id' "
        "ORDER BY ordinal_position"
    )
    unknown = [c["column_name"] for c in columns if c["required"] and c["column_name"] not in BASELINE_VALUES]
    if unknown:
        raise BenchError(f"occurrences has required columns the baseline cannot fill: {unknown}")
    names = [c["column_name"] for c in columns if c["column_name"] in BASELINE_VALUES]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO bench_occurrences ({', '.join(names)}) VALUES ({placeholders}) RETURNING id"
    return sql, [BASELINE_VALUES[name] for name in names]


def raw_client(pool: asyncpg.Pool, sql: str, values: list[Callable[[Slot], Any]]) -> OpenClient:
    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        async with pool.acquire() as connection:  # held for the whole phase, like a keep-alive

            async def send(slot: Slot) -> Outcome:
                try:
                    await connection.fetchval(sql, *(value(slot) for value in values))
                except asyncpg.exceptions.ExclusionViolationError:
                    return Outcome.CONFLICT
                return Outcome.BOOKED

            yield send

    return open_client


async def raw_phase(dsn: str, plan: SlotPlan, *, clients: int, requests: int) -> PhaseResult:
    async with asyncpg.create_pool(dsn, min_size=clients, max_size=clients) as pool:
        async with pool.acquire() as connection:
            await create_baseline_table(connection)
            sql, values = await baseline_insert(connection)
        return await measure("raw", raw_client(pool, sql, values), plan, clients=clients, requests=requests)


# --- the scratch database and the server ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(database_url: str, *, workers: int) -> Iterator[str]:
    """``venueshare serve`` in its own process group; terminated (group and all) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "booking.cli", "serve", "--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_healthy(base_url, server, log)
            yield base_url
        finally:
            stop(server)


def wait_until_healthy(base_url: str, server: subprocess.Popen, log: IO[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise BenchError(f"server exited with {server.returncode}:\n{log.read().decode(errors='replace')}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{base_url}/health", timeout=1.0) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise BenchError(f"server did not answer /health within {SERVER_START_TIMEOUT_S:.0f} s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# --- report ---------------------------------------------------------------------------------


def report(
    app: PhaseResult, replay: PhaseResult, raw: PhaseResult, template: ReplayTemplate, args: argparse.Namespace
) -> str:
    header = f"{'phase':<7}{'requests':>9}{'201':>7}{'409':>6}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    lines = [
        f"booking throughput: {args.clients} clients, {args.requests} requests/phase, "
        f"{args.workers} API workers, {args.conflict_share:.0%} conflicts, {os.cpu_count()} CPUs",
        header,
        "-" * len(header),
    ]
    for phase in (app, replay, raw):
        lines.append(
            f"{phase.name:<7}{phase.requests:>9}{phase.booked:>7}{phase.conflicts:>6}{phase.errors:>8}"
            f"{phase.throughput:>9.0f}{phase.p50_ms:>9.1f}{phase.p99_ms:>9.1f}"
        )
    app_raw, replay_raw = app.throughput / raw.throughput, replay.throughput / raw.throughput
    app_replay = app.throughput / replay.throughput
    lines += [
        "",
        f"ratio app/raw throughput: {app_raw:.2f}  (target >= {TARGET_RATIO}: {_verdict(app_raw >= TARGET_RATIO)})",
        f"ratio replay/raw throughput: {replay_raw:.2f}",
        f"ratio app/replay throughput: {app_replay:.2f}  "
        f"(target >= {TARGET_APP_OVER_REPLAY}: {_verdict(app_replay >= TARGET_APP_OVER_REPLAY)})",
        f"app p99: {app.p99_ms:.1f} ms  "
        f"(target < {TARGET_APP_P99_MS:.0f} ms: {_verdict(app.p99_ms < TARGET_APP_P99_MS)})",
        f"replay, per request as the driver sent it (any pool check-out or reset included): {template.describe()}",
        f"load generator CPU: app {app.client_cpu_seconds:.2f} s in {app.seconds:.2f} s, "
        f"replay {replay.client_cpu_seconds:.2f} s in {replay.seconds:.2f} s, "
        f"raw {raw.client_cpu_seconds:.2f} s in {raw.seconds:.2f} s",
    ]
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="admin database, used only to create and drop a scratch database",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per phase (default 4000)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument(
        "--weekly-quota", action="store_true", help="the venue's policy also counts a weekly quota on every request"
    )
    parser.add_argument("--conflict-share", type=float, default=0.1, help="share of repeated slots (default 0.1)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 100 or args.workers < 1 or not 0 <= args.conflict_share < 1:
        parser.error("need clients >= 1, requests >= 100, workers >= 1, 0 <= conflict-share < 1")
    return args


def run(args: argparse.Namespace) -> str:
    # Open hours from tomorrow: every slot is in the future and past the policy's lead time. The
    # replay books into the same occurrences table as the app, so its plan starts after the app's
    # last slot; the raw phase has a table of its own and gets the app's slots; the replay's
    # captures book the open hours before the app's first.
    timeline = Timeline(datetime.now(VENUE_ZONE).date() + timedelta(days=1))
    sizes = {"clients": args.clients, "requests": args.requests}
    with scratch_database(args.postgres_url) as url:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        upgrade(app_url)
        with running_server(app_url, workers=args.workers) as base_url:
            policy = VENUE_POLICY | (WEEKLY_QUOTA if args.weekly_quota else {})
            seed = asyncio.run(seed_through_api(base_url, app_url, policy))
            history = asyncio.run(add_history(dsn, seed, timeline[0].astimezone(VENUE_ZONE).date()))
            print(f"history: {history} past sessions, analysed", file=sys.stderr)
            print(f"app phase: {base_url}, {args.workers} workers", file=sys.stderr)
            app_plan = SlotPlan(seed.space_ids, timeline, CAPTURE_HOURS, args.conflict_share)
            app = asyncio.run(measure("app", api_client(base_url, seed), app_plan, **sizes))
        # The server is stopped first so the replay and the baseline have the cores (and
        # connections) to themselves.
        print("replay phase: the app's SQL for each booking, over asyncpg connections", file=sys.stderr)
        replay_plan = SlotPlan(seed.space_ids, timeline, app_plan.end(), args.conflict_share)
        replay, template = asyncio.run(
            replay_phase(app_url, dsn, seed, replay_plan, timeline=timeline, capture_before=CAPTURE_HOURS, **sizes)
        )
        print("raw phase: asyncpg INSERT into bench_occurrences", file=sys.stderr)
        raw_plan = SlotPlan(seed.space_ids, timeline, CAPTURE_HOURS, args.conflict_share)
        raw = asyncio.run(raw_phase(dsn, raw_plan, **sizes))
    return report(app, replay, raw, template, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
