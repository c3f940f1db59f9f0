"""Availability search on PostgreSQL: the HTTP API against one hand-written SQL query per search.

One invocation, one scratch database, one set of queries for every phase:

* API search: GET /api/v1/availability through the real app, in-process (httpx.ASGITransport,
  lifespan driven by hand), one request at a time;
* baseline SQL: for each search, ONE hand-written query on a plain asyncpg connection that
  answers the same question (filters, opening hours, closures, public holidays, bookings on any
  leaf below, the same ranking, the same page and total);
* slot finder: GET /api/v1/availability/slots with evening, weekday, seven-day searches.

The data is seeded with set-based SQL (generate_series; deterministic for a --seed): a district
of 10 towns and 50 communities, 100 organisations, 200 venues in Asia/Shanghai (a fifth close on
public holidays), --spaces spaces with kinds, capacities and features (20 divisible halls with
two courts each), opening hours for 70% of the venues and every 7th space, 300 closures, and
--occurrences bookings with one occurrence each on the leaves, from 2027-03-01 for 120 days (5%
cancelled). Queries: a 1-3 hour window on one of those days, optional capacity, features, kind,
region (town or community) and `near`, page size 20.

Every API page must equal the baseline's page (same ids in the same order, same total): if any
differs the figures are withheld and the run fails. The figure of merit is API p50 / SQL p50.
Timing never fails the run.

    .venv/bin/python bench/availability_search.py [--spaces 2000] [--occurrences 200000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import holidays
import httpx
from common import BenchError, driver_url, run_benchmark, scratch_database

from booking.app import create_app
from booking.config import Settings
from booking.migrate import upgrade
from booking.models import SLOT_HOLDING_STATES, ClosureReason, OrganisationKind, SpaceKind, VenueKind

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

ZONE = ZoneInfo("Asia/Shanghai")  # every seeded venue's time zone
COUNTRY = "CN"
FIRST_DAY = date(2027, 3, 1)  # local; the seeded range is FIRST_DAY .. FIRST_DAY + DAYS - 1
DAYS = 120
NOW = datetime(2027, 2, 1, tzinfo=UTC)  # the app's clock: before every seeded day
FEATURES = ("projector", "piano", "step-free", "hearing-loop", "whiteboard", "computers", "kitchen", "sound-system")
# Common rooms come up more often than kitchens and fields (every other kind: weight 1).
SPACE_KIND_WEIGHTS = {SpaceKind.classroom: 6, SpaceKind.meeting_room: 3, SpaceKind.reading_room: 2}
DISTRICT_LAYOUT = {"towns": 10, "communities": 50, "organisations": 100, "venues": 200}
DIVISIBLE_HALLS = 20  # venues with a hall of two courts (three spaces each)
CANCELLED_SHARE = 0.05  # occurrences that hold no slot: both sides must ignore them
AREA = ((30.0, 30.5), (120.0, 120.5))  # (lat range, lon range)

PAGE_SIZE = 20
WARMUP = 20
TARGET_P50_MS = 20.0
TARGET_RATIO = 1.5  # API p50 / SQL p50
SHOWN_MISMATCHES = 5

Q = TypeVar("Q")
A = TypeVar("A")


# --- the scratch database ---------------------------------------------------------------------


# --- seeding: set-based SQL, deterministic through setseed() ----------------------------------

# One INSERT ... SELECT each, in order; ``:name`` parameters come from seed_values().
SEED_STATEMENTS: tuple[tuple[str, str], ...] = (
    ("district", "INSERT INTO regions (name, level) VALUES ('Bench District', 'district')"),
    (
        "towns",
        """INSERT INTO regions (name, level, parent_id)
           SELECT 'Town ' || n, 'town', (SELECT id FROM regions WHERE level = 'district')
           FROM generate_series(1, :towns) AS n""",
    ),
    (
        "communities",
        """INSERT INTO regions (name, level, parent_id)
           SELECT 'Community ' || n, 'community', towns.ids[1 + n % cardinality(towns.ids)]
           FROM generate_series(0, :communities - 1) AS n,
                (SELECT array_agg(id ORDER BY id) AS ids FROM regions WHERE level = 'town') AS towns""",
    ),
    (
        "organisations",
        """INSERT INTO organisations (name, kind, region_id)
           SELECT 'Organisation ' || n, (:organisation_kinds)[1 + n % cardinality(:organisation_kinds)],
                  c.ids[1 + n % cardinality(c.ids)]
           FROM generate_series(0, :organisations - 1) AS n,
                (SELECT array_agg(id ORDER BY id) AS ids FROM regions WHERE level = 'community') AS c""",
    ),
    (
        # ~20% close on public holidays; every 50th venue has no coordinates (ranked last by `near`).
        "venues",
        """INSERT INTO venues (name, kind, region_id, owner_id, address, latitude, longitude, timezone,
                               closes_on_public_holidays, country)
           SELECT 'Venue ' || n, (:venue_kinds)[1 + n % cardinality(:venue_kinds)],
                  c.ids[1 + floor(random() * cardinality(c.ids))::int],
                  o.ids[1 + floor(random() * cardinality(o.ids))::int],
                  'No. ' || n || ' Bench Road',
                  CASE WHEN n % 50 <> 49 THEN :lat_min + random() * (:lat_max - :lat_min) END,
                  CASE WHEN n % 50 <> 49 THEN :lon_min + random() * (:lon_max - :lon_min) END,
                  :zone, random() < 0.2, :country
           FROM generate_series(0, :venues - 1) AS n,
                (SELECT array_agg(id ORDER BY id) AS ids FROM regions WHERE level = 'community') AS c,
                (SELECT array_agg(id ORDER BY id) AS ids FROM organisations) AS o""",
    ),
    (
        # Mostly small rooms (capacity 6-200, skewed low); 0-4 distinct features: a stride that is
        # odd walks the eight features without repeating, so index k is taken when its step < count.
        "spaces",
        """INSERT INTO spaces (venue_id, name, kind, capacity, features)
           SELECT r.venue_id, 'Room ' || r.n, r.kind, r.capacity,
                  (SELECT coalesce(jsonb_agg(f ORDER BY f), '[]'::jsonb)
                   FROM unnest(:features) WITH ORDINALITY AS u(f, k)
                   WHERE ((k - 1 - r.first + 8) * r.stride) % 8 < r.how_many)
           FROM (SELECT n, v.ids[1 + n % cardinality(v.ids)] AS venue_id,
                        (:space_kinds)[1 + floor(random() * cardinality(:space_kinds))::int] AS kind,
                        6 + floor(194 * random() ^ 2)::int AS capacity,
                        floor(random() * 5)::int AS how_many,
                        floor(random() * 8)::int AS first,
                        1 + 2 * floor(random() * 4)::int AS stride
                 FROM generate_series(0, :plain_spaces - 1) AS n,
                      (SELECT array_agg(id ORDER BY id) AS ids FROM venues) AS v) AS r
           ORDER BY r.n""",
    ),
    (
        "divisible halls",
        """INSERT INTO spaces (venue_id, name, kind, capacity, features)
           SELECT id, 'Divisible hall', 'hall', 120 + floor(random() * 80)::int, '["sound-system", "step-free"]'
           FROM venues WHERE id % 10 = 3 ORDER BY id LIMIT :halls""",
    ),
    (
        "courts",
        """INSERT INTO spaces (venue_id, parent_id, name, kind, capacity, features)
           SELECT h.venue_id, h.id, 'Court ' || c, 'court', h.capacity / 2, '[]'
           FROM spaces AS h, generate_series(1, 2) AS c
           WHERE h.name = 'Divisible hall' ORDER BY h.id, c""",
    ),
    (
        "space tree",
        """INSERT INTO space_tree (ancestor_id, descendant_id, depth)
           SELECT id, id, 0 FROM spaces
           UNION ALL
           SELECT parent_id, id, 1 FROM spaces WHERE parent_id IS NOT NULL""",
    ),
    (
        # 70% of venues: after-school hours (evenings, weekend days) or library hours (every day,
        # weekends only until the end of May); the other 30% keep none (open at any time).
        "venue hours",
        """INSERT INTO opening_hours (venue_id, weekday, opens_min, closes_min, valid_until)
           SELECT v.id, d,
                  CASE WHEN v.id % 10 >= 5 THEN 540 WHEN d < 5 THEN 1080 ELSE 480 END,
                  CASE WHEN v.id % 10 >= 5 THEN 1260 ELSE 1320 END,
                  CASE WHEN v.id % 10 >= 5 AND d >= 5 THEN date '2027-05-31' END
           FROM venues AS v, generate_series(0, 6) AS d
           WHERE v.id % 10 < 7""",
    ),
    (
        # Every 7th space keeps its own hours: 07:00-23:00 daily, or 10:00-18:00 Monday to Saturday.
        "space hours",
        """INSERT INTO opening_hours (space_id, weekday, opens_min, closes_min)
           SELECT s.id, d, CASE WHEN s.id % 14 = 0 THEN 420 ELSE 600 END,
                  CASE WHEN s.id % 14 = 0 THEN 1380 ELSE 1080 END
           FROM spaces AS s, generate_series(0, 6) AS d
           WHERE s.id % 7 = 0 AND (s.id % 14 = 0 OR d < 6)""",
    ),
    (
        # Whole local days (1-5) with their dates, as the API stores them.
        "venue closures",
        """INSERT INTO closures (venue_id, starts_at, ends_at, start_date, end_date, reason, note, created_at)
           SELECT c.venue_id, c.first::timestamp AT TIME ZONE :zone, (c.first + c.days)::timestamp AT TIME ZONE :zone,
                  c.first, c.first + c.days - 1, c.reason, 'bench', :created
           FROM (SELECT v.ids[1 + floor(random() * cardinality(v.ids))::int] AS venue_id,
                        :first_day + floor(random() * :days)::int AS first,
                        1 + floor(random() * 5)::int AS days,
                        (:closure_reasons)[1 + floor(random() * cardinality(:closure_reasons))::int] AS reason
                 FROM generate_series(1, :venue_closures),
                      (SELECT array_agg(id ORDER BY id) AS ids FROM venues) AS v) AS c""",
    ),
    (
        # Half whole days (1-2), half a few hours (2-8 from 08:00-16:00); every 5th on a hall or court.
        "space closures",
        """INSERT INTO closures (space_id, starts_at, ends_at, start_date, end_date, reason, note, created_at)
           SELECT c.space_id,
                  CASE WHEN c.whole THEN c.first::timestamp ELSE c.first + c.hour * interval '1 hour' END
                      AT TIME ZONE :zone,
                  CASE WHEN c.whole THEN (c.first + c.days)::timestamp
                       ELSE c.first + (c.hour + c.hours) * interval '1 hour' END AT TIME ZONE :zone,
                  CASE WHEN c.whole THEN c.first END, CASE WHEN c.whole THEN c.first + c.days - 1 END,
                  'maintenance', 'bench', :created
           FROM (SELECT CASE WHEN n % 5 = 0 THEN t.ids[1 + floor(random() * cardinality(t.ids))::int]
                             ELSE s.ids[1 + floor(random() * cardinality(s.ids))::int] END AS space_id,
                        n % 2 = 0 AS whole,
                        :first_day + floor(random() * :days)::int AS first,
                        1 + floor(random() * 2)::int AS days,
                        8 + floor(random() * 9)::int AS hour,
                        2 + floor(random() * 7)::int AS hours
                 FROM generate_series(1, :space_closures) AS n,
                      (SELECT array_agg(id ORDER BY id) AS ids FROM spaces) AS s,
                      (SELECT array_agg(id ORDER BY id) AS ids FROM spaces
                       WHERE id IN (SELECT ancestor_id FROM space_tree WHERE depth > 0
                                    UNION SELECT descendant_id FROM space_tree WHERE depth > 0)) AS t) AS c""",
    ),
    (
        # Booking g: leaf g mod L, its (g div L)-th booking, on a day of its own (no overlaps), from
        # 08:00-20:00 local for one or two hours. A few are cancelled: they hold no slot.
        "bookings",
        """INSERT INTO bookings (space_id, organisation_id, title, attendees, starts_at, ends_at, state,
                                 created_at, updated_at)
           SELECT b.space_id, b.organisation_id, 'Booking ' || b.g, 1 + b.g % 30,
                  b.local_start AT TIME ZONE :zone, (b.local_start + b.hours * interval '1 hour') AT TIME ZONE :zone,
                  CASE WHEN random() < :cancelled_share THEN 'cancelled' ELSE 'confirmed' END, :created, :created
           FROM (SELECT g, leaves.ids[1 + g % leaves.n] AS space_id,
                        o.ids[1 + floor(random() * cardinality(o.ids))::int] AS organisation_id,
                        (:first_day + (g / leaves.n + (g % leaves.n) * 7) % :days)
                            + (8 + floor(random() * 13)::int) * interval '1 hour' AS local_start,
                        1 + floor(random() * 2)::int AS hours
                 FROM generate_series(0, :occurrences - 1) AS g,
                      (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM spaces AS s
                       WHERE NOT EXISTS (SELECT 1 FROM spaces AS c WHERE c.parent_id = s.id)) AS leaves,
                      (SELECT array_agg(id ORDER BY id) AS ids FROM organisations) AS o) AS b
           ORDER BY b.g""",
    ),
    (
        "occurrences",
        """INSERT INTO occurrences (booking_id, space_id, starts_at, ends_at, blocked_start_at, blocked_end_at,
                                    state, original_starts_at)
           SELECT id, space_id, starts_at, ends_at, starts_at, ends_at, state, starts_at FROM bookings ORDER BY id""",
    ),
)


@dataclass(frozen=True, slots=True)
class Places:
    """What the queries pick from."""

    town_ids: list[int]
    community_ids: list[int]


def seed_values(args: argparse.Namespace) -> dict[str, Any]:
    halls = DIVISIBLE_HALLS
    plain_spaces = args.spaces - 3 * halls
    leaves = plain_spaces + 2 * halls
    if plain_spaces < DISTRICT_LAYOUT["venues"]:
        raise BenchError(f"--spaces must be at least {DISTRICT_LAYOUT['venues'] + 3 * halls}")
    if args.occurrences > leaves * DAYS:
        raise BenchError(f"at most one booking per leaf and day: --occurrences <= {leaves * DAYS}")
    return {
        **DISTRICT_LAYOUT,
        "organisation_kinds": [kind.value for kind in OrganisationKind],
        "venue_kinds": [kind.value for kind in VenueKind],
        "space_kinds": [kind.value for kind in SpaceKind for _ in range(SPACE_KIND_WEIGHTS.get(kind, 1))],
        "closure_reasons": [reason.value for reason in ClosureReason if reason is not ClosureReason.other],
        "features": list(FEATURES),
        "lat_min": AREA[0][0],
        "lat_max": AREA[0][1],
        "lon_min": AREA[1][0],
        "lon_max": AREA[1][1],
        "zone": ZONE.key,
        "country": COUNTRY,
        "plain_spaces": plain_spaces,
        "halls": halls,
        "first_day": FIRST_DAY,
        "days": DAYS,
        "created": NOW,
        "venue_closures": 100,
        "space_closures": 200,
        "occurrences": args.occurrences,
        "cancelled_share": CANCELLED_SHARE,
    }


# Checked in order: a bool is an int and a datetime is a date; enum members are their base type.
PG_TYPES = ((bool, "bool"), (int, "int"), (float, "float8"), (str, "text"), (datetime, "timestamptz"), (date, "date"))


def pg_type(value: Any) -> str:
    if isinstance(value, list):
        return pg_type(value[0]) + "[]"
    return next(name for kind, name in PG_TYPES if isinstance(value, kind))


@dataclass(slots=True)
class Params:
    """Positional parameters for asyncpg: ``params(value)`` appends it and answers ``$n::type``."""

    values: list[Any] = field(default_factory=list)

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast or pg_type(value)}"


def bind(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` placeholders to typed positional ones (one parameter per name)."""
    p, placeholders = Params(), {}

    def placeholder(match: re.Match) -> str:
        name = match.group(1)
        if name not in placeholders:
            placeholders[name] = p(values[name])
        return placeholders[name]

    return re.sub(r"(?<![:\w]):([a-z_]+)", placeholder, sql), p.values


