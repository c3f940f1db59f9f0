"""The public class catalogue at district scale: ``GET /api/v1/catalogue`` against a trivial GET of
the same app (``GET /api/v1/regions/{id}``: routing, a session, one primary-key read, JSON), both
measured in the same run through the real app, in-process, one request at a time.

One invocation seeds a scratch database (an SQLite file in a temporary directory, or with
``--postgres ADMIN_URL`` a database created next to that one and dropped afterwards) with plain
inserts, deterministic for a --seed: a district of 8 towns and 40 communities, 40 organisations,
240 small venues with positions (one in twenty in Asia/Urumqi, one in forty without a position),
one or two rooms each, 300 teachers with display names, --classes listed classes (default 2,000)
in 7 categories and 5 target groups, each held by one or two weekly series of 12 sessions (with
their occurrences) at varied local times, a tenth more classes that are not listed (no series,
or a cancelled one), and enrolment policies for four classes in five with 0-40 applicants each.

Queries, each varied by a seeded generator (page size: the API's default of 50, or --page-size):

* no filter, page 1;
* region + weekday: a town or a community, and a weekday;
* keyword: a title, category, organisation or venue fragment;
* near: a point in the district, ranked by distance.

The queries take turns, one request each per round (so that other work on the machine weighs on
all of them alike): 20 unmeasured rounds, then --requests measured ones. On PostgreSQL the tables
are analysed after seeding, as autovacuum would have done on a running server. The app's clock
is fixed inside the enrolment windows, so its background jobs have nothing to draw. Every answer
must be 200, the unfiltered total must equal the listed classes, and five pages by distance
(first, deeper and last pages) must equal a ranking worked out from the generated rows with a
formula of the bench's own; otherwise the figures are withheld and the run fails. Target: p50
< 20 ms per query; the ratio to the baseline is printed as well. Timing never fails the run.

    .venv/bin/python bench/catalogue.py [--classes 2000] [--requests 200] [--page-size 50] [--seed 1]
    .venv/bin/python bench/catalogue.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from availability_search import start_lifespan, stop_lifespan
from common import BenchError, driver_url, run_benchmark, scratch_database
from sqlalchemy import insert, text

from booking.app import create_app
from booking.config import Settings
from booking.db import create_engine
from booking.migrate import upgrade
from booking.models import (
    DEFAULT_TIERS,
    Application,
    Booking,
    ClassBooking,
    CommunityClass,
    EnrolmentPolicy,
    Occurrence,
    Organisation,
    Region,
    Resident,
    Space,
    Teacher,
    User,
    Venue,
)
from booking.rules.lottery import commitment

TOWNS = ("向阳街道", "红旗街道", "东风镇", "新华街道", "胜利镇", "和平街道", "光明镇", "团结街道")
COMMUNITIES_PER_TOWN = 5
VENUE_KINDS = ("社区学校", "文化活动室", "图书室", "老年活动中心", "党群服务中心", "体育活动室")
TOPICS = {
    "书画": ("书法", "国画", "水彩画", "硬笔书法", "Calligraphy"),
    "音乐": ("合唱", "葫芦丝", "古筝", "钢琴", "Ukulele"),
    "健身": ("太极拳", "八段锦", "瑜伽", "广场舞", "Pilates"),
    "语言": ("英语口语", "日语", "普通话", "English Corner", "粤语"),
    "数码": ("智能手机", "短视频剪辑", "电脑基础", "网上办事", "Photography"),
    "生活": ("烹饪", "园艺", "茶艺", "插花", "Baking"),
    "健康": ("中医养生", "急救知识", "营养膳食", "心理健康", "Sleep Well"),
}
LEVELS = ("入门", "提高班", "初级班", "进阶班", "兴趣班")
TARGET_GROUPS = ("老年人", "成年人", "青少年", "亲子", "全体居民")
HOURS = (8, 10, 14, 16, 19)  # local starts a room offers each day; sessions last at most two hours
CENTRE = (35.30, 113.90)
SPREAD = 0.25  # degrees either side of the centre
TERM_START, TERM_END = date(2027, 3, 1), date(2027, 5, 31)  # Monday 1 March
WEEKS = 12
NOW = datetime(2027, 1, 10, tzinfo=UTC)
UNLISTED_SHARE = 0.1
SECOND_SERIES_SHARE = 0.4  # classes meeting twice a week
POLICY_SHARE = 0.8
TEACHERS, RESIDENTS = 300, 800
WARMUP = 20
DEFAULT_PAGE_SIZE = 50  # the API's
TARGET_P50_MS = 20.0


@dataclass(frozen=True, slots=True)
class Room:
    space: int
    organisation: int
    zone: ZoneInfo


@dataclass
class Rows:
    """Every row to insert, table by table, with ids chosen here."""

    tables: dict[type, list[dict[str, Any]]] = field(default_factory=dict)
    towns: list[int] = field(default_factory=list)
    communities: list[int] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    listed: int = 0
    series: int = 0

    def add(self, model: type, **values: Any) -> None:
        self.tables.setdefault(model, []).append(values)

    def next_id(self, model: type) -> int:
        return len(self.tables.get(model, [])) + 1


def _places(rows: Rows, rng: random.Random) -> list[Room]:
    """Regions, an organisation per community, its venues and their rooms."""
    rows.add(Region, id=1, name="新乡市红旗区", level="district", parent_id=None)
    rooms: list[Room] = []
    for town in TOWNS:
        town_id = rows.next_id(Region)
        rows.add(Region, id=town_id, name=town, level="town", parent_id=1)
        rows.towns.append(town_id)
        for c in range(COMMUNITIES_PER_TOWN):
            community, community_id = f"{town[:2]}第{c + 1}社区", rows.next_id(Region)
            rows.add(Region, id=community_id, name=community, level="community", parent_id=town_id)
            rows.communities.append(community_id)
            organisation = rows.next_id(Organisation)
            rows.add(
                Organisation, id=organisation, name=f"{community}居民学校", kind="community_school", region_id=town_id
            )
            for kind in VENUE_KINDS:
                venue, zone = _venue(rows, rng, community, community_id, organisation, kind)
                for r in range(1 + rng.randrange(2)):
                    space = rows.next_id(Space)
                    rows.add(
                        Space,
                        id=space,
                        venue_id=venue,
                        name=f"活动室{r + 1}",
                        kind="classroom",
                        capacity=30,
                        features=[],
                    )
                    rooms.append(Room(space, organisation, zone))
    rows.keywords += [TOWNS[0][:2], "居民学校", "图书室", "第3社区"]
    return rooms


def _venue(rows: Rows, rng: random.Random, community: str, region: int, owner: int, kind: str) -> tuple[int, ZoneInfo]:
    """A small venue; one in forty has no position, one in twenty keeps Xinjiang time."""
    venue = rows.next_id(Venue)
    positioned = venue % 40 != 0
    zone = "Asia/Urumqi" if venue % 20 == 0 else "Asia/Shanghai"
    rows.add(
        Venue,
        id=venue,
        name=f"{community}{kind}",
        kind="community_centre",
        region_id=region,
        owner_id=owner,
        address=f"{community}{venue}号",
        latitude=CENTRE[0] + rng.uniform(-SPREAD, SPREAD) if positioned else None,
        longitude=CENTRE[1] + rng.uniform(-SPREAD, SPREAD) if positioned else None,
        timezone=zone,
    )
    return venue, ZoneInfo(zone)


def _people(rows: Rows, rng: random.Random, residents: int) -> None:
    for number in range(1, TEACHERS + 1):
        rows.add(
            Teacher,
            id=number,
            name=f"教师{number}",
            display_name=f"{'王李张刘陈杨赵黄周吴'[number % 10]}老师",
            skills=[],
            availability=[],
            refused_venue_ids=[],
        )
    for number in range(1, residents + 1):
        rows.add(User, id=number, username=f"resident-{number}", password_hash="!", created_at=NOW)
        rows.add(
            Resident,
            user_id=number,
            public_id=str(uuid.UUID(int=rng.getrandbits(128))),
            display_name=f"居民{number}",
            home_region_id=rng.choice(rows.communities),
            birth_year=rng.randrange(1940, 2010),
            created_at=NOW,
        )


def _classes(rows: Rows, rng: random.Random, rooms: list[Room], listed: int) -> None:
    """Listed classes first, then unlisted ones: half never booked, half with a cancelled series."""
    free = {room.space: rng.sample([(d, h) for d in range(7) for h in HOURS], 7 * len(HOURS)) for room in rooms}
    for number in range(1, int(listed * (1 + UNLISTED_SHARE)) + 1):
        category = rng.choice(list(TOPICS))
        title = f"{rng.choice(TOPICS[category])}{rng.choice(LEVELS)}"
        room = rng.choice(rooms)
        rows.add(
            CommunityClass,
            id=number,
            title=title,
            category=category,
            target_group=rng.choice(TARGET_GROUPS),
            organisation_id=room.organisation,
            term_start=TERM_START,
            term_end=TERM_END,
            required_features=[],
            allowed_kinds=[],
            preferred_region_ids=[],
            allowed_windows=[],
            cohorts=[],
        )
        unlisted = number > listed
        if unlisted and number % 2:
            continue
        for _ in range(1 + (rng.random() < SECOND_SERIES_SHARE)):
            if free[room.space]:  # a full room: one series is enough
                _series(rows, rng, number, title, room, free[room.space].pop(), cancelled=unlisted)
        if not unlisted and rng.random() < POLICY_SHARE:
            _policy(rows, rng, number)
    rows.listed = listed
    rows.keywords += ["书法", "合唱", "瑜伽", "english", "PILATES", "入门", "健康", "亲子"]


def _series(rows: Rows, rng, class_id: int, title: str, room: Room, slot: tuple[int, int], *, cancelled) -> None:
    """A weekly series of WEEKS sessions at one of the room's free (weekday, hour) slots."""
    weekday, hour = slot
    first = datetime.combine(TERM_START + timedelta(days=weekday), dtime(hour), room.zone)
    starts = first.astimezone(UTC)
    ends = starts + timedelta(minutes=rng.choice((60, 90, 120)))
    booking, state = rows.next_id(Booking), "cancelled" if cancelled else "confirmed"
    rows.add(
        Booking,
        id=booking,
        space_id=room.space,
        organisation_id=room.organisation,
        title=title,
        attendees=20,
        starts_at=starts,
        ends_at=ends,
        state=state,
        rrule=f"FREQ=WEEKLY;COUNT={WEEKS}",
        created_at=NOW,
        updated_at=NOW,
    )
    rows.add(ClassBooking, booking_id=booking, class_id=class_id, teacher_id=rng.randint(1, TEACHERS))
    for week in range(WEEKS):
        start, end = starts + timedelta(weeks=week), ends + timedelta(weeks=week)
        rows.add(
            Occurrence,
            booking_id=booking,
            space_id=room.space,
            starts_at=start,
            ends_at=end,
            blocked_start_at=start,
            blocked_end_at=end,
            state=state,
            original_starts_at=start,
        )
    rows.series += 1


