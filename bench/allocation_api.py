"""A district-sized allocation run through the HTTP API, and whether the API keeps answering meanwhile.

One invocation, one fresh database (an SQLite file in a temporary directory, or with
``--postgres`` a scratch database next to the given admin one, dropped at the end), the real
server (``venueshare serve``, one worker) on a free local port:

1. loads the ``wide`` district of ``scheduling.wide_generator`` through the API as a district
   administrator: regions, one organisation per venue, venues, spaces with their own opening
   hours, the two all-venue holidays as closures, teachers, and a 12-week term of classes;
2. baseline: 4 clients loop ``GET /api/v1/venues`` for 10 s with no run going;
3. ``POST /api/v1/allocations`` for the term; while it runs the same 4 clients loop the same GET
   and the run is polled every 0.5 s (every 0.1 s after ``--cancel-after`` cancelled it).

Prints the load time, the run's outcome, the wall time from the POST to ``done`` (target: the
time limit + 5 s) and the GET's p50/p99 during the run against the baseline. The exit status is
non-zero only when the run failed or its plan is missing; timing never decides it.

    .venv/bin/python bench/allocation_api.py [--limit 60] [--seed 0] [--cancel-after S]
        [--classes 300 --teachers 100 --venues 99 --spaces 178] [--postgres postgresql://…/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from booking_throughput import add_user, percentiles_ms, running_server, sign_in
from common import BenchError, driver_url, run_benchmark, scratch_database

from booking.migrate import upgrade
from booking.rules.hours import clock
from scheduling import wide_generator
from scheduling.problem import ClassOffer, Space, Teacher, Unit
from scheduling.wide_generator import WideDistrict

GRID_MINUTES = wide_generator.GRID_MINUTES
TOWNS, COMMUNITIES = 8, 50  # wide_problem's defaults: the benchmark does not vary them
ORIGIN = (30.0, 120.0)  # the generator's (0 km, 0 km), as latitude and longitude
KM_PER_DEGREE = 111.32
TIMEZONE = "Asia/Shanghai"

LOAD_CONCURRENCY = 8  # requests in flight while loading the district
GET_CLIENTS = 4
IDLE_SECONDS = 10.0
POLL_S, CANCEL_POLL_S = 0.5, 0.1
TARGET_OVERRUN_S = 5.0  # a run should be done within its time limit plus this
GIVE_UP_AFTER_S = 120.0  # past its time limit, a run that is still not over fails the benchmark
REQUEST_TIMEOUT_S = 60.0
FINISHED = {"done", "failed", "cancelled", "committed"}
ADMIN = "bench-admin"

# generator venue kind -> (the API's venue kind, the kind of the organisation owning it)
VENUE_KINDS = {
    "school": ("school", "school"),
    "community_school": ("community_school", "community_school"),
    "library": ("library", "library"),
    "study_room": ("study_room", "study_room_operator"),
    "sports_centre": ("sports_venue", "sports_centre"),
    "learning_point": ("learning_point", "learning_point"),
}


# --- the district, as the generator makes it ------------------------------------------------


def district(args: argparse.Namespace) -> WideDistrict:
    sizes = {"classes": args.classes, "teachers": args.teachers, "venues": args.venues, "spaces": args.spaces}
    return wide_generator.wide_district(args.seed, **sizes, towns=TOWNS, communities=COMMUNITIES)


def first_term_monday(today: date, weeks_ahead: int = 3) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7) + timedelta(weeks=weeks_ahead - 1)


def windows(units: Iterable[Unit]) -> list[dict[str, Any]]:
    """Grid units as weekly local windows: one per run of consecutive units of a day."""
    by_day: dict[int, list[int]] = collections.defaultdict(list)
    for day, index in units:
        by_day[day].append(index)
    found = []
    for day, indexes in sorted(by_day.items()):
        for first, last in _runs(sorted(indexes)):
            opens, closes = clock(first * GRID_MINUTES), clock((last + 1) * GRID_MINUTES)
            found.append({"weekday": day, "opens": opens, "closes": closes})
    return found


def _runs(ordered: list[int]) -> Iterator[tuple[int, int]]:
    start = previous = ordered[0]
    for value in ordered[1:]:
        if value != previous + 1:
            yield start, previous
            start = value
        previous = value
    yield start, previous


def lat_lon(position: tuple[float, float]) -> tuple[float, float]:
    x_km, y_km = position
    latitude = ORIGIN[0] + y_km / KM_PER_DEGREE
    return round(latitude, 6), round(ORIGIN[1] + x_km / (KM_PER_DEGREE * math.cos(math.radians(ORIGIN[0]))), 6)


def holidays(term_start: date, d: WideDistrict) -> list[tuple[date, date]]:
    """The generator's all-venue holidays as (first, last) local dates."""
    periods = []
    for week, days in d.holidays:
        for first, last in _runs(list(days)):
            monday = term_start + timedelta(weeks=week)
            periods.append((monday + timedelta(days=first), monday + timedelta(days=last)))
    return periods


