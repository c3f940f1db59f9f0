"""Enrolment on PostgreSQL: first-come applications through the API against a raw conditional seat
update, and the lottery draw of a whole term.

Three phases in one invocation, on one scratch database:

* app: 5,000 residents each apply to two of 50 first-come classes (30 seats each: 1,500 seats
  for 10,000 applications), ``POST /api/v1/classes/{id}/applications`` from 64 concurrent
  clients against the real server (``venueshare serve``); 201 enrolled or 409 class_full. Then
  the seats are counted: oversold seats must be 0 and each class's counter must equal its
  enrolled applications;
* raw: the same 10,000 attempts in the same order as one autocommit statement each from 64
  asyncpg connections: a conditional seat update (``enrolled < seats``) and the insert of the
  enrolment, in one writable CTE, the least a correct enrolment can cost;
* draw: 20,000 applications (5,000 residents, four each, random tiers) to 200 lottery classes
  whose windows have closed, drawn as the sweep draws them (in order, in one transaction, term
  limits counted across draws), against the same draws computed
  in memory with no database.

Timing never fails the run: the exit status is non-zero only if the benchmark could not run,
more than 1% of requests failed, or a seat was oversold.

    .venv/bin/python bench/enrolment.py [--clients 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
from booking_throughput import DEFAULT_ADMIN_URL, HttpConnection, percentiles_ms, running_server
from common import BenchError, driver_url, run_benchmark, scratch_database
from sqlalchemy import select

from booking.db import create_engine, sessionmakers
from booking.migrate import upgrade
from booking.models import Application, EnrolmentPolicy
from booking.rules import lottery
from booking.services import draws

RESIDENTS = 5000
FIRST_COME_CLASSES = 50
FIRST_COME_SEATS = 30
APPLICATIONS_EACH = 2
LOTTERY_CLASSES = 200
LOTTERY_APPLICATIONS_EACH = 4
LOTTERY_SEATS = 30
TERM_LIMIT = 3
MAX_ERROR_SHARE = 0.01
TARGET_DRAW_S = 2.0
TERM = (date(2027, 3, 1), date(2027, 6, 30))
LOTTERY_CLOSES_IN = timedelta(days=1)


@dataclass
class World:
    resident_ids: list[int]
    tokens: list[str]
    first_come: list[int]
    lottery: list[int]


async def seed(dsn: str, now: datetime) -> World:
    """Residents with tokens, classes and their policies, written straight to the database."""
    rng = random.Random(7)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            district = await connection.fetchval(
                "INSERT INTO regions (name, level) VALUES ('Bench district', 'district') RETURNING id"
            )
            town = await connection.fetchval(
                "INSERT INTO regions (name, level, parent_id) VALUES ('Bench town', 'town', $1) RETURNING id", district
            )
            communities = [
                await connection.fetchval(
                    "INSERT INTO regions (name, level, parent_id) VALUES ($1, 'community', $2) RETURNING id",
                    f"Community {n}",
                    town,
                )
                for n in range(20)
            ]
            college = await connection.fetchval(
                "INSERT INTO organisations (name, kind, region_id) VALUES ('Bench college', 'community_college', $1)"
                " RETURNING id",
                town,
            )
            first_come = await _classes(connection, college, communities, FIRST_COME_CLASSES, "First come", rng)
            drawn = await _classes(connection, college, communities, LOTTERY_CLASSES, "Lottery", rng)
            await _policies(connection, first_come, "first_come", FIRST_COME_SEATS, now, closes_in=timedelta(days=1))
            # Closing after the app phase, so the server's own sweep does not draw them first.
            await _policies(connection, drawn, "lottery", LOTTERY_SEATS, now, closes_in=LOTTERY_CLOSES_IN)
            resident_ids, tokens = await _residents(connection, communities, now, rng)
            await _lottery_applications(connection, resident_ids, drawn, now, rng)
    finally:
        await connection.close()
    return World(resident_ids, tokens, first_come, drawn)


async def _classes(connection, college: int, communities: list[int], n: int, title: str, rng) -> list[int]:
    return [
        await connection.fetchval(
            "INSERT INTO classes (title, category, target_group, organisation_id, term_start, term_end,"
            " sessions_per_week, session_minutes, learners, required_features, allowed_kinds, preferred_region_ids,"
            " allowed_windows, cohorts) VALUES ($1, 'bench', '', $2, $3, $4, 1, 90, 30, '[]', '[]', $5::jsonb, '[]',"
            " '[]') RETURNING id",
            f"{title} {i}",
            college,
            *TERM,
            _json([rng.choice(communities)]),
        )
        for i in range(n)
    ]


def _json(ids: list[int]) -> str:
    return "[" + ",".join(str(i) for i in ids) + "]"


async def _policies(connection, class_ids: list[int], mode: str, seats: int, now: datetime, *, closes_in) -> None:
    rows = []
    for class_id in class_ids:
        seed = lottery.new_seed()
        rows.append(
            (class_id, now - timedelta(days=2), now + closes_in, seats, mode, seed, lottery.commitment(seed), now)
        )
    await connection.executemany(
        "INSERT INTO enrolment_policies (class_id, opens_at, closes_at, seats, enrolled, mode, tiers, term_limit,"
        " min_learners, completion_percent, seed, seed_commitment, updated_at) VALUES ($1, $2, $3, $4, 0, $5,"
        ' \'["preferred_region", "new_to_class", "everyone"]\', 3, 0, 80, $6, $7, $8)',
        rows,
    )


async def _residents(connection, communities: list[int], now: datetime, rng) -> tuple[list[int], list[str]]:
    users = [(f"bench-resident-{n}", "!", f"Resident {n}", True, 0, now) for n in range(RESIDENTS)]
    await connection.executemany(
        "INSERT INTO users (username, password_hash, display_name, is_active, failed_logins, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        users,
    )
    ids = [row["id"] for row in await connection.fetch("SELECT id FROM users ORDER BY id")]
    tokens = [f"vs_bench_{uuid.uuid4().hex}" for _ in ids]
    await connection.executemany(
        "INSERT INTO role_grants (user_id, role) VALUES ($1, 'resident')", [(user_id,) for user_id in ids]
    )
    await connection.executemany(
        "INSERT INTO api_tokens (user_id, name, kind, token_hash, created_at) VALUES ($1, 'bench', 'api', $2, $3)",
        [
            (user_id, hashlib.sha256(token.encode()).hexdigest(), now)
            for user_id, token in zip(ids, tokens, strict=True)
        ],
    )
    await connection.executemany(
        "INSERT INTO residents (user_id, public_id, display_name, home_region_id, birth_year, id_type, created_at)"
        " VALUES ($1, $2, $3, $4, $5, 'resident_id_card', $6)",
        [(i, str(uuid.uuid4()), f"Resident {i}", rng.choice(communities), rng.randint(1940, 2005), now) for i in ids],
    )
    return ids, tokens


async def _lottery_applications(connection, residents: list[int], classes: list[int], now: datetime, rng) -> None:
    rows = []
    for resident in residents:
        for class_id in rng.sample(classes, LOTTERY_APPLICATIONS_EACH):
            rows.append((str(uuid.uuid4()), class_id, resident, TERM[0], rng.randint(0, 2), now))
    await connection.executemany(
        "INSERT INTO applications (public_id, class_id, resident_id, term_start, state, tier, channel, created_at,"
        " updated_at) VALUES ($1, $2, $3, $4, 'applied', $5, 'self', $6, $6)",
        rows,
    )


# ---- the first-come phases --------------------------------------------------------------------------


@dataclass
class Tally:
    enrolled: int = 0
    full: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return (self.enrolled + self.full) / self.seconds


def attempts(world: World) -> list[tuple[int, int]]:
    """(resident index, class id): every resident applies to two classes, in a shuffled order."""
    rng = random.Random(11)
    pairs = [
        (index, class_id)
        for index in range(len(world.resident_ids))
        for class_id in rng.sample(world.first_come, APPLICATIONS_EACH)
    ]
    rng.shuffle(pairs)
    return pairs


async def drive(clients: int, work: list[tuple[int, int]], open_client) -> Tally:
    tally = Tally()
    tickets = iter(work)

    async def client() -> None:
        async with open_client() as send:
            for index, class_id in tickets:
                started = time.perf_counter()
                try:
                    outcome = await send(index, class_id)
                except (OSError, asyncio.IncompleteReadError, asyncpg.PostgresError, BenchError) as error:
                    tally.errors.append(f"{type(error).__name__}: {error}")
                    continue
                tally.latencies.append(time.perf_counter() - started)
                if outcome:
                    tally.enrolled += 1
                else:
                    tally.full += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    tally.seconds = time.perf_counter() - started
    return tally


def api_client(base_url: str, world: World):
    @contextlib.asynccontextmanager
    async def open_client():
        async with HttpConnection.open(base_url) as api:

            async def send(index: int, class_id: int) -> bool:
                status, body = await api.post_json(
                    f"/api/v1/classes/{class_id}/applications", {}, token=world.tokens[index]
                )
                if status == 201:
                    return True
                if status == 409 and b'"class_full"' in body:
                    return False
                raise BenchError(f"HTTP {status}: {body[:300]!r}")

            yield send

    return open_client


RAW_SETUP = """
CREATE TABLE bench_seats (class_id integer PRIMARY KEY, seats integer NOT NULL,
                          enrolled integer NOT NULL DEFAULT 0 CHECK (enrolled <= seats));
