"""Booking throughput on PostgreSQL: the HTTP API against a raw asyncpg INSERT baseline.

Both phases run in one invocation, on one scratch database, with the same slot
distribution (mostly free one-hour slots spread over many spaces, plus a share of
deliberate repeats that the exclusion constraint must refuse) and the same number of
concurrent clients:

* app: POST /api/v1/bookings against the real server (``venueshare serve``), 201 or 409,
  signed in as an organiser of the booking organisation (so the permission and policy checks
  run as they do for real users);
* raw: single-row autocommit INSERTs into ``bench_occurrences``, a copy of ``occurrences``
  with the same columns, CHECKs, indexes and exclusion constraint (no foreign keys).

The figure of merit is app throughput / raw throughput. Timing never fails the run: the
exit status is non-zero only when the benchmark itself could not run (or >1% errors).

    .venv/bin/python bench/booking_throughput.py [--clients 32] [--requests 4000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import IO, Any

import asyncpg
from common import BenchError, driver_url, run_benchmark, scratch_database
from sqlalchemy.ext.asyncio import AsyncSession

from booking.db import create_engine
from booking.migrate import upgrade
from booking.schemas.accounts import UserCreate
from booking.services.accounts import create_user

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

TARGET_RATIO = 0.5  # app throughput / raw throughput
TARGET_APP_P99_MS = 50.0
MAX_ERROR_SHARE = 0.01
WARMUP_REQUESTS = 200
SPACE_COUNT = 200
SPACE_CAPACITY = 50
SLOT_LENGTH = timedelta(hours=1)
SERVER_START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


class RequestFailed(Exception):
    """One request got neither "booked" nor "conflict" (counted; the run aborts above 1%)."""


# --- the workload, shared by both phases -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    seq: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
    repeat: bool = False  # a deliberate repeat of an already-booked slot: must be refused


class SlotPlan:
    """Fresh slots from a counter (never colliding), and an exact share of repeats.

    Fresh slot n goes to space n mod S, hour n div S after ``origin``; a repeat copies a slot
    that has already been booked (``booked`` is told about each success).
    """

    def __init__(self, space_ids: list[int], origin: datetime, conflict_share: float, seed: int = 1) -> None:
        self._space_ids = space_ids
        self._origin = origin
        self._conflict_share = conflict_share
        self._rng = random.Random(seed)
        self._issued = itertools.count()
        self._fresh = itertools.count()
        self._booked: list[Slot] = []

    def next(self) -> Slot:
        n = next(self._issued)
        wants_repeat = int((n + 1) * self._conflict_share) > int(n * self._conflict_share)
        if wants_repeat and self._booked:
            return replace(self._rng.choice(self._booked), seq=n, repeat=True)
        fresh = next(self._fresh)
        starts_at = self._origin + SLOT_LENGTH * (fresh // len(self._space_ids))
        space_id = self._space_ids[fresh % len(self._space_ids)]
        return Slot(seq=n, space_id=space_id, starts_at=starts_at, ends_at=starts_at + SLOT_LENGTH)

    def booked(self, slot: Slot) -> None:
        if not slot.repeat:
            self._booked.append(slot)


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
        body = json.dumps(payload).encode()
        auth = f"Authorization: Bearer {token}\r\n" if token else self._auth
        self._writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n{auth}"
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


async def seed_through_api(base_url: str, database_url: str) -> Seed:
    """One district, organisation and venue with many leaf spaces, made as a user would: by a
    district administrator; the bookings are then made by an organiser of the organisation."""
    await add_user(database_url, "bench-admin", "district_admin")
    admin_token = await sign_in(base_url, "bench-admin")
    async with HttpConnection.open(base_url, admin_token) as api:
        region_id = await create(api, "/api/v1/regions", {"name": "Bench District", "level": "district"})
        organisation_id = await create(
            api, "/api/v1/organisations", {"name": "Bench Club", "kind": "ngo", "region_id": region_id}
        )
        venue = {"name": "Bench Hall", "kind": "community_centre", "region_id": region_id, "owner_id": organisation_id}
        venue_id = await create(api, "/api/v1/venues", venue)
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


def api_client(base_url: str, seed: Seed) -> OpenClient:
    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        async with HttpConnection.open(base_url, seed.organiser_token) as api:

            async def send(slot: Slot) -> Outcome:
                status, body = await api.post_json(
                    "/api/v1/bookings",
                    {
                        "space_id": slot.space_id,
                        "organisation_id": seed.organisation_id,
                        "title": f"bench {slot.seq}",
                        "attendees": 10,
                        "starts_at": slot.starts_at.isoformat(),
                        "ends_at": slot.ends_at.isoformat(),
                    },
                )
                if status == 201:
                    return Outcome.BOOKED
                if status == 409:
                    return Outcome.CONFLICT
                raise RequestFailed(f"HTTP {status}: {body[:300]!r}")

            yield send

    return open_client


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


def report(app: PhaseResult, raw: PhaseResult, args: argparse.Namespace) -> str:
    header = f"{'phase':<6}{'requests':>9}{'201':>7}{'409':>6}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    lines = [
        f"booking throughput: {args.clients} clients, {args.requests} requests/phase, "
        f"{args.workers} API workers, {args.conflict_share:.0%} conflicts, {os.cpu_count()} CPUs",
        header,
        "-" * len(header),
    ]
    for phase in (app, raw):
        lines.append(
            f"{phase.name:<6}{phase.requests:>9}{phase.booked:>7}{phase.conflicts:>6}{phase.errors:>8}"
            f"{phase.throughput:>9.0f}{phase.p50_ms:>9.1f}{phase.p99_ms:>9.1f}"
        )
    ratio = app.throughput / raw.throughput
    lines += [
        "",
        f"ratio app/raw throughput: {ratio:.2f}  (target >= {TARGET_RATIO}: {_verdict(ratio >= TARGET_RATIO)})",
        f"app p99: {app.p99_ms:.1f} ms  "
        f"(target < {TARGET_APP_P99_MS:.0f} ms: {_verdict(app.p99_ms < TARGET_APP_P99_MS)})",
        f"load generator CPU: app {app.client_cpu_seconds:.2f} s in {app.seconds:.2f} s, "
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
    parser.add_argument("--conflict-share", type=float, default=0.1, help="share of repeated slots (default 0.1)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 100 or args.workers < 1 or not 0 <= args.conflict_share < 1:
        parser.error("need clients >= 1, requests >= 100, workers >= 1, 0 <= conflict-share < 1")
    return args


def run(args: argparse.Namespace) -> str:
    # Whole hours from a day ahead: every slot is in the future; both phases get the same slots.
    origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    sizes = {"clients": args.clients, "requests": args.requests}
    with scratch_database(args.postgres_url) as url:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        upgrade(app_url)
        with running_server(app_url, workers=args.workers) as base_url:
            seed = asyncio.run(seed_through_api(base_url, app_url))
            print(f"app phase: {base_url}, {args.workers} workers", file=sys.stderr)
            app_plan = SlotPlan(seed.space_ids, origin, args.conflict_share)
            app = asyncio.run(measure("app", api_client(base_url, seed), app_plan, **sizes))
        # The server is stopped first so the baseline has the cores (and connections) to itself.
        print("raw phase: asyncpg INSERT into bench_occurrences", file=sys.stderr)
        raw_plan = SlotPlan(seed.space_ids, origin, args.conflict_share)
        raw = asyncio.run(raw_phase(dsn, raw_plan, **sizes))
    return report(app, raw, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