def _policy(rows: Rows, rng: random.Random, class_id: int) -> None:
    """A policy with 10-30 seats and up to 40 applications: seats filled first, then a waiting
    list; one application in four withdrawn."""
    seats = rng.randrange(10, 31)
    applicants = rng.sample(range(1, RESIDENTS + 1), rng.randrange(41))
    states = [
        "withdrawn" if rng.random() < 0.25 else "enrolled" if rank < seats else "waitlisted"
        for rank in range(len(applicants))
    ]
    for resident, state in zip(applicants, states, strict=True):
        rows.add(
            Application,
            public_id=str(uuid.UUID(int=rng.getrandbits(128))),
            class_id=class_id,
            resident_id=resident,
            term_start=TERM_START,
            state=state,
            channel="self",
            created_at=NOW,
            updated_at=NOW,
        )
    secret = f"{rng.getrandbits(256):064x}"
    rows.add(
        EnrolmentPolicy,
        class_id=class_id,
        opens_at=NOW - timedelta(days=1),
        closes_at=NOW + timedelta(days=14),
        seats=seats,
        enrolled=states.count("enrolled"),
        mode=rng.choice(("lottery", "first_come")),
        tiers=list(DEFAULT_TIERS),
        seed=secret,
        seed_commitment=commitment(secret),
        updated_at=NOW,
    )