async def seed(dsn: str, args: argparse.Namespace) -> Places:
    values = seed_values(args)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"SELECT setseed({(args.seed % 1000) / 1000})")
        async with connection.transaction():
            for label, sql in SEED_STATEMENTS:
                started = time.perf_counter()
                statement, params = bind(sql, values)
                status = await connection.execute(statement, *params)
                print(f"  {label}: {status.split()[-1]} rows, {time.perf_counter() - started:.1f} s", file=sys.stderr)
        await connection.execute("VACUUM (ANALYZE)")
        regions = await connection.fetch("SELECT id, level FROM regions ORDER BY id")
    finally:
        await connection.close()
    return Places(
        town_ids=[r["id"] for r in regions if r["level"] == "town"],
        community_ids=[r["id"] for r in regions if r["level"] == "community"],
    )


# --- the workload, shared by every phase ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    capacity: int | None = None
    features: tuple[str, ...] = ()
    kind: str | None = None
    region_id: int | None = None
    near: tuple[float, float] | None = None

    def http_params(self) -> dict[str, str]:
        params = {
            "capacity": None if self.capacity is None else str(self.capacity),
            "features": ",".join(self.features) or None,
            "kind": self.kind,
            "region_id": None if self.region_id is None else str(self.region_id),
            "near": None if self.near is None else f"{self.near[0]!r},{self.near[1]!r}",
        }
        return {name: value for name, value in params.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Search:
    start: datetime  # venue-local, on the hour
    end: datetime
    filters: Filters

    def http_params(self) -> dict[str, str]:
        window = {"start": self.start.isoformat(), "end": self.end.isoformat(), "limit": str(PAGE_SIZE)}
        return {**window, **self.filters.http_params()}


@dataclass(frozen=True, slots=True)
class SlotSearch:
    duration_min: int
    from_date: date
    filters: Filters

    def http_params(self) -> dict[str, str]:
        slots = {
            "duration_min": str(self.duration_min),
            "from_date": self.from_date.isoformat(),
            "to_date": (self.from_date + timedelta(days=6)).isoformat(),
            "weekdays": "0,1,2,3,4",
            "time_from": "18:00",
            "time_to": "22:00",
            "limit": str(PAGE_SIZE),
        }
        return {**slots, **self.filters.http_params()}


def random_filters(rng: random.Random, places: Places) -> Filters:
    region = rng.choice([None, None, "town", "community"])
    return Filters(
        capacity=rng.choice([None, rng.randint(10, 80)]),
        features=tuple(sorted(rng.sample(FEATURES, rng.choice([0, 0, 0, 1, 1, 2])))),
        kind=rng.choice([SpaceKind.classroom, SpaceKind.meeting_room, SpaceKind.hall]) if rng.random() < 0.15 else None,
        region_id=rng.choice(places.town_ids if region == "town" else places.community_ids) if region else None,
        near=(round(rng.uniform(*AREA[0]), 5), round(rng.uniform(*AREA[1]), 5)) if rng.random() < 0.5 else None,
    )


def searches(rng: random.Random, places: Places, count: int) -> list[Search]:
    """Windows of 1-3 hours starting on the hour, 08:00-20:00 local, on any seeded day."""
    found = []
    for _ in range(count):
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        start = datetime.combine(day, clock_time(rng.randint(8, 20)), ZONE)
        found.append(Search(start, start + timedelta(hours=rng.randint(1, 3)), random_filters(rng, places)))
    return found


def slot_searches(rng: random.Random, places: Places, count: int) -> list[SlotSearch]:
    return [
        SlotSearch(
            duration_min=rng.choice([60, 90, 120]),
            from_date=FIRST_DAY + timedelta(days=rng.randrange(DAYS - 6)),
            filters=random_filters(rng, places),
        )
        for _ in range(count)
    ]


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    @classmethod
    def of(cls, name: str, seconds: Sequence[float]) -> Latency:
        cuts = statistics.quantiles(seconds, n=100, method="inclusive")
        return cls(name, len(seconds), cuts[49] * 1e3, cuts[89] * 1e3, cuts[98] * 1e3, statistics.fmean(seconds) * 1e3)


async def measure(name: str, answer: Callable[[Q], Awaitable[A]], queries: Sequence[Q]) -> tuple[Latency, list[A]]:
    """Unmeasured warm-up on the first queries, then every query once, one at a time, each timed."""
    for query in queries[:WARMUP]:
        await answer(query)
    seconds, answers = [], []
    for query in queries:
        started = time.perf_counter()
        answers.append(await answer(query))
        seconds.append(time.perf_counter() - started)
    print(f"  {name}: {len(queries)} queries measured", file=sys.stderr)
    return Latency.of(name, seconds), answers


@dataclass(frozen=True, slots=True)
class Page:
    space_ids: tuple[int, ...]
    total: int


# --- the API, in-process ----------------------------------------------------------------------


async def start_lifespan(app) -> tuple[asyncio.Task, asyncio.Queue, asyncio.Queue]:
    """Drive the ASGI lifespan from a task of its own, so start-up and shut-down share one task."""
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    message = await from_app.get()
    if message["type"] != "lifespan.startup.complete":
        raise BenchError(f"app start-up failed: {message}")
    return task, to_app, from_app


async def stop_lifespan(task: asyncio.Task, to_app: asyncio.Queue, from_app: asyncio.Queue) -> None:
    await to_app.put({"type": "lifespan.shutdown"})
    message = await from_app.get()
    if message["type"] != "lifespan.shutdown.complete":
        raise BenchError(f"app shut-down failed: {message}")
    await task


@contextlib.asynccontextmanager
async def api_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url), clock=lambda: NOW)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the app's logging config would log every request
    lifespan = await start_lifespan(app)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as client:
            yield client
    finally:
        await stop_lifespan(*lifespan)


