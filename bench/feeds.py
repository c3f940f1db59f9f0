"""iCal feed rendering: ``integrations.ical.render`` against icalendar's own serialiser.

One invocation builds one large feed in memory (no database): --series weekly series of
--weeks sessions each (default 200 × 50 = 10,000 occurrences) spread over five venue zones
(Shanghai, New York, Dublin, Lord Howe, São Paulo), from a seeded generator. About one series
in ten is a skipped date, one session in 25 is moved (an override) and one in 25 cancelled
(an override in people's feeds, an EXDATE in venue feeds). Then, in the same run:

* render (people): ``render(feed)`` with cancelled sessions shown, the VTIMEZONE cache warm (per
  zone and years: what a server rendering the feed again sees);
* render (venue): the same feed with ``show_cancelled=False``;
* render, cold caches: the people's feed with the VTIMEZONE cache cleared before every run;
* baseline: icalendar alone serialising an equivalent, already built ``Calendar`` (the
  people's feed parsed back) with ``to_ical()``.

Then the HTTP side, on a scratch SQLite database holding the same number of sessions (weekly
series booked through the service, a few moved and cancelled), through the real app in-process:

* GET (rendered): ``GET /feeds/venues/{id}.ics`` with the app's rendering cache emptied first —
  queries, building the feed, rendering, hashing;
* GET 304: the same request with ``If-None-Match`` of the current ETag — one aggregate query
  and a cache look-up, no rendering (the target: a 304 answered without rendering).

Each phase runs --runs times (after one unmeasured run); the median is reported. Before
timing, the rendered feed must parse back with no icalendar errors and hold the expected
number of VEVENTs; otherwise the figures are withheld and the run fails. Figures of merit:
render median (target < 300 ms) and render / baseline. Timing never fails the run.

    .venv/bin/python bench/feeds.py [--series 200] [--weeks 50] [--runs 9] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from common import BenchError, run_benchmark
from icalendar import Calendar
from litestar.testing import AsyncTestClient

from booking.app import create_app
from booking.config import Settings
from booking.db import create_engine, sessionmakers
from booking.migrate import upgrade
from booking.rules.permissions import SYSTEM
from booking.schemas.bookings import BookingCreate, Recurrence, SessionMove
from booking.schemas.places import OrganisationCreate, RegionCreate, SpaceCreate, VenueCreate
from booking.services import bookings, places, sessions, spaces
from integrations.ical import Event, Feed, Session, SessionState, render
from integrations.vtimezone import vtimezone

ZONES = ("Asia/Shanghai", "America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "America/Sao_Paulo")
FIRST_DAY = datetime(2027, 1, 4)  # a Monday, venue-local
UPDATED = datetime(2026, 12, 1, 8, tzinfo=UTC)
MOVED_SHARE = 0.04
CANCELLED_SHARE = 0.04
SKIPPED_SERIES_SHARE = 0.1
TARGET_RENDER_MS = 300.0


def build_feed(series: int, weeks: int, seed: int) -> Feed:
    rng = random.Random(seed)
    events = []
    for number in range(series):
        zone_name = ZONES[number % len(ZONES)]
        zone = ZoneInfo(zone_name)
        first = FIRST_DAY + timedelta(days=rng.randrange(7), hours=rng.randrange(8, 21))
        hours = timedelta(hours=rng.choice((1, 2)))
        skipped = rng.randrange(weeks) if rng.random() < SKIPPED_SERIES_SHARE else None
        sessions, instances = [], []
        for week in range(weeks):
            wall = first + timedelta(weeks=week)
            start = wall.replace(tzinfo=zone).astimezone(UTC)
            instances.append(start)
            if week == skipped:
                continue
            roll = rng.random()
            state = SessionState.cancelled if roll < CANCELLED_SHARE else SessionState.confirmed
            shift = timedelta(days=1) if CANCELLED_SHARE <= roll < CANCELLED_SHARE + MOVED_SHARE else timedelta(0)
            sessions.append(Session(start, start + shift, start + shift + hours, state))
        starts_at = first.replace(tzinfo=zone).astimezone(UTC)
        events.append(
            Event(
                uid=f"booking-{number}.venue@feeds.example.org",
                summary=f"Booking {number}: choir, chess; 兴趣班",
                timezone=zone_name,
                starts_at=starts_at,
                ends_at=starts_at + hours,
                rrule=f"FREQ=WEEKLY;COUNT={weeks}",
                sessions=tuple(sessions),
                instances=tuple(instances),
                sequence=rng.randrange(4),
                created_at=UPDATED - timedelta(days=30),
                updated_at=UPDATED,
                location=f"Hall {number % 7}",
            )
        )
    return Feed(
        name="District bookings",
        description="Every booking in the district",
        source_url="https://feeds.example.org/district.ics",
        window_start=datetime(2026, 12, 1, tzinfo=UTC),
        window_end=datetime(2028, 1, 1, tzinfo=UTC),
        events=tuple(events),
    )


def clear_caches() -> None:
    vtimezone.cache_clear()


def median_ms(work: Callable[[], object], runs: int, before: Callable[[], object] = lambda: None) -> float:
    before()
    work()  # unmeasured warm-up
    timings = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def check(feed: Feed, body: bytes) -> Calendar:
    calendar = Calendar.from_ical(body)
    errors = [(component.name, error) for component in calendar.walk() for error in component.errors]
    if errors:
        raise BenchError(f"the rendered feed does not parse cleanly: {errors[:3]}")
    overrides = sum(
        1
        for event in feed.events
        for session in event.sessions
        if session.start != session.original_start or session.state is SessionState.cancelled
    )
    vevents = len(calendar.walk("VEVENT"))
    if vevents != len(feed.events) + overrides:
        raise BenchError(f"{vevents} VEVENTs rendered, expected {len(feed.events)} masters + {overrides} overrides")
    return calendar


async def seed_database(url: str, series: int, weeks: int, now: datetime) -> int:
    """A venue with one space per series, each booked weekly for ``weeks`` sessions; every 25th
    session of a series moved by an hour, every 25th (offset) cancelled. The venue's id."""
    engine = create_engine(url)
    writes, _ = sessionmakers(engine)
    first = (now + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    try:
        async with writes() as session, session.begin():
            region = await places.create_region(session, SYSTEM, RegionCreate(name="Bench", level="district"))
            club = await places.create_organisation(
                session, SYSTEM, OrganisationCreate(name="Bench club", kind="ngo", region_id=region.id)
            )
            venue = await places.create_venue(
                session,
                SYSTEM,
                VenueCreate(name="Bench hall", kind="community_centre", region_id=region.id, owner_id=club.id),
            )
            for number in range(series):
                space = await spaces.create_space(
                    session, SYSTEM, venue.id, SpaceCreate(name=f"Room {number}", kind="meeting_room", capacity=20)
                )
                starts = first + timedelta(days=number % 7, hours=number % 8)
                booked = await bookings.request_booking(
                    session,
                    SYSTEM,
                    BookingCreate(
                        space_id=space.id,
                        organisation_id=club.id,
                        title=f"Series {number}",
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=1),
                        recurrence=Recurrence(rrule=f"FREQ=WEEKLY;COUNT={weeks}"),
                    ),
                    now=now,
                )
                for index, occurrence in enumerate(booked.occurrences):
                    if index % 25 == 3:
                        later = occurrence.starts_at + timedelta(hours=1)
                        move = SessionMove(starts_at=later, ends_at=later + timedelta(hours=1))
                        await sessions.move_session(session, SYSTEM, booked.id, occurrence.id, move, now=now)
                    elif index % 25 == 11:
                        await sessions.cancel_session(
                            session, SYSTEM, booked.id, occurrence.id, following=False, now=now
                        )
            return venue.id
    finally:
        await engine.dispose()