CREATE TABLE bench_enrolments (id serial PRIMARY KEY, class_id integer NOT NULL, resident_id integer NOT NULL,
                               UNIQUE (class_id, resident_id));
"""
RAW_ENROL = """
WITH seat AS (UPDATE bench_seats SET enrolled = enrolled + 1 WHERE class_id = $1 AND enrolled < seats
              RETURNING class_id)
INSERT INTO bench_enrolments (class_id, resident_id) SELECT class_id, $2 FROM seat RETURNING id
"""


async def raw_phase(dsn: str, world: World, work: list[tuple[int, int]], clients: int) -> Tally:
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(RAW_SETUP)
        await setup.executemany(
            "INSERT INTO bench_seats (class_id, seats) VALUES ($1, $2)",
            [(class_id, FIRST_COME_SEATS) for class_id in world.first_come],
        )
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)

    @contextlib.asynccontextmanager
    async def open_client():
        async with pool.acquire() as connection:

            async def send(index: int, class_id: int) -> bool:
                return await connection.fetchval(RAW_ENROL, class_id, world.resident_ids[index]) is not None

            yield send

    try:
        return await drive(clients, work, open_client)
    finally:
        await pool.close()


async def oversold(dsn: str) -> tuple[int, int]:
    """(seats given beyond a class's seats, classes whose counter differs from its enrolments)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT p.seats, p.enrolled, count(a.id) AS held FROM enrolment_policies p"
            " LEFT JOIN applications a ON a.class_id = p.class_id AND a.state = 'enrolled'"
            " WHERE p.mode = 'first_come' GROUP BY p.class_id, p.seats, p.enrolled"
        )
    finally:
        await connection.close()
    return sum(max(0, row["held"] - row["seats"]) for row in rows), sum(row["held"] != row["enrolled"] for row in rows)