# --- loading it through the API -----------------------------------------------------------------


class Api:
    """A signed-in client with a cap on requests in flight; any unexpected answer ends the benchmark."""

    def __init__(self, http: httpx.AsyncClient, concurrency: int = LOAD_CONCURRENCY) -> None:
        self.http, self._slots, self.requests = http, asyncio.Semaphore(concurrency), 0

    async def send(self, method: str, path: str, payload: Any = None, *, expect: int = 200) -> Any:
        async with self._slots:
            response = await self.http.request(method, f"/api/v1{path}", json=payload)
        self.requests += 1
        if response.status_code != expect:
            raise BenchError(f"{method} {path} answered {response.status_code}: {response.text[:600]}")
        return response.json()

    async def create(self, path: str, payload: dict[str, Any]) -> int:
        return (await self.send("POST", path, payload, expect=201))["id"]


@dataclass
class Loaded:
    region_ids: dict[int, int] = field(default_factory=dict)  # generator region id -> API id
    college_id: int = 0  # the organisation running the classes and employing the teachers


async def create_each(api: Api, path: str, bodies: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Create every body concurrently (within the API's cap): key -> created id."""
    made = await asyncio.gather(*(api.create(path, body) for body in bodies.values()))
    return dict(zip(bodies, made, strict=True))


async def load(api: Api, d: WideDistrict, term: tuple[date, date]) -> Loaded:
    loaded = Loaded()
    ids = loaded.region_ids
    root = await api.create("/regions", {"name": "Bench district", "level": "district"})
    towns = {t: {"name": f"Town {t}", "level": "town", "parent_id": root} for t in d.places if t <= TOWNS}
    ids |= await create_each(api, "/regions", towns)
    communities = {
        c: {"name": f"Community {c}", "level": "community", "parent_id": ids[c // 100]} for c in d.places if c > TOWNS
    }
    ids |= await create_each(api, "/regions", communities)
    loaded.college_id = await api.create(
        "/organisations", {"name": "Bench community college", "kind": "community_college", "region_id": root}
    )
    closed = holidays(term[0], d)
    spaces_of: dict[int, list[Space]] = collections.defaultdict(list)
    for space in d.problem.spaces:
        spaces_of[space.venue_id].append(space)
    await asyncio.gather(*(load_venue(api, d, v, spaces_of[v], ids, closed) for v in sorted(d.venues)))
    await create_each(
        api, "/teachers", {t.id: teacher_body(t, t.id in d.volunteers, loaded) for t in d.problem.teachers}
    )
    await create_each(api, "/classes", {c.id: class_body(c, loaded, term) for c in d.problem.classes})
    return loaded


async def load_venue(
    api: Api, d: WideDistrict, venue_id: int, spaces: list[Space], ids: dict[int, int], closed: list[tuple[date, date]]
) -> None:
    position, community, kind = d.venues[venue_id]
    venue_kind, owner_kind = VENUE_KINDS[kind]
    region_id = ids[community]
    owner = await api.create(
        "/organisations", {"name": f"Operator of venue {venue_id}", "kind": owner_kind, "region_id": region_id}
    )
    latitude, longitude = lat_lon(position)
    venue = await api.create(
        "/venues",
        {
            "name": f"Venue {venue_id} ({kind})",
            "kind": venue_kind,
            "region_id": region_id,
            "owner_id": owner,
            "latitude": latitude,
            "longitude": longitude,
            "timezone": TIMEZONE,
        },
    )
    for first, last in closed:
        days = {"start_date": first.isoformat(), "end_date": last.isoformat()}
        await api.create("/closures", {"venue_id": venue, **days, "reason": "holiday"})
    for space in spaces:
        body = {"name": f"{space.kind} {space.id}", "kind": space.kind, "capacity": space.capacity}
        space_id = await api.create(f"/venues/{venue}/spaces", {**body, "features": sorted(space.features)})
        await api.send("PUT", f"/spaces/{space_id}/opening-hours", windows(space.open_units))


def teacher_body(teacher: Teacher, volunteer: bool, loaded: Loaded) -> dict[str, Any]:
    return {
        "name": f"Teacher {teacher.id}",
        "kind": "volunteer" if volunteer else "staff",
        "organisation_id": loaded.college_id,
        "skills": sorted(teacher.skills),
        "availability": windows(teacher.available_units),
        "max_minutes_per_week": teacher.max_minutes_per_week,
        "home_region_id": loaded.region_ids[teacher.home_region_id] if teacher.home_region_id else None,
    }


def class_body(offer: ClassOffer, loaded: Loaded, term: tuple[date, date]) -> dict[str, Any]:
    # The API takes a class's community to be its first preferred region.
    preferred = [offer.community_id, *sorted(offer.preferred_region_ids - {offer.community_id})]
    return {
        "title": f"{offer.required_skill} class {offer.id}",
        "category": offer.required_skill or "",
        "organisation_id": loaded.college_id,
        "term_start": term[0].isoformat(),
        "term_end": term[1].isoformat(),
        "sessions_per_week": offer.sessions_per_week,
        "session_minutes": offer.length_units * GRID_MINUTES,
        "learners": offer.learners,
        "required_features": sorted(offer.required_features),
        "allowed_kinds": sorted(offer.allowed_kinds),
        "required_skill": offer.required_skill,
        "preferred_region_ids": [loaded.region_ids[r] for r in preferred if r is not None],
        "allowed_windows": windows(offer.allowed_units),
        "cohorts": sorted(offer.cohorts),
    }


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)  # time.perf_counter() when each was sent
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def add(self, started: float) -> None:
        self.started.append(started)
        self.seconds.append(time.perf_counter() - started)

    def slowest(self, origin: float, count: int = 3) -> str:
        """The slowest answers, each with when it was asked (seconds after ``origin``)."""
        worst = sorted(zip(self.seconds, self.started, strict=True), reverse=True)[:count]
        return ", ".join(f"{seconds * 1000:.0f} ms at {started - origin:.1f} s" for seconds, started in worst)

    def summary(self) -> str:
        if len(self.seconds) < 2:
            return f"{len(self.seconds)} answers, {len(self.errors)} errors"
        p50, p99 = percentiles_ms(self.seconds)
        rate = len(self.seconds) / self.wall_s if self.wall_s else 0.0
        mean = 1000 * sum(self.seconds) / len(self.seconds)
        return (
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  mean {mean:6.1f} ms  max {max(self.seconds) * 1000:6.1f} ms  "
            f"({len(self.seconds)} GETs, {rate:.0f}/s, {len(self.errors)} errors)"
        )


async def hammer(base_url: str, stop: asyncio.Event) -> Latencies:
    """``GET_CLIENTS`` anonymous clients loop ``GET /api/v1/venues`` until ``stop`` is set."""
    measured = Latencies()
    limits = httpx.Limits(max_connections=GET_CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as http:

        async def client() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = await http.get("/api/v1/venues")
                except httpx.HTTPError as error:
                    measured.errors.append(f"{type(error).__name__}: {error}")
                    continue
                if response.status_code == 200:
                    measured.add(started)
                else:
                    measured.errors.append(f"HTTP {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(GET_CLIENTS)))
        measured.wall_s = time.perf_counter() - started
    return measured


async def idle_baseline(base_url: str) -> Latencies:
    stop = asyncio.Event()
    running = asyncio.create_task(hammer(base_url, stop))
    await asyncio.sleep(IDLE_SECONDS)
    stop.set()
    return await running


@dataclass
class Followed:
    """A run as its poller saw it; times in seconds from sending the POST."""

    final: dict[str, Any]
    posted: float  # time.perf_counter() when the POST was sent
    timeline: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)  # (t, status, progress)
    finished_at: float | None = None
    running_at: float | None = None
    cancel_sent_at: float | None = None
    cancel_answer: int | None = None
    poll: Latencies = field(default_factory=Latencies)


async def follow(
    admin: httpx.AsyncClient, allocation_id: int, posted: float, limit_s: float, cancel_after: float | None
) -> Followed:
    """Poll the run until it is over; cancel it ``cancel_after`` s after the POST if asked to."""
    followed = Followed(final={}, posted=posted)
    path = f"/api/v1/allocations/{allocation_id}"
    cancel_at = None if cancel_after is None else posted + cancel_after
    while True:
        if cancel_at is not None and time.perf_counter() >= cancel_at:
            followed.cancel_sent_at, cancel_at = time.perf_counter() - posted, None
            followed.cancel_answer = (await admin.post(f"{path}/cancel")).status_code
        asked = time.perf_counter()
        response = await admin.get(path)
        followed.poll.add(asked)
        answered = time.perf_counter()
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}: {response.text[:600]}")
        body, at = response.json(), answered - posted
        note(followed, at, body)
        if body["status"] in FINISHED:
            followed.final, followed.finished_at, followed.poll.wall_s = body, at, at
            return followed
        if at > limit_s + GIVE_UP_AFTER_S:
            raise BenchError(f"allocation {allocation_id} still {body['status']} {at:.0f} s after the POST")
        wake = asked + (POLL_S if followed.cancel_sent_at is None else CANCEL_POLL_S)
        await asyncio.sleep(max(0.0, min(wake, cancel_at or wake) - time.perf_counter()))


def note(followed: Followed, at: float, body: dict[str, Any]) -> None:
    """Keep a poll in the timeline when the status, stage or number placed changed."""
    if followed.running_at is None and body["status"] != "queued":
        followed.running_at = at
    progress = body.get("progress") or {}
    shown = {key: progress.get(key) for key in ("stage", "placed", "elapsed_s")}
    if followed.timeline:
        _, status, last = followed.timeline[-1]
        if (status, last["stage"], last["placed"]) == (body["status"], shown["stage"], shown["placed"]):
            return
    followed.timeline.append((at, body["status"], shown))


@dataclass
class Measured:
    load_s: float
    load_requests: int
    idle: Latencies
    during: Latencies
    run: Followed


async def measure(base_url: str, database_url: str, d: WideDistrict, args: argparse.Namespace) -> Measured:
    await add_user(database_url, ADMIN, "district_admin")
    token = await sign_in(base_url, ADMIN)
    term_start = first_term_monday(date.today())
    term = (term_start, term_start + timedelta(weeks=d.problem.weeks, days=-1))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as admin:
        api = Api(admin)
        print(f"loading the district through {base_url} …", file=sys.stderr)
        started = time.perf_counter()
        await load(api, d, term)
        load_s = time.perf_counter() - started
        print(f"loaded: {api.requests} requests in {load_s:.1f} s; idle baseline {IDLE_SECONDS:g} s …", file=sys.stderr)
        idle = await idle_baseline(base_url)
        stop = asyncio.Event()
        getting = asyncio.create_task(hammer(base_url, stop))
        try:
            body = {"term_start": term[0].isoformat(), "term_end": term[1].isoformat(), "time_limit_s": args.limit}
            posted = time.perf_counter()
            answer = await admin.post("/api/v1/allocations", json=body)
            if answer.status_code != 202:
                raise BenchError(f"POST /allocations answered {answer.status_code}: {answer.text[:600]}")
            print(f"allocation {answer.json()['id']} posted, {args.limit:g} s limit …", file=sys.stderr)
            run = await follow(admin, answer.json()["id"], posted, args.limit, args.cancel_after)
        finally:
            stop.set()
            during = await getting
    return Measured(load_s, api.requests, idle, during, run)


# --- report -------------------------------------------------------------------------------------


def report(m: Measured, d: WideDistrict, args: argparse.Namespace, backend: str) -> tuple[str, str | None]:
    """The figures, and why the run counts as failed (None: it did not)."""
    p = d.problem
    final, result = m.run.final, m.run.final.get("result") or {}
    lines = [
        f"allocation through the API: {backend}, seed {args.seed}, {len(p.classes)} classes, "
        f"{len(p.teachers)} teachers, {len(d.venues)} venues, {len(p.spaces)} spaces, {p.weeks} weeks, "
        f"limit {args.limit:g} s, {GET_CLIENTS} GET clients, {os.cpu_count()} CPUs",
        f"load: {m.load_requests} requests in {m.load_s:.1f} s ({m.load_requests / m.load_s:.0f} req/s)",
        "progress (s after POST, status, stage, placed, solver elapsed):",
    ]
    for at, status, shown in m.run.timeline:
        stage, placed, elapsed = shown["stage"] or "-", shown["placed"], shown["elapsed_s"]
        lines.append(f"  {at:6.1f}  {status:<9} {stage:<14} {placed!s:>5} {elapsed!s:>7}")
    placed = f"{result['placed']}/{result['total']}" if "placed" in result else "-"
    shown_keys = ("placed_bound", "method", "status", "first_feasible_s")
    extras = [f"{key} {result[key]}" for key in shown_keys if key in result]
    lines.append(f"run: {final['status']}, placed {placed}" + "".join(f", {x}" for x in extras))
    if final.get("error"):
        lines.append(f"error: {final['error']}")
    reasons = collections.Counter(r for u in result.get("unplaced", []) for r in u["reasons"])
    if reasons:
        lines.append("unplaced reasons: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    if m.run.cancel_sent_at is None:
        target = args.limit + TARGET_OVERRUN_S
        met = final["status"] == "done" and m.run.finished_at <= target
        lines.append(
            f"wall time POST -> {final['status']}: {m.run.finished_at:.1f} s as polled every {POLL_S:g} s "
            f"(target <= {target:g} s: {'met' if met else 'MISSED'}); first seen running at {m.run.running_at:.1f} s"
        )
    else:
        lines.append(
            f"cancel sent {m.run.cancel_sent_at:.1f} s after the POST (answered {m.run.cancel_answer}); "
            f"status {final['status']} seen {m.run.finished_at - m.run.cancel_sent_at:.2f} s later "
            f"(polled every {CANCEL_POLL_S:g} s); plan kept: {'yes' if result.get('classes') is not None else 'no'}"
        )
    lines.append(f"server's own times: {server_times(final)}")
    lines += [
        f"GET /venues idle:       {m.idle.summary()}",
        f"GET /venues during run: {m.during.summary()}",
        f"GET /allocations/{{id}}: {m.run.poll.summary()}",
    ]
    if m.during.seconds:
        lines.append(f"slowest GET /venues during the run (s after POST): {m.during.slowest(m.run.posted)}")
    if len(m.idle.seconds) > 1 and len(m.during.seconds) > 1:
        ratio = percentiles_ms(m.during.seconds)[1] / percentiles_ms(m.idle.seconds)[1]
        lines.append(f"ratio p99 during / p99 idle: {ratio:.2f}")
    for label, sample in (("idle", m.idle), ("during", m.during)):
        for error in sample.errors[:3]:
            lines.append(f"  {label} GET error: {error}")
    failed = None
    if final["status"] == "failed":
        failed = f"the run failed: {final.get('error')}"
    elif final["status"] == "done" and "classes" not in result:
        failed = "the run is done but its plan is missing"
    elif final["status"] == "cancelled" and "classes" not in result and had_plan(m.run):
        failed = "the cancelled run kept no plan (the README: a cancel stops a run with the best plan so far)"
    return "\n".join(lines), failed


def had_plan(run: Followed) -> bool:
    """Whether the solver had reported a plan (progress with a stage) before the run was cancelled."""
    return any(shown["stage"] for at, _, shown in run.timeline if at <= (run.cancel_sent_at or math.inf))


def server_times(run: dict[str, Any]) -> str:
    """Queued and run time as the API recorded them (exact, where the poll is not)."""
    created, started, finished = (
        None if run.get(key) is None else datetime.fromisoformat(run[key])
        for key in ("created_at", "started_at", "finished_at")
    )
    if created is None or finished is None:
        return "-"
    queued = "-" if started is None else f"{(started - created).total_seconds():.2f} s"
    return f"created -> finished {(finished - created).total_seconds():.2f} s (of which queued {queued})"


# --- main ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(app database URL, backend name): a scratch PostgreSQL database or a temporary SQLite file."""
    if args.postgres:
        with scratch_database(args.postgres) as url:
            yield driver_url(url, "postgresql+asyncpg"), "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory(prefix="venueshare-bench-") as directory:
            yield f"sqlite+aiosqlite:///{directory}/venueshare.db", "SQLite"


def run(args: argparse.Namespace) -> str:
    d = district(args)
    with database(args) as (url, backend):
        upgrade(url)
        with running_server(url, workers=1) as base_url:
            measured = asyncio.run(measure(base_url, url, d, args))
    text, failed = report(measured, d, args, backend)
    if failed:
        print(text)
        raise BenchError(failed)
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", type=int, default=300)
    parser.add_argument("--teachers", type=int, default=100)
    parser.add_argument("--venues", type=int, default=99)
    parser.add_argument("--spaces", type=int, default=178)
    parser.add_argument("--limit", type=float, default=60.0, help="the run's time_limit_s (default 60)")
    parser.add_argument("--cancel-after", type=float, help="cancel the run this many seconds after the POST")
    parser.add_argument("--postgres", metavar="URL", help="admin database of a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    if args.venues < 1 or args.spaces < args.venues or min(args.classes, args.teachers) < 1:
        parser.error("need classes, teachers, venues >= 1 and spaces >= venues")
    if not 1 <= args.limit <= 600 or (args.cancel_after is not None and args.cancel_after < 0):
        parser.error("need 1 <= limit <= 600 (the API's range) and cancel-after >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