def http_phases(series: int, weeks: int, runs: int) -> list[tuple[str, float, int]]:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'feeds.db'}"
        upgrade(url)
        return asyncio.run(_http_phases(url, series, weeks, runs))


async def _http_phases(url: str, series: int, weeks: int, runs: int) -> list[tuple[str, float, int]]:
    venue_id = await seed_database(url, series, weeks, datetime.now(UTC))
    settings = Settings(database_url=url, feed_future_days=weeks * 7 + 7)
    app = create_app(settings)
    path = f"/feeds/venues/{venue_id}.ics"
    async with AsyncTestClient(app=app) as client:
        first = await client.get(path)
        if first.status_code != 200:
            raise BenchError(f"GET {path} answered {first.status_code}")
        etag = first.headers["etag"]

        async def rendered() -> httpx.Response:
            app.state.rendered_feeds = type(app.state.rendered_feeds)()
            return await client.get(path)

        async def revalidated() -> httpx.Response:
            response = await client.get(path, headers={"If-None-Match": etag})
            if response.status_code != 304:
                raise BenchError(f"revalidation answered {response.status_code}, not 304")
            return response

        return [
            ("GET (rendered)", await median_ms_async(rendered, runs), len(first.content)),
            ("GET 304", await median_ms_async(revalidated, runs), 0),
        ]


async def median_ms_async(work, runs: int) -> float:
    await work()  # unmeasured warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run(args: argparse.Namespace) -> str:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    feed = build_feed(args.series, args.weeks, args.seed)
    occurrences = sum(len(event.sessions) for event in feed.events)
    people = render(feed)
    calendar = check(feed, people)
    venue_feed = replace(feed, show_cancelled=False)
    phases = [
        ("render (people)", median_ms(lambda: render(feed), args.runs), len(people)),
        ("render (venue)", median_ms(lambda: render(venue_feed), args.runs), len(render(venue_feed))),
        ("render, cold caches", median_ms(lambda: render(feed), args.runs, before=clear_caches), len(people)),
        ("icalendar to_ical()", median_ms(calendar.to_ical, args.runs), len(calendar.to_ical())),
    ]
    render_ms, baseline_ms = phases[0][1], phases[-1][1]
    print("http: seeding a scratch SQLite database", file=sys.stderr)
    http = http_phases(args.series, args.weeks, args.runs)
    phases += http
    rows = [
        f"feeds: {len(feed.events)} series, {occurrences} booked sessions, {len(calendar.walk('VEVENT'))} VEVENTs, "
        f"{len(ZONES)} zones, median of {args.runs} runs, {os.cpu_count()} CPUs",
        f"{'phase':<22}{'median ms':>10}{'bytes':>11}",
        *(f"{name:<22}{ms:>10.1f}{size:>11}" for name, ms, size in phases),
        f"ratio render / icalendar to_ical(): {render_ms / baseline_ms:.2f}",
        f"render median: {render_ms:.1f} ms  (target < {TARGET_RENDER_MS:.0f} ms: "
        f"{'met' if render_ms < TARGET_RENDER_MS else 'MISSED'})",
        f"304 / rendered GET: {http[1][1] / http[0][1]:.3f}  (a 304 renders nothing)",
    ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=200, help="weekly series in the feed (default 200)")
    parser.add_argument("--weeks", type=int, default=50, help="sessions per series (default 50)")
    parser.add_argument("--runs", type=int, default=9, help="measured runs per phase (default 9)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated bookings (default 1)")
    args = parser.parse_args(argv)
    if args.series < 1 or not 1 <= args.weeks <= 500 or args.runs < 1:
        parser.error("need --series >= 1, --weeks 1-500, --runs >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