async def get_json(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> Any:
    response = await client.get(path, params=params)
    if response.status_code != 200:
        raise BenchError(f"GET {path} {params} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def api_search(client: httpx.AsyncClient) -> Callable[[Search], Awaitable[Page]]:
    async def answer(search: Search) -> Page:
        body = await get_json(client, "/availability", search.http_params())
        return Page(tuple(item["space_id"] for item in body["items"]), body["total"])

    return answer


def api_slots(client: httpx.AsyncClient) -> Callable[[SlotSearch], Awaitable[int]]:
    async def answer(search: SlotSearch) -> int:
        return len((await get_json(client, "/availability/slots", search.http_params()))["slots"])

    return answer


# --- the baseline: one hand-written query per search ------------------------------------------


def holiday_dates() -> list[date]:
    years = range(FIRST_DAY.year, (FIRST_DAY + timedelta(days=DAYS)).year + 1)
    return sorted(holidays.country_holidays(COUNTRY, years=years))


HOLDING = ", ".join(f"'{state}'" for state in SLOT_HOLDING_STATES)


def baseline_sql(search: Search, holiday_days: list[date]) -> tuple[str, list[Any]]:
    """The candidates that match the filters (materialised first: they are few when filters are
    narrow), then those free for the whole window, ranked like the service, one page and the total."""
    p = Params()
    subtree, matching = _matching(search.filters, p)
    free = _free(search, holiday_days, p)
    sql = f"""WITH RECURSIVE {subtree}candidates AS MATERIALIZED (
                  SELECT s.id, s.venue_id, s.capacity, v.latitude, v.longitude, v.closes_on_public_holidays, v.country
                  FROM spaces s JOIN venues v ON v.id = s.venue_id
                  WHERE {" AND ".join(matching) or "true"})
              SELECT s.id, count(*) OVER () AS total
              FROM candidates s
              WHERE {" AND ".join(free)}
              ORDER BY {", ".join(_ranking(search.filters, p))}
              LIMIT {PAGE_SIZE}"""
    return sql, p.values


def _matching(where: Filters, p: Params) -> tuple[str, list[str]]:
    """(the region subtree CTE, or ""; conditions on spaces s and venues v)."""
    subtree, conditions = "", []
    if where.capacity is not None:
        conditions.append(f"s.capacity >= {p(where.capacity)}")
    if where.kind is not None:
        conditions.append(f"s.kind = {p(where.kind)}")
    if where.features:
        conditions.append(f"s.features @> {p(json.dumps(where.features), 'jsonb')}")
    if where.region_id is not None:
        subtree = f"""subtree(id) AS (SELECT {p(where.region_id)}
                      UNION ALL SELECT r.id FROM regions r JOIN subtree ON r.parent_id = subtree.id), """
        conditions.append("v.region_id IN (SELECT id FROM subtree)")
    return subtree, conditions


def _free(search: Search, holiday_days: list[date], p: Params) -> list[str]:
    """Conditions on candidates s: open, not closed, not a holiday, nothing booked on any leaf below.

    The window lies within one local day in the one time zone every venue uses, so opening
    hours are a single weekday / minute-range test and a holiday is a local date.
    """
    first, last = search.start.astimezone(ZONE), search.end.astimezone(ZONE)
    if first.date() != (last - timedelta(microseconds=1)).date():
        raise BenchError("the baseline handles windows within one local day only")
    start, end = p(search.start), p(search.end)
    day, weekday = p(first.date()), p(first.weekday())
    from_min = p(first.hour * 60 + first.minute)
    to_min = p(last.hour * 60 + last.minute if last.date() == first.date() else 24 * 60)
    covers = (
        f"h.weekday = {weekday} AND h.opens_min <= {from_min} AND h.closes_min >= {to_min}"
        f" AND (h.valid_from IS NULL OR h.valid_from <= {day}) AND (h.valid_until IS NULL OR h.valid_until >= {day})"
    )
    overlaps = f"c.starts_at < {end} AND c.ends_at > {start}"
    return [
        # Open: under the space's own hours, else its venue's, else always.
        f"""CASE WHEN EXISTS (SELECT 1 FROM opening_hours h WHERE h.space_id = s.id)
                 THEN EXISTS (SELECT 1 FROM opening_hours h WHERE h.space_id = s.id AND {covers})
                 WHEN EXISTS (SELECT 1 FROM opening_hours h WHERE h.venue_id = s.venue_id)
                 THEN EXISTS (SELECT 1 FROM opening_hours h WHERE h.venue_id = s.venue_id AND {covers})
                 ELSE true END""",
        f"NOT (s.closes_on_public_holidays AND s.country = {p(COUNTRY)} AND {day} = ANY({p(holiday_days)}))",
        f"NOT EXISTS (SELECT 1 FROM closures c WHERE c.venue_id = s.venue_id AND {overlaps})",
        f"""NOT EXISTS (SELECT 1 FROM space_tree t JOIN closures c ON c.space_id = t.ancestor_id
                        WHERE t.descendant_id = s.id AND {overlaps})""",
        f"""NOT EXISTS (SELECT 1 FROM space_tree t JOIN closures c ON c.space_id = t.descendant_id
                        WHERE t.ancestor_id = s.id AND {overlaps})""",
        # Booked: holding occurrences never overlap on a leaf (the exclusion constraint), so only
        # the last one starting before the window can reach into it; any other starts inside it.
        # Two tight probes per leaf on the btree (space_id, blocked_start_at). The overlap on the
        # exclusion constraint's GiST index (a probe per leaf, or one scan of the range column
        # alone, as the planner chooses) gives the same answers 1.5-2x slower here.
        f"""NOT EXISTS (SELECT 1 FROM space_tree t JOIN occurrences o ON o.space_id = t.descendant_id
                        WHERE t.ancestor_id = s.id AND o.state IN ({HOLDING})
                        AND o.blocked_start_at >= {start} AND o.blocked_start_at < {end})""",
        f"""NOT EXISTS (SELECT 1 FROM space_tree t CROSS JOIN LATERAL (
                            SELECT o.blocked_end_at FROM occurrences o
                            WHERE o.space_id = t.descendant_id AND o.state IN ({HOLDING})
                            AND o.blocked_start_at < {start}
                            ORDER BY o.blocked_start_at DESC LIMIT 1) AS last
                        WHERE t.ancestor_id = s.id AND last.blocked_end_at > {start})""",
    ]


def _ranking(where: Filters, p: Params) -> list[str]:
    """Nearest venue first (squared equirectangular distance, no coordinates last), else the
    smallest space that fits; ties by id."""
    if where.near is None:
        return ["s.capacity", "s.id"]
    lat, lon = p(where.near[0]), p(where.near[1])
    squeeze = p(_squeeze_squared(where.near[0]))
    distance = (
        f"(s.latitude - {lat}) * (s.latitude - {lat}) + (s.longitude - {lon}) * (s.longitude - {lon}) * {squeeze}"
    )
    return ["s.latitude IS NULL", distance, "s.capacity", "s.id"]


def _squeeze_squared(lat: float) -> float:
    """cos²(lat), as the service computes it: longitude degrees shrink towards the poles."""
    squeeze = math.cos(math.radians(lat))
    return squeeze * squeeze


def sql_search(connection: asyncpg.Connection, holiday_days: list[date]) -> Callable[[Search], Awaitable[Page]]:
    async def answer(search: Search) -> Page:
        sql, values = baseline_sql(search, holiday_days)
        rows = await connection.fetch(sql, *values)
        return Page(tuple(row["id"] for row in rows), rows[0]["total"] if rows else 0)

    return answer


# --- correctness ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    number: int
    search: Search
    api: Page
    sql: Page

    @property
    def kind(self) -> str:
        api, sql = set(self.api.space_ids), set(self.sql.space_ids)
        if api == sql:
            return "same spaces, other order" if self.api.space_ids != self.sql.space_ids else "other total"
        if not api:
            return "API page empty"
        return "API misses spaces" if api < sql else "API has extra spaces" if api > sql else "other spaces"

    def describe(self) -> str:
        only_api = sorted(set(self.api.space_ids) - set(self.sql.space_ids))
        only_sql = sorted(set(self.sql.space_ids) - set(self.api.space_ids))
        return (
            f"query {self.number}: {self.kind}; {self.search.http_params()}\n"
            f"    API total {self.api.total}: {list(self.api.space_ids)}\n"
            f"    SQL total {self.sql.total}: {list(self.sql.space_ids)}\n"
            f"    only API: {only_api}  only SQL: {only_sql}"
        )


def mismatches(queries: Sequence[Search], api: Sequence[Page], sql: Sequence[Page]) -> list[Mismatch]:
    return [Mismatch(n, q, a, s) for n, (q, a, s) in enumerate(zip(queries, api, sql, strict=True)) if a != s]


def mismatch_summary(wrong: list[Mismatch], queries: int) -> str:
    kinds = collections.Counter(m.kind for m in wrong)
    counted = ", ".join(f"{kind}: {count}" for kind, count in kinds.most_common())
    return f"{len(wrong)} of {queries} API pages differ from the baseline ({counted}): figures withheld"


# --- report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Results:
    search: Latency
    baseline: Latency
    slots: Latency
    pages: list[Page]
    slot_counts: list[int]
    migrate_seconds: float
    seed_seconds: float


def report(results: Results, args: argparse.Namespace) -> str:
    header = f"{'phase':<14}{'queries':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}"
    lines = [
        f"availability search: {args.spaces} spaces, {args.occurrences} occurrences, page size {PAGE_SIZE}, "
        f"{os.cpu_count()} CPUs; seeded in {results.seed_seconds:.1f} s (migrations {results.migrate_seconds:.1f} s)",
        header,
        "-" * len(header),
    ]
    for phase in (results.search, results.baseline, results.slots):
        lines.append(
            f"{phase.name:<14}{phase.count:>8}{phase.p50_ms:>9.2f}{phase.p90_ms:>9.2f}{phase.p99_ms:>9.2f}"
            f"{phase.mean_ms:>9.2f}"
        )
    ratio = results.search.p50_ms / results.baseline.p50_ms
    full = sum(len(page.space_ids) == PAGE_SIZE for page in results.pages)
    empty = sum(not page.space_ids for page in results.pages)
    lines += [
        "",
        f"pages: all {len(results.pages)} API pages equal the baseline's ({full} full, {empty} empty, "
        f"median total {statistics.median(page.total for page in results.pages):.0f}); "
        f"slot searches with a slot: {sum(map(bool, results.slot_counts))}/{len(results.slot_counts)}",
        f"ratio API p50 / SQL p50: {ratio:.2f}  (target <= {TARGET_RATIO}: {_verdict(ratio <= TARGET_RATIO)})",
        f"API search p50: {results.search.p50_ms:.2f} ms  "
        f"(target < {TARGET_P50_MS:.0f} ms: {_verdict(results.search.p50_ms < TARGET_P50_MS)})",
    ]
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# --- main -------------------------------------------------------------------------------------


async def bench(app_url: str, dsn: str, args: argparse.Namespace, migrate_seconds: float) -> Results:
    started = time.perf_counter()
    places = await seed(dsn, args)
    seed_seconds = time.perf_counter() - started
    print(f"seeded in {seed_seconds:.1f} s", file=sys.stderr)
    rng = random.Random(args.seed)
    queries, slot_queries = searches(rng, places, args.queries), slot_searches(rng, places, args.slot_queries)
    async with api_client(app_url) as client:
        search, pages = await measure("API search", api_search(client), queries)
        connection = await asyncpg.connect(dsn)
        try:
            baseline, expected = await measure("baseline SQL", sql_search(connection, holiday_dates()), queries)
        finally:
            await connection.close()
        wrong = mismatches(queries, pages, expected)
        if wrong:
            for mismatch in wrong[:SHOWN_MISMATCHES]:
                print(mismatch.describe(), file=sys.stderr)
            raise BenchError(mismatch_summary(wrong, len(queries)))
        slots, slot_counts = await measure("slot finder", api_slots(client), slot_queries)
    return Results(search, baseline, slots, pages, slot_counts, migrate_seconds, seed_seconds)


def run(args: argparse.Namespace) -> str:
    with scratch_database(args.postgres_url, "venueshare_bench_avail") as url:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        started = time.perf_counter()
        upgrade(app_url)
        results = asyncio.run(bench(app_url, dsn, args, time.perf_counter() - started))
    return report(results, args)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="admin database, used only to create and drop a scratch database",
    )
    parser.add_argument("--spaces", type=int, default=2000, help="spaces in the district (default 2000)")
    parser.add_argument("--occurrences", type=int, default=200_000, help="booked occurrences (default 200000)")
    parser.add_argument("--queries", type=int, default=300, help="measured searches per phase (default 300)")
    parser.add_argument("--slot-queries", type=int, default=100, help="measured slot searches (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the queries (default 1)")
    args = parser.parse_args(argv)
    if min(args.queries, args.slot_queries) < WARMUP or args.occurrences < 0:
        parser.error(f"need --queries and --slot-queries >= {WARMUP}, --occurrences >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
