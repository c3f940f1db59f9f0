"""The public pages at district scale: server time of the catalogue page (``/classes``) and of a
class page against the JSON API answering the same question, in the same run; and the bytes of
each page's first load.

The district is the catalogue benchmark's (``bench/catalogue.py``): 2,000 listed classes (by
default) in 8 towns, 40 communities and 240 small venues, one or two weekly series each, seats and
applicants, seeded into a scratch SQLite file or, with ``--postgres ADMIN_URL``, a scratch database
next to that one (dropped afterwards). Requests go through the real app in-process, one at a time,
taking turns one per round (20 unmeasured rounds, then --requests measured ones):

* ``GET /api/v1/catalogue?limit=20`` against ``GET /classes`` (the first 20 classes, no filter);
* ``GET /api/v1/catalogue?limit=20&region_id&weekday`` against ``GET /classes?region_id&weekday``;
* ``GET /api/v1/classes/{id}`` against ``GET /classes/{id}`` (the page also lists the sessions,
  the spaces, the enrolment policy and draw, and draws the QR code of the feed's address);
* ``GET /`` (the learning map of every venue) against ``GET /api/v1/venues``.

Pages are asked for in Chinese (``Accept-Language: zh-CN``), half of them in 长辈模式. Every answer
must be 200 and every page must name what it shows (the class's title, the catalogue's total);
otherwise the figures are withheld and the run fails. First load: the page's HTML plus every
stylesheet, script and image it links, uncompressed, in both modes. Targets: p50 < 50 ms per page,
first load < 150 KB. Timing never fails the run.

    .venv/bin/python bench/pages.py [--classes 2000] [--requests 200] [--seed 1]
    .venv/bin/python bench/pages.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from availability_search import start_lifespan, stop_lifespan
from catalogue import NOW, WARMUP, Rows, generate, seed
from common import BenchError, driver_url, run_benchmark, scratch_database

from booking.app import create_app
from booking.config import Settings
from booking.migrate import upgrade
from booking.models import CommunityClass
from booking.web.public import CATALOGUE_PAGE

TARGET_P50_MS = 50.0
TARGET_FIRST_LOAD_KB = 150.0
ASSET = re.compile(r'<(?:link[^>]+href|script[^>]+src|img[^>]+src)="(/[^"]+)"')
Request = Callable[[], tuple[str, dict]]
PAGE = {"limit": CATALOGUE_PAGE}  # the API answers as many classes as the page shows


@dataclass(frozen=True, slots=True)
class Pair:
    """A page and the JSON API request answering the same question."""

    name: str
    page: Request
    api: Request


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    page_p50: float
    page_p99: float
    api_p50: float
    api_p99: float


def pairs(rows: Rows, rng: random.Random) -> list[Pair]:
    regions = [*rows.towns, *rows.communities]
    listed = range(1, rows.listed + 1)
    # Drawn once per round, shared by the pair so both sides answer the same question.
    chosen: dict[str, object] = {}

    def filtered() -> dict:
        chosen["filter"] = {"region_id": rng.choice(regions), "weekday": rng.randrange(7)}
        return chosen["filter"]

    def one_class() -> int:
        chosen["class"] = rng.choice(listed)
        return chosen["class"]

    return [
        Pair("catalogue, no filter", lambda: ("/classes", {}), lambda: ("/api/v1/catalogue", PAGE)),
        Pair(
            "catalogue, region + weekday",
            lambda: ("/classes", filtered()),
            lambda: ("/api/v1/catalogue", {**PAGE, **chosen["filter"]}),
        ),
        Pair("a class", lambda: (f"/classes/{one_class()}", {}), lambda: (f"/api/v1/classes/{chosen['class']}", {})),
        Pair("learning map", lambda: ("/", {}), lambda: ("/api/v1/venues", {"limit": 200})),
    ]


async def timed(client: httpx.AsyncClient, request: Request, headers: dict) -> tuple[float, httpx.Response]:
    path, params = request()
    started = time.perf_counter()
    response = await client.get(path, params=params, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"GET {path} {params} answered {response.status_code}: {response.text[:300]}")
    return elapsed, response


def percentiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


async def measure(client: httpx.AsyncClient, rows: Rows, questions: list[Pair], requests: int) -> list[Figures]:
    titles = {offer["id"]: offer["title"] for offer in rows.tables[CommunityClass]}
    timings: dict[str, tuple[list[float], list[float]]] = {}
    for round_number in range(WARMUP + requests):
        elder = "1" if round_number % 2 else "0"
        page_headers = {"Accept-Language": "zh-CN", "Cookie": f"vs_elder={elder}"}
        for pair in questions:
            page_time, page = await timed(client, pair.page, page_headers)
            api_time, api = await timed(client, pair.api, {})
            if pair.name == "a class":
                title = titles[api.json()["id"]]
                if f"<h1>{title}</h1>" not in page.text:
                    raise BenchError(f"the class page does not show its title {title!r}")
            if pair.name == "catalogue, no filter" and f"{rows.listed}" not in page.text:
                raise BenchError(f"the catalogue page does not say it found {rows.listed} classes")
            if round_number >= WARMUP:
                page_times, api_times = timings.setdefault(pair.name, ([], []))
                page_times.append(page_time)
                api_times.append(api_time)
    print(f"{requests} rounds of {len(questions)} pairs measured", file=sys.stderr)
    return [Figures(name, *percentiles(page), *percentiles(api)) for name, (page, api) in timings.items()]


async def first_load(client: httpx.AsyncClient, path: str, elder: bool) -> int:
    """Bytes of the page and of every stylesheet, script and image it links (each once)."""
    headers = {"Accept-Language": "zh-CN", "Cookie": f"vs_elder={int(elder)}"}
    page = await client.get(path, headers=headers)
    if page.status_code != 200:
        raise BenchError(f"GET {path} answered {page.status_code}")
    total = len(page.content)
    for asset in sorted(set(ASSET.findall(page.text))):
        answer = await client.get(asset)
        if answer.status_code != 200:
            raise BenchError(f"{path} links {asset}, which answered {answer.status_code}")
        total += len(answer.content)
    return total


async def bench(url: str, rows: Rows, args: argparse.Namespace) -> tuple[list[Figures], dict[str, tuple[int, int]]]:
    started = time.perf_counter()
    await seed(url, rows)
    print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    app = create_app(Settings(database_url=url), clock=lambda: NOW)  # enrolment windows open, nothing to draw
    lifespan = await start_lifespan(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            loads = {
                path: (await first_load(client, path, False), await first_load(client, path, True))
                for path in ("/", "/classes", "/classes/1", "/venues/1", "/signin")
            }
            return await measure(client, rows, pairs(rows, random.Random(args.seed)), args.requests), loads
    finally:
        await stop_lifespan(*lifespan)


def report(figures: list[Figures], loads: dict[str, tuple[int, int]], args, database: str, rows: Rows) -> str:
    lines = [
        f"pages: {rows.listed} listed classes, {len(rows.communities)} communities of {len(rows.towns)} towns; "
        f"{database}; {args.requests} requests each (round robin) after {WARMUP} warm-ups, {os.cpu_count()} CPUs",
        f"{'question':<30}{'page p50':>9}{'p99':>7}{'API p50':>9}{'p99':>7}{'page/API':>10}",
        *(
            f"{f.name:<30}{f.page_p50:>9.1f}{f.page_p99:>7.1f}{f.api_p50:>9.1f}{f.api_p99:>7.1f}"
            f"{f.page_p50 / f.api_p50:>10.2f}"
            for f in figures
        ),
        "first load (HTML + CSS + JS), KB: "
        + ", ".join(
            f"{path} {standard / 1024:.1f} / elder {elder / 1024:.1f}" for path, (standard, elder) in loads.items()
        ),
        "target page p50 < {:.0f} ms: {}; first load < {:.0f} KB: {}".format(
            TARGET_P50_MS,
            ", ".join(f"{f.name} {'met' if f.page_p50 < TARGET_P50_MS else 'MISSED'}" for f in figures),
            TARGET_FIRST_LOAD_KB,
            "met" if max(max(pair) for pair in loads.values()) < TARGET_FIRST_LOAD_KB * 1024 else "MISSED",
        ),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rows = generate(args.classes, args.seed)
    if args.postgres:
        with scratch_database(args.postgres, "venueshare_bench_pages") as url:
            app_url = driver_url(url, "postgresql+asyncpg")
            upgrade(app_url)
            return report(*asyncio.run(bench(app_url, rows, args)), args, "PostgreSQL", rows)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'pages.db'}"
        upgrade(url)
        return report(*asyncio.run(bench(url, rows, args)), args, "SQLite", rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=2000, help="listed classes (default 2000)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the requests (default 1)")
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="run on PostgreSQL: an admin database to create the scratch one next to"
    )
    args = parser.parse_args(argv)
    if args.classes < 50 or args.requests < 2:
        parser.error("need --classes >= 50 and --requests >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