def generate(listed: int, seed: int) -> Rows:
    rng = random.Random(seed)
    rows = Rows()
    rooms = _places(rows, rng)
    _people(rows, rng, RESIDENTS)
    _classes(rows, rng, rooms, listed)
    return rows


INSERT_ORDER = (
    Region,
    Organisation,
    Venue,
    Space,
    Teacher,
    User,
    Resident,
    CommunityClass,
    Booking,
    ClassBooking,
    Occurrence,
    EnrolmentPolicy,
    Application,
)


async def seed(url: str, rows: Rows) -> None:
    """Insert every row; on PostgreSQL then gather the statistics autovacuum would have gathered
    on a server that had been running (its plans are wild guesses without them)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for model in INSERT_ORDER:
                table_rows = rows.tables.get(model, [])
                for start in range(0, len(table_rows), 5000):
                    await connection.execute(insert(model), table_rows[start : start + 5000])
            if connection.dialect.name == "postgresql":
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


# ---- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    p50_ms: float
    p99_ms: float
    items: float  # mean items per answer
    total: float  # mean matching classes per answer

    @classmethod
    def of(cls, name: str, seconds: list[float], answers: list[dict]) -> Latency:
        cuts = statistics.quantiles(seconds, n=100, method="inclusive")
        items = statistics.fmean(len(a.get("items", [])) for a in answers)
        total = statistics.fmean(a.get("total", 1) for a in answers)
        return cls(name, cuts[49] * 1e3, cuts[98] * 1e3, items, total)


def query_makers(rows: Rows, rng: random.Random, page_size: int) -> dict[str, Callable[[], tuple[str, dict]]]:
    """Each query's next request: (path, query parameters)."""
    regions = [*rows.towns, *rows.communities]
    page = {} if page_size == DEFAULT_PAGE_SIZE else {"limit": page_size}

    def point() -> str:
        return f"{CENTRE[0] + rng.uniform(-SPREAD, SPREAD):.5f},{CENTRE[1] + rng.uniform(-SPREAD, SPREAD):.5f}"

    def catalogue(**params) -> tuple[str, dict]:
        return "/api/v1/catalogue", {**page, **params}

    return {
        "baseline GET /regions/{id}": lambda: (f"/api/v1/regions/{rng.choice(regions)}", {}),
        "no filter, page 1": lambda: catalogue(),
        "region + weekday": lambda: catalogue(region_id=rng.choice(regions), weekday=rng.randrange(7)),
        "keyword": lambda: catalogue(q=rng.choice(rows.keywords)),
        "near": lambda: catalogue(near=point()),
    }


