"""The embedded default (SQLite) under a small district's staff: concurrent writers through the API.

One server process on one SQLite file, as `./scripts/serve` runs it. Each writer loads its part
of a district as venue staff would: a venue closed on public holidays, its opening hours and
booking policy, divisible spaces (a hall with two courts) and rooms, closures, then weekly series
and one-off bookings on them (some overlapping another writer's, so refused), and a cancel.
Every request is timed on its own.

Two phases on the same file, in the same run:

* one writer: the same mix with nobody else writing (the baseline);
* N writers (default 8) at once.

The figure is N writers' p99; the ratio is their p99 over one writer's. Timing never fails the
run; a request answered with anything but what the mix expects does.

    .venv/bin/python bench/sqlite_writers.py [--writers 8] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from booking_throughput import HttpConnection, add_user, create, percentiles_ms, running_server, sign_in
from common import BenchError, run_benchmark

from booking.migrate import upgrade

TARGET_P99_MS = 200.0
FIRST_DAY = date.today() + timedelta(days=7)  # every booking is in the future, within the horizon
ZONE = "Asia/Shanghai"


@dataclass
class Timings:
    latencies: list[float] = field(default_factory=list)
    refused: int = 0  # bookings refused as overlapping, as the mix means some to be

    def add(self, other: Timings) -> None:
        self.latencies += other.latencies
        self.refused += other.refused


class Writer:
    """One member of staff loading their venues over one keep-alive connection."""

    def __init__(self, api: HttpConnection, number: int, region_id: int, organisation_id: int) -> None:
        self.api, self.number, self.region_id, self.organisation_id = api, number, region_id, organisation_id
        self.timings = Timings()

    async def send(self, method: str, path: str, body: object, *, expect: tuple[int, ...]) -> dict:
        started = time.perf_counter()
        status, answer = await self.api.send_json(method, path, body)
        self.timings.latencies.append(time.perf_counter() - started)
        if status not in expect:
            raise BenchError(f"{method} {path} answered {status}: {answer[:300]!r}")
        if status == 409:
            self.timings.refused += 1
        return json.loads(answer) if answer else {}

    async def load_venue(self, round_: int, shared_space: int | None) -> int:
        """One venue with everything on it; returns its hall for other writers to collide on."""
        name = f"writer {self.number} venue {round_}"
        venue = await self.send(
            "POST",
            "/api/v1/venues",
            {
                "name": name,
                "kind": "school",
                "region_id": self.region_id,
                "owner_id": self.organisation_id,
                "timezone": ZONE,
                "country": "CN",
                "closes_on_public_holidays": True,
            },
            expect=(201,),
        )
        venue_path = f"/api/v1/venues/{venue['id']}"
        hours = [{"weekday": d, "opens": "08:00", "closes": "21:30"} for d in range(7)]
        await self.send("PUT", f"{venue_path}/opening-hours", hours, expect=(200,))
        policy = {"lead_time_min": 60, "horizon_days": 180, "slot_step_min": 30, "max_duration_min": 240}
        await self.send("PUT", f"{venue_path}/policy", policy, expect=(200,))
        space = {"kind": "hall", "capacity": 120}
        hall = await self.send("POST", f"{venue_path}/spaces", {**space, "name": "Hall"}, expect=(201,))
        courts = [
            await self.send(
                "POST", f"{venue_path}/spaces", {**space, "name": f"Court {c}", "parent_id": hall["id"]}, expect=(201,)
            )
            for c in "AB"
        ]
        room = await self.send(
            "POST", f"{venue_path}/spaces", {"kind": "classroom", "capacity": 30, "name": "Room 1"}, expect=(201,)
        )
        closed = FIRST_DAY + timedelta(days=30 + round_)  # not a day anyone books
        closure = {
            "venue_id": venue["id"],
            "reason": "maintenance",
            "start_date": closed.isoformat(),
            "end_date": closed.isoformat(),
        }
        await self.send("POST", "/api/v1/closures", closure, expect=(201,))
        day = FIRST_DAY + timedelta(days=round_)
        series = self.booking(room["id"], day, 18, recurrence={"rrule": "FREQ=WEEKLY;COUNT=8"})
        await self.send("POST", "/api/v1/bookings", {**series, "on_conflict": "skip"}, expect=(201,))
        booked = []
        for hour, space_id in ((9, courts[0]["id"]), (10, courts[1]["id"]), (11, hall["id"])):
            booked.append(await self.send("POST", "/api/v1/bookings", self.booking(space_id, day, hour), expect=(201,)))
        if shared_space is not None:  # another writer's hall at the same time: one of the two wins
            await self.send("POST", "/api/v1/bookings", self.booking(shared_space, day, 15), expect=(201, 409))
        await self.send("POST", f"/api/v1/bookings/{booked[0]['id']}/cancel", None, expect=(200,))
        return hall["id"]

    def booking(self, space_id: int, day: date, hour: int, **extra: object) -> dict:
        starts = f"{day.isoformat()}T{hour:02d}:00:00+08:00"
        ends = f"{day.isoformat()}T{hour + 1:02d}:00:00+08:00"
        title = f"writer {self.number}"
        return {
            "space_id": space_id,
            "organisation_id": self.organisation_id,
            "title": title,
            "attendees": 10,
            "starts_at": starts,
            "ends_at": ends,
            **extra,
        }


async def phase(
    base_url: str, token: str, region_id: int, organisation_id: int, *, writers: int, rounds: int, first_writer: int
) -> tuple[Timings, float]:
    halls: list[int] = []

    async def one(number: int) -> Timings:
        async with HttpConnection.open(base_url, token) as api:
            writer = Writer(api, number, region_id, organisation_id)
            for round_ in range(rounds):
                shared = halls[0] if halls else None  # the first hall of the phase: all want it
                halls.append(await writer.load_venue(round_, shared))
            return writer.timings

    started = time.perf_counter()
    results = await asyncio.gather(*(one(first_writer + n) for n in range(writers)))
    seconds = time.perf_counter() - started
    total = Timings()
    for timings in results:
        total.add(timings)
    return total, seconds


async def seed(base_url: str, database_url: str) -> tuple[str, int, int]:
    await add_user(database_url, "bench-admin", "district_admin")
    token = await sign_in(base_url, "bench-admin")
    async with HttpConnection.open(base_url, token) as api:
        region_id = await create(api, "/api/v1/regions", {"name": "Bench District", "level": "district"})
        organisation_id = await create(
            api, "/api/v1/organisations", {"name": "Bench Schools", "kind": "school", "region_id": region_id}
        )
    return token, region_id, organisation_id


def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'writers.db'}"
        upgrade(url)
        with running_server(url, workers=1) as base_url:
            token, region_id, organisation_id = asyncio.run(seed(base_url, url))
            sizes = {"rounds": args.rounds}
            one, one_s = asyncio.run(
                phase(base_url, token, region_id, organisation_id, writers=1, first_writer=0, **sizes)
            )
            many, many_s = asyncio.run(
                phase(base_url, token, region_id, organisation_id, writers=args.writers, first_writer=1, **sizes)
            )
    one_p50, one_p99 = percentiles_ms(one.latencies)
    many_p50, many_p99 = percentiles_ms(many.latencies)
    verdict = "met" if many_p99 < TARGET_P99_MS else "MISSED"
    one_rate, many_rate = len(one.latencies) / one_s, len(many.latencies) / many_s
    lines = [
        f"SQLite writers: one server process, {args.rounds} venues loaded per writer",
        f"{'phase':<12}{'requests':>9}{'refused':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}",
        f"{'1 writer':<12}{len(one.latencies):>9}{one.refused:>9}{len(one.latencies) / one_s:>8.0f}"
        f"{one_p50:>9.1f}{one_p99:>9.1f}",
        f"{f'{args.writers} writers':<12}{len(many.latencies):>9}{many.refused:>9}{len(many.latencies) / many_s:>8.0f}"
        f"{many_p50:>9.1f}{many_p99:>9.1f}",
        "",
        f"{args.writers} writers p99: {many_p99:.1f} ms (target < {TARGET_P99_MS:.0f} ms: {verdict})",
        f"ratio p99 {args.writers} writers / 1 writer: {many_p99 / one_p99:.2f}",
        f"ratio throughput {args.writers} writers / 1 writer: {many_rate / one_rate:.2f}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers (default 8)")
    parser.add_argument("--rounds", type=int, default=6, help="venues each writer loads (default 6)")
    args = parser.parse_args(argv)
    if args.writers < 1 or args.rounds < 1:
        parser.error("need writers >= 1 and rounds >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
