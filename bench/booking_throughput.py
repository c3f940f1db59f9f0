"""Booking throughput on PostgreSQL: the HTTP API against a raw asyncpg INSERT baseline.

Both phases run in one invocation, on one scratch database, with the same slot
distribution (mostly free one-hour slots spread over many spaces, plus a share of
deliberate repeats that the exclusion constraint must refuse) and the same number of
concurrent clients:

* app: POST /api/v1/bookings against the real server (``venueshare serve``), 201 or 409;
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
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import URL, make_url

from booking.migrate import upgrade

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


class BenchError(Exception):
    """The benchmark could not run or its answers were wrong (not: it was slow)."""


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
# Opens one client (a connection, or a share of one HTTP pool) for the length of a phase.
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
                except BenchError:
                    raise
                except Exception as error:  # every failure is counted, then judged
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
    p50, p99 = percentiles_ms(tally.latencies)
    for message in tally.errors[:5]:
        print(f"  {name}: error: {message}", file=sys.stderr)
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


# --- app phase: the HTTP API ----------------------------------------------------------------


def api_client(client: httpx.AsyncClient, organisation_id: int) -> OpenClient:
    async def send(slot: Slot) -> Outcome:
        response = await client.post(
            "/api/v1/bookings",
            json={
                "space_id": slot.space_id,
                "organisation_id": organisation_id,
                "title": f"bench {slot.seq}",
                "attendees": 10,
                "starts_at": slot.starts_at.isoformat(),
                "ends_at": slot.ends_at.isoformat(),
            },
        )
        if response.status_code == 201:
            return Outcome.BOOKED
        if response.status_code == 409:
            return Outcome.CONFLICT
        raise RequestFailed(f"HTTP {response.status_code}: {response.text[:300]}")

    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        yield send  # every client shares the one keep-alive pool

    return open_client


async def app_phase(base_url: str, plan: SlotPlan, organisation_id: int, *, clients: int, requests: int) -> PhaseResult:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        return await measure("app", api_client(client, organisation_id), plan, clients=clients, requests=requests)


# --- raw phase: single-row INSERTs into a copy of occurrences ------------------------------

RAW_INSERT = """
    INSERT INTO bench_occurrences
        (booking_id, space_id, starts_at, ends_at, blocked_start_at, blocked_end_at, state)
    VALUES ($1, $2, $3, $4, $3, $4, 'confirmed')
    RETURNING id
"""


def raw_client(pool: asyncpg.Pool) -> OpenClient:
    @contextlib.asynccontextmanager
    async def open_client() -> AsyncIterator[Send]:
        # One connection held for the whole phase, as the app's pool holds its own.
        async with pool.acquire() as connection:

            async def send(slot: Slot) -> Outcome:
                try:
                    await connection.fetchval(RAW_INSERT, slot.seq, slot.space_id, slot.starts_at, slot.ends_at)
                except asyncpg.exceptions.ExclusionViolationError:
                    return Outcome.CONFLICT
                return Outcome.BOOKED

            yield send

    return open_client


async def raw_phase(dsn: str, plan: SlotPlan, *, clients: int, requests: int) -> PhaseResult:
    async with asyncpg.create_pool(dsn, min_size=clients, max_size=clients) as pool:
        return await measure("raw", raw_client(pool), plan, clients=clients, requests=requests)


# --- the scratch database -------------------------------------------------------------------


def driver_url(url: str | URL, driver: str) -> str:
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


async def _admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(driver_url(admin_url, "postgresql"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[URL]:
    """A fresh database next to the admin one, dropped afterwards whatever happens."""
    name = f"venueshare_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    print(f"scratch database {name}", file=sys.stderr)
    try:
        yield make_url(admin_url).set(database=name)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(f"dropped {name}", file=sys.stderr)


@dataclass(frozen=True, slots=True)
class Seed:
    organisation_id: int
    space_ids: list[int]


async def seed(dsn: str) -> Seed:
    """One district, organisation and venue with many leaf spaces; and the baseline table."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            region_id = await connection.fetchval(
                "INSERT INTO regions (name, level) VALUES ('Bench District', 'district') RETURNING id"
            )
            organisation_id = await connection.fetchval(
                "INSERT INTO organisations (name, kind, region_id) VALUES ('Bench Club', 'ngo', $1) RETURNING id",
                region_id,
            )
            venue_id = await connection.fetchval(
                "INSERT INTO venues (name, kind, region_id, owner_id) "
                "VALUES ('Bench Hall', 'community_centre', $1, $2) RETURNING id",
                region_id,
                organisation_id,
            )
            rows = await connection.fetch(
                "INSERT INTO spaces (venue_id, name, kind, capacity, features) "
                "SELECT $1, 'Room ' || n, 'meeting_room', $2, '[]'::jsonb FROM generate_series(1, $3) AS n "
                "RETURNING id",
                venue_id,
                SPACE_CAPACITY,
                SPACE_COUNT,
            )
            await create_baseline_table(connection)
    finally:
        await connection.close()
    return Seed(organisation_id=organisation_id, space_ids=sorted(row["id"] for row in rows))


async def create_baseline_table(connection: asyncpg.Connection) -> None:
    """``occurrences`` copied from the live definition (LIKE copies CHECKs, indexes and the
    EXCLUDE constraint; never foreign keys), with its own id sequence."""
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


# --- the server -----------------------------------------------------------------------------


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


def wait_until_healthy(base_url: str, server: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise BenchError(f"server exited with {server.returncode}:\n{log.read().decode(errors='replace')}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
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
        f"ratio app/raw throughput: {ratio:.2f}   (target >= {TARGET_RATIO}: {_verdict(ratio >= TARGET_RATIO)})",
        f"app p99: {app.p99_ms:.1f} ms          (target < {TARGET_APP_P99_MS:.0f} ms: "
        f"{_verdict(app.p99_ms < TARGET_APP_P99_MS)})",
        f"load generator CPU: app {app.client_cpu_seconds:.2f} s of {app.seconds:.2f} s wall, "
        f"raw {raw.client_cpu_seconds:.2f} s of {raw.seconds:.2f} s wall",
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
    # Whole hours, a day ahead: every slot is in the future and on the hour.
    origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)

    def plan(space_ids: list[int]) -> SlotPlan:
        return SlotPlan(space_ids, origin, args.conflict_share)

    with scratch_database(args.postgres_url) as url:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        upgrade(app_url)
        seeded = asyncio.run(seed(dsn))
        with running_server(app_url, workers=args.workers) as base_url:
            print(f"app phase: {base_url}, {args.workers} workers", file=sys.stderr)
            app = asyncio.run(
                app_phase(
                    base_url,
                    plan(seeded.space_ids),
                    seeded.organisation_id,
                    clients=args.clients,
                    requests=args.requests,
                )
            )
        # The server is stopped first so the baseline has the cores (and connections) to itself.
        print("raw phase: asyncpg INSERT into bench_occurrences", file=sys.stderr)
        raw = asyncio.run(raw_phase(dsn, plan(seeded.space_ids), clients=args.clients, requests=args.requests))
    return report(app, raw, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        table = run(args)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(table)
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