async def measure(client: httpx.AsyncClient, makers: dict, requests: int) -> list[Latency]:
    """Round robin, one request of each query per round (the first WARMUP rounds unmeasured), so
    that whatever else the machine is doing weighs on every query alike."""
    seconds: dict[str, list[float]] = {name: [] for name in makers}
    answers: dict[str, list[dict]] = {name: [] for name in makers}
    for round_number in range(WARMUP + requests):
        for name, next_request in makers.items():
            path, params = next_request()
            started = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise BenchError(f"{name}: GET {path} {params} answered {response.status_code}: {response.text[:300]}")
            if round_number >= WARMUP:
                seconds[name].append(elapsed)
                answers[name].append(response.json())
    print(f"{requests} rounds of {len(makers)} requests measured", file=sys.stderr)
    return [Latency.of(name, seconds[name], answers[name]) for name in makers]


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance by the spherical law of cosines: a formula of its own, not the app's."""
    (lat1, lon1), (lat2, lon2) = (map(math.radians, point) for point in (a, b))
    cosine = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return round(6_371_000 * math.acos(min(1.0, cosine)), 1)


def nearest_first(rows: Rows, point: tuple[float, float]) -> list[int]:
    """Every listed class, nearest venue first (no position: last), then by title and id, worked
    out from the generated rows alone."""
    venue_of_space = {space["id"]: space["venue_id"] for space in rows.tables[Space]}
    position = {v["id"]: (v["latitude"], v["longitude"]) for v in rows.tables[Venue] if v["latitude"] is not None}
    held = {b["id"]: venue_of_space[b["space_id"]] for b in rows.tables[Booking] if b["state"] == "confirmed"}
    nearest: dict[int, float] = {}
    for link in rows.tables[ClassBooking]:
        venue = held.get(link["booking_id"])
        if venue is not None:
            metres = metres_apart(point, position[venue]) if venue in position else math.inf
            nearest[link["class_id"]] = min(metres, nearest.get(link["class_id"], math.inf))
    title = {offer["id"]: offer["title"] for offer in rows.tables[CommunityClass]}
    return sorted(nearest, key=lambda class_id: (nearest[class_id], title[class_id], class_id))