# ---- the draw ---------------------------------------------------------------------------------------


async def draw_phase(app_url: str, world: World, now: datetime) -> tuple[float, float, int]:
    """(seconds the service took to draw every due class, seconds the same draws take in memory, seats),
    drawn as at ``now``, after the windows closed."""
    engine = create_engine(app_url)
    writes, _ = sessionmakers(engine)
    try:
        async with writes() as session:
            due = await draws.due_draws(session, now=now)
        if sorted(due) != sorted(world.lottery):
            raise BenchError(f"{len(due)} classes due for a draw, expected {len(world.lottery)}")
        started = time.perf_counter()
        async with writes() as session, session.begin():
            await draws.draw_due(session, now=now)
        service_s = time.perf_counter() - started
        async with writes() as session:
            rows = (
                await session.execute(
                    select(
                        Application.class_id, Application.public_id, Application.tier, Application.resident_id
                    ).where(Application.class_id.in_(world.lottery))
                )
            ).all()
            seeds = dict((await session.execute(select(EnrolmentPolicy.class_id, EnrolmentPolicy.seed))).all())
    finally:
        await engine.dispose()
    return service_s, in_memory_draws(rows, seeds, due), await _seats_given(app_url, world)


def in_memory_draws(rows, seeds: dict[int, str], order: list[int]) -> float:
    by_class: dict[int, list[lottery.Entry]] = {}
    for class_id, public_id, tier, resident in rows:
        by_class.setdefault(class_id, []).append(lottery.Entry(public_id, tier, resident))
    held: dict[int, int] = {}
    started = time.perf_counter()
    for class_id in order:
        ranked = lottery.draw(
            seeds[class_id], by_class.get(class_id, []), LOTTERY_SEATS, lambda e: held.get(e.resident, 0) >= TERM_LIMIT
        )
        owners = {entry.public_id: entry.resident for entry in by_class.get(class_id, [])}
        for item in ranked:
            if item.outcome == lottery.Outcome.seat:
                held[owners[item.public_id]] = held.get(owners[item.public_id], 0) + 1
    return time.perf_counter() - started