async def check(client: httpx.AsyncClient, rows: Rows, rng: random.Random) -> None:
    """Before anything is timed: the catalogue lists exactly the listed classes, and pages by
    distance (from the nearest venues first, or not) are those of a ranking worked out here."""
    first = (await client.get("/api/v1/catalogue")).json()
    if first.get("total") != rows.listed or len(first.get("items", [])) != DEFAULT_PAGE_SIZE:
        raise BenchError(f"the catalogue lists {first.get('total')} classes, expected {rows.listed}")
    for offset in (0, 0, 0, 150, rows.listed - 20):
        point = (CENTRE[0] + rng.uniform(-SPREAD, SPREAD), CENTRE[1] + rng.uniform(-SPREAD, SPREAD))
        params = {"near": f"{point[0]},{point[1]}", "offset": offset}
        page = (await client.get("/api/v1/catalogue", params=params)).json()
        expected = nearest_first(rows, point)[offset : offset + DEFAULT_PAGE_SIZE]
        if [item["id"] for item in page["items"]] != expected:
            raise BenchError(f"near={params['near']} offset={offset}: the page differs from the ranking worked out")


async def bench(url: str, rows: Rows, args: argparse.Namespace) -> list[Latency]:
    started = time.perf_counter()
    await seed(url, rows)
    print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rng = random.Random(args.seed)
    app = create_app(Settings(database_url=url), clock=lambda: NOW)  # enrolment windows open, nothing to draw
    lifespan = await start_lifespan(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await check(client, rows, random.Random(args.seed))
            return await measure(client, query_makers(rows, rng, args.page_size), args.requests)
    finally:
        await stop_lifespan(*lifespan)


def report(results: list[Latency], rows: Rows, args: argparse.Namespace, database: str) -> str:
    baseline = results[0].p50_ms
    lines = [
        f"catalogue: {rows.listed} listed classes (+{len(rows.tables[CommunityClass]) - rows.listed} unlisted), "
        f"{rows.series} series, {len(rows.tables[Occurrence])} sessions, {len(rows.tables[Venue])} venues in "
        f"{len(rows.communities)} communities of {len(rows.towns)} towns, {len(rows.tables[Application])} applications",
        f"{database}; {args.requests} requests per query (round robin) after {WARMUP} warm-ups, "
        f"page size {args.page_size}, {os.cpu_count()} CPUs",
        f"{'query':<28}{'p50 ms':>8}{'p99 ms':>8}{'p50/base':>10}{'items':>7}{'total':>8}",
        *(
            f"{r.name:<28}{r.p50_ms:>8.1f}{r.p99_ms:>8.1f}{r.p50_ms / baseline:>10.2f}{r.items:>7.1f}{r.total:>8.0f}"
            for r in results
        ),
        "target p50 < {:.0f} ms: {}".format(
            TARGET_P50_MS,
            ", ".join(f"{r.name} {'met' if r.p50_ms < TARGET_P50_MS else 'MISSED'}" for r in results[1:]),
        ),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rows = generate(args.classes, args.seed)
    if args.postgres:
        with scratch_database(args.postgres, "venueshare_bench_catalogue") as url:
            app_url = driver_url(url, "postgresql+asyncpg")
            upgrade(app_url)
            return report(asyncio.run(bench(app_url, rows, args)), rows, args, "PostgreSQL")
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'catalogue.db'}"
        upgrade(url)
        return report(asyncio.run(bench(url, rows, args)), rows, args, "SQLite")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=2000, help="listed classes (default 2000)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per query (default 200)")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="limit of every catalogue query")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the queries (default 1)")
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="run on PostgreSQL: an admin database to create the scratch one next to"
    )
    args = parser.parse_args(argv)
    if args.classes < DEFAULT_PAGE_SIZE or args.requests < 2 or not 1 <= args.page_size <= 200:
        parser.error(f"need --classes >= {DEFAULT_PAGE_SIZE}, --requests >= 2 and --page-size 1-200")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