async def _seats_given(app_url: str, world: World) -> int:
    connection = await asyncpg.connect(driver_url(app_url, "postgresql"))
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM applications WHERE state = 'enrolled' AND class_id = ANY($1::int[])", world.lottery
        )
    finally:
        await connection.close()


# ---- report -----------------------------------------------------------------------------------------


def report(app: Tally, raw: Tally, sold: tuple[int, int], draw: tuple[float, float, int], args) -> str:
    header = f"{'phase':<6}{'attempts':>9}{'enrolled':>9}{'full':>7}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    lines = [
        f"enrolment: {RESIDENTS} residents x {APPLICATIONS_EACH} first-come classes of {FIRST_COME_CLASSES} "
        f"({FIRST_COME_SEATS} seats each), {args.clients} clients, {args.workers} API workers, {os.cpu_count()} CPUs",
        header,
        "-" * len(header),
    ]
    for name, tally in (("app", app), ("raw", raw)):
        p50, p99 = percentiles_ms(tally.latencies)
        attempts = tally.enrolled + tally.full + len(tally.errors)
        lines.append(
            f"{name:<6}{attempts:>9}{tally.enrolled:>9}{tally.full:>7}{len(tally.errors):>8}"
            f"{tally.throughput:>9.0f}{p50:>9.1f}{p99:>9.1f}"
        )
    service_s, memory_s, seats = draw
    lines += [
        "",
        f"ratio app/raw throughput: {app.throughput / raw.throughput:.2f}",
        f"oversold seats: {sold[0]}; classes whose seat counter differs from their enrolments: {sold[1]}",
        f"lottery draw: {LOTTERY_CLASSES} classes, {RESIDENTS * LOTTERY_APPLICATIONS_EACH} applications, "
        f"{seats} seats given: {service_s:.2f} s through the service "
        f"(target < {TARGET_DRAW_S:.0f} s: {'met' if service_s < TARGET_DRAW_S else 'MISSED'}), "
        f"{memory_s:.3f} s in memory; ratio service/in-memory {service_s / memory_s:.0f}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="admin database, used only to create and drop a scratch database",
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.workers < 1:
        parser.error("need clients >= 1 and workers >= 1")
    return args


def run(args: argparse.Namespace) -> str:
    with scratch_database(args.postgres_url) as url:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        upgrade(app_url)
        seeded_at = datetime.now(UTC)
        world = asyncio.run(seed(dsn, seeded_at))
        work = attempts(world)
        with running_server(app_url, workers=args.workers) as base_url:
            print(f"app phase: {base_url}, {args.workers} workers, {len(work)} applications", file=sys.stderr)
            app = asyncio.run(drive(args.clients, work, api_client(base_url, world)))
        # The server is stopped first so the baseline has the cores and connections to itself.
        print("raw phase: conditional seat update + insert, one statement", file=sys.stderr)
        raw = asyncio.run(raw_phase(dsn, world, work, args.clients))
        sold = asyncio.run(oversold(dsn))
        print("draw phase", file=sys.stderr)
        draw = asyncio.run(draw_phase(app_url, world, seeded_at + LOTTERY_CLOSES_IN + timedelta(minutes=1)))
    for name, tally in (("app", app), ("raw", raw)):
        for message in tally.errors[:5]:
            print(f"  {name}: error: {message}", file=sys.stderr)
        if len(tally.errors) > MAX_ERROR_SHARE * len(work):
            raise BenchError(f"{name}: {len(tally.errors)} of {len(work)} requests failed")
    if sold != (0, 0):
        raise BenchError(f"seats oversold: {sold}")
    if raw.enrolled != app.enrolled:
        raise BenchError(f"app enrolled {app.enrolled}, raw {raw.enrolled}: both must fill every seat")
    return report(app, raw, sold, draw, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
