"""A soak with faults on PostgreSQL: several API processes and job workers under mixed load, one of
each killed with SIGKILL mid-run and started again; then nothing may be lost.

One scratch database. Four API processes (`venueshare serve`, one worker each, not working the
job queue) and two `venueshare worker` processes. A district endpoint receives every webhook on a
local receiver (which drops repeats by `webhook-id`, as receivers must); the organiser gave a mail
address, and a local SMTP server takes their mail (repeats dropped by `Message-ID`). 64 clients send
--requests mixed requests, paced over --seconds, each to whichever API process is up:

* bookings of random one-hour slots on a few rooms and a divisible hall, so many overlap (409);
* weekly series of four sessions that skip what they cannot have;
* cancels of the client's own bookings; approvals of requests on the room that asks for them;
* first-come applications of residents to classes (201 enrolled, 409 full);
* reads of a room's public calendar feed.

A third of the way in, API process 2 and worker 1 get SIGKILL; they are started again ten
seconds later. Requests that meet the dead process fail with a connection error (counted).

Then, checked in SQL and at the receiver: no two holding sessions overlap on a space; no class
holds more than its seats, and each class's counter equals its enrolled applications; every
booking and application answered 201 is in the database; every outbox message reached the
receiver (once deduplicated) and no delivery is pending or dead; every mail written reached the
SMTP server and none is pending or dead; no job is left running and no solver run either. The
exit status is non-zero if anything was lost. Timing never fails the run.

    .venv/bin/python bench/soak.py [--requests 10000] [--seconds 180] [--clients 64] [--no-mail]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
from aiosmtpd.controller import Controller
from booking_throughput import DEFAULT_ADMIN_URL, PROJECT_DIR, add_user, free_port, sign_in, wait_until_healthy
from common import BenchError, driver_url, run_benchmark, scratch_database
from enrolment import seed as seed_residents

from booking.migrate import upgrade

API_PROCESSES = 4
WORKERS = 2
KILL_AT = 1 / 3  # of the run
RESTART_AFTER_S = 10.0
SETTLE_S = 90.0  # after the load, for the outbox to drain through the workers
ZONE_OFFSET = "+08:00"


# ---- the webhook receiver and the mail server ----------------------------------------------


class MailSink:
    """aiosmtpd's handler: the Message-IDs it accepted, and how many mails."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.mails = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails += 1
        self.ids.add(BytesParser(policy=policy.default).parsebytes(envelope.content, headersonly=True)["Message-ID"])
        return "250 Message accepted for delivery"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ids: set[str] = set()
        self.posts = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.posts += 1
            self.server.ids.add(self.headers["webhook-id"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


# ---- the processes -------------------------------------------------------------------------


@dataclass
class Fleet:
    database_url: str
    log_dir: Path
    smtp_port: int | None  # None: the processes send no mail
    ports: list[int] = field(default_factory=list)
    apis: list[subprocess.Popen] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return os.environ | {
            "DATABASE_URL": self.database_url,
            "VENUESHARE_API_RUNS_JOBS": "0",
            "VENUESHARE_LOG_LEVEL": "warning",
            "VENUESHARE_WEBHOOKS_TO_INTERNAL_NETWORK": "1",
            "VENUESHARE_POOL_SIZE": "10",
            "VENUESHARE_SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}" if self.smtp_port else "",
        }

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "booking.cli", *args],
            cwd=PROJECT_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_api(self, n: int) -> None:
        process = self._spawn(f"api{n}", "serve", "--port", str(self.ports[n]))
        if n < len(self.apis):
            self.apis[n] = process
        else:
            self.apis.append(process)

    def start_worker(self, n: int) -> None:
        process = self._spawn(f"worker{n}", "worker", "--concurrency", "2")
        if n < len(self.workers):
            self.workers[n] = process
        else:
            self.workers.append(process)

    def start(self) -> None:
        self.ports = [free_port() for _ in range(API_PROCESSES)]
        for n in range(API_PROCESSES):
            self.start_api(n)
        for n in range(API_PROCESSES):
            with open(self.log_dir / f"api{n}.log", "rb") as log:
                wait_until_healthy(f"http://127.0.0.1:{self.ports[n]}", self.apis[n], log)
        for n in range(WORKERS):
            self.start_worker(n)

    @staticmethod
    def kill(process: subprocess.Popen, how: signal.Signals) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, how)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)

    def stop(self) -> None:
        for process in [*self.apis, *self.workers]:
            self.kill(process, signal.SIGTERM)
        for process in [*self.apis, *self.workers]:
            self.kill(process, signal.SIGKILL)


# ---- the world ------------------------------------------------------------------------------


@dataclass
class World:
    admin: str
    organiser: str
    organisation_id: int
    rooms: list[int]
    approval_room: int
    feed_rooms: list[int]
    residents: list[str]
    classes: list[int]


async def build_world(base: str, database_url: str, dsn: str, receiver_url: str) -> World:
    await add_user(database_url, "soak-admin", "district_admin")
    admin = await sign_in(base, "soak-admin")
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin}"}) as api:

        async def made(path: str, body: dict, method: str = "POST") -> dict:
            response = await api.request(method, path, json=body)
            if response.status_code not in (200, 201):
                raise BenchError(f"seeding {method} {path} answered {response.status_code}: {response.text[:300]}")
            return response.json()

        region = await made("/regions", {"name": "Soak district", "level": "district"})
        org = await made("/organisations", {"name": "Soak club", "kind": "ngo", "region_id": region["id"]})
        venue = await made(
            "/venues",
            {"name": "Soak centre", "kind": "community_centre", "region_id": region["id"], "owner_id": org["id"]},
        )
        hours = [{"weekday": d, "opens": "08:00", "closes": "22:00"} for d in range(7)]
        await made(f"/venues/{venue['id']}/opening-hours", hours, method="PUT")
        spaces = f"/venues/{venue['id']}/spaces"
        hall = await made(spaces, {"name": "Hall", "kind": "hall", "capacity": 200})
        courts = [
            await made(spaces, {"name": f"Court {c}", "kind": "court", "capacity": 50, "parent_id": hall["id"]})
            for c in "AB"
        ]
        rooms = [await made(spaces, {"name": f"Room {n}", "kind": "meeting_room", "capacity": 20}) for n in range(6)]
        approval = await made(spaces, {"name": "Council room", "kind": "meeting_room", "capacity": 20})
        await made(f"/spaces/{approval['id']}/policy", {"approval": "manual"}, method="PUT")
        await made("/webhooks", {"url": receiver_url, "description": "soak receiver"})
    await add_user(database_url, "soak-organiser", "organiser", org["id"])
    organiser = await sign_in(base, "soak-organiser")
    async with httpx.AsyncClient(base_url=f"{base}/api/v1") as api:
        answer = await api.patch(
            "/auth/me", json={"email": "organiser@soak.test"}, headers={"Authorization": f"Bearer {organiser}"}
        )
        if answer.status_code != 200:
            raise BenchError(f"giving the organiser an address answered {answer.status_code}: {answer.text[:300]}")
    world = await seed_residents(dsn, datetime.now(UTC))
    ids = [hall["id"], *(c["id"] for c in courts), *(r["id"] for r in rooms)]
    return World(
        admin, organiser, org["id"], ids, approval["id"], [r["id"] for r in rooms], world.tokens, world.first_come
    )


# ---- the load --------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    booked: set[int] = field(default_factory=set)  # answered 201
    enrolled: set[str] = field(default_factory=set)  # application ids answered 201
    pending: list[int] = field(default_factory=list)


def slot(rng: random.Random, first_day: date) -> tuple[str, str]:
    day = first_day + timedelta(days=rng.randrange(14))
    hour = rng.randrange(8, 21)
    return f"{day}T{hour:02d}:00:00{ZONE_OFFSET}", f"{day}T{hour + 1:02d}:00:00{ZONE_OFFSET}"


async def client(number: int, fleet: Fleet, world: World, tally: Tally, tickets, pace_s: float, started: float):
    rng = random.Random(number)
    first_day = date.today() + timedelta(days=2)
    mine: list[int] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for ticket in tickets:
            await asyncio.sleep(max(0.0, started + ticket * pace_s - time.monotonic()))
            base = f"http://127.0.0.1:{fleet.ports[(number + ticket) % API_PROCESSES]}"
            kind = rng.choices(
                ["book", "series", "cancel", "approve", "apply", "feed"], weights=[40, 10, 10, 5, 20, 15]
            )[0]
            if kind == "cancel" and not mine:
                kind = "book"
            if kind == "approve" and not tally.pending:
                kind = "book"
            sent = time.perf_counter()
            try:
                outcome = await one(kind, http, base, world, tally, rng, first_day, mine)
            except httpx.TransportError as error:
                outcome = f"{kind} {type(error).__name__}"
            tally.latencies.append(time.perf_counter() - sent)
            tally.outcomes[outcome] += 1


async def one(kind, http, base, world: World, tally: Tally, rng, first_day, mine) -> str:
    organiser = {"Authorization": f"Bearer {world.organiser}"}
    if kind in ("book", "series"):
        space = world.approval_room if rng.random() < 0.1 else rng.choice(world.rooms)
        starts, ends = slot(rng, first_day)
        body = {
            "space_id": space,
            "organisation_id": world.organisation_id,
            "title": "soak",
            "starts_at": starts,
            "ends_at": ends,
        }
        if kind == "series":
            body |= {"recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"}, "on_conflict": "skip"}
        response = await http.post(f"{base}/api/v1/bookings", json=body, headers=organiser)
        if response.status_code == 201:
            booking = response.json()
            tally.booked.add(booking["id"])
            mine.append(booking["id"])
            if booking["state"] == "pending":
                tally.pending.append(booking["id"])
        return f"{kind} {response.status_code}"
    if kind == "cancel":
        booking_id = mine.pop(rng.randrange(len(mine)))
        response = await http.post(f"{base}/api/v1/bookings/{booking_id}/cancel", headers=organiser)
        return f"cancel {response.status_code}"
    if kind == "approve":
        booking_id = tally.pending.pop(0)
        headers = {"Authorization": f"Bearer {world.admin}"}
        response = await http.post(f"{base}/api/v1/bookings/{booking_id}/approve", json={}, headers=headers)
        return f"approve {response.status_code}"
    if kind == "apply":
        token = rng.choice(world.residents)
        class_id = rng.choice(world.classes)
        response = await http.post(
            f"{base}/api/v1/classes/{class_id}/applications", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 201:
            tally.enrolled.add(response.json()["id"])
        return f"apply {response.status_code}"
    response = await http.get(f"{base}/feeds/spaces/{rng.choice(world.feed_rooms)}.ics")
    return f"feed {response.status_code}"


async def load(fleet: Fleet, world: World, args: argparse.Namespace) -> tuple[Tally, float]:
    tally = Tally()
    pace_s = args.seconds / args.requests * args.clients  # each client's gap between its requests
    started = time.monotonic()
    per_client = [range(n, args.requests, args.clients) for n in range(args.clients)]
    tickets = [(t // args.clients for t in r) for r in per_client]

    async def faults() -> None:
        await asyncio.sleep(args.seconds * KILL_AT)
        print("killing API process 2 and worker 1 (SIGKILL)", file=sys.stderr)
        fleet.kill(fleet.apis[2], signal.SIGKILL)
        fleet.kill(fleet.workers[1], signal.SIGKILL)
        await asyncio.sleep(RESTART_AFTER_S)
        print("starting them again", file=sys.stderr)
        fleet.start_api(2)
        fleet.start_worker(1)

    await asyncio.gather(
        faults(), *(client(n, fleet, world, tally, tickets[n], pace_s, started) for n in range(args.clients))
    )
    return tally, time.monotonic() - started


# ---- the checks ------------------------------------------------------------------------------


async def settle(dsn: str) -> None:
    """Wait for every outbox message to be delivered (or the settle time to pass)."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            waiting = await connection.fetchval(
                "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL)"
                " + (SELECT count(*) FROM webhook_deliveries WHERE state = 'pending')"
                " + (SELECT count(*) FROM mail_deliveries WHERE state = 'pending')"
            )
            if waiting == 0:
                return
            await asyncio.sleep(1)
    finally:
        await connection.close()


async def check(dsn: str, tally: Tally, receiver: Receiver, sink: MailSink) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        found = {
            "double bookings": await connection.fetchval(
                """SELECT count(*) FROM occurrences a JOIN occurrences b
                   ON a.space_id = b.space_id AND a.id < b.id
                  AND tstzrange(a.blocked_start_at, a.blocked_end_at) && tstzrange(b.blocked_start_at, b.blocked_end_at)
                WHERE a.state IN ('confirmed', 'pending') AND b.state IN ('confirmed', 'pending')"""
            ),
            "over-filled classes": await connection.fetchval(
                """SELECT count(*) FROM enrolment_policies p WHERE p.enrolled > p.seats OR p.enrolled <>
                   (SELECT count(*) FROM applications a WHERE a.class_id = p.class_id AND a.state = 'enrolled')"""
            ),
            "bookings answered 201, missing": len(tally.booked)
            - await connection.fetchval("SELECT count(*) FROM bookings WHERE id = ANY($1)", list(tally.booked)),
            "applications answered 201, missing": len(tally.enrolled)
            - await connection.fetchval(
                "SELECT count(*) FROM applications WHERE public_id = ANY($1)", list(tally.enrolled)
            ),
            "outbox messages never received": await connection.fetchval("SELECT count(*) FROM outbox")
            - len(receiver.ids),
            "deliveries pending or dead": await connection.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'"
            ),
            "mails written, never received": await connection.fetchval("SELECT count(*) FROM mail_deliveries")
            - len(sink.ids),
            "mails pending or dead": await connection.fetchval(
                "SELECT count(*) FROM mail_deliveries WHERE state <> 'delivered'"
            ),
            "jobs left running": await connection.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
            ),
            "solver runs left running": await connection.fetchval(
                "SELECT count(*) FROM allocations WHERE status = 'running'"
            ),
        }
    finally:
        await connection.close()
    return found


# ---- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> tuple[str, bool]:
    receiver, sink = Receiver(), MailSink()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    mail_server = Controller(sink, hostname="127.0.0.1", port=free_port())
    mail_server.start()
    with scratch_database(args.postgres_url, prefix="venueshare_soak") as url, tempfile.TemporaryDirectory() as logs:
        app_url, dsn = driver_url(url, "postgresql+asyncpg"), driver_url(url, "postgresql")
        upgrade(app_url)
        fleet = Fleet(app_url, Path(logs), None if args.no_mail else mail_server.port)
        try:
            fleet.start()
            base = f"http://127.0.0.1:{fleet.ports[0]}"
            world = asyncio.run(build_world(base, app_url, dsn, receiver.url))
            print(
                f"load: {args.requests} requests from {args.clients} clients over {args.seconds:g} s", file=sys.stderr
            )
            tally, seconds = asyncio.run(load(fleet, world, args))
            asyncio.run(settle(dsn))
            found = asyncio.run(check(dsn, tally, receiver, sink))
        finally:
            fleet.stop()
            receiver.shutdown()
            mail_server.stop()
    lost = sum(found.values())
    p50, p99 = (q * 1000 for q in statistics.quantiles(tally.latencies, n=100, method="inclusive")[49::49][:2])
    errors = {k: v for k, v in sorted(tally.outcomes.items()) if not k.split()[-1].isdigit()}
    lines = [
        f"soak: {API_PROCESSES} API processes, {WORKERS} workers, {args.clients} clients; API process 2 and"
        f" worker 1 killed (SIGKILL) at {args.seconds * KILL_AT:.0f} s, started again {RESTART_AFTER_S:.0f} s later",
        f"requests {len(tally.latencies)} in {seconds:.0f} s: {len(tally.latencies) / seconds:.0f} req/s,"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        "answers: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items()) if k not in errors),
        "errors by kind: " + (", ".join(f"{k} {v}" for k, v in errors.items()) or "none"),
        f"webhooks: {receiver.posts} posts, {len(receiver.ids)} distinct messages",
        f"mail: {sink.mails} mails, {len(sink.ids)} distinct",
        *(f"  {name}: {count}" for name, count in found.items()),
        f"lost: {lost}",
    ]
    return "\n".join(lines), lost == 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL, help="admin database, for a scratch database")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--no-mail", action="store_true", help="no SMTP server for the processes: no mail written")
    args = parser.parse_args(argv)
    if args.requests < args.clients or args.seconds < 30 or args.clients < 1:
        parser.error("need requests >= clients >= 1 and seconds >= 30")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcome: list[bool] = []

    def measured() -> str:
        table, clean = run(args)
        outcome.append(clean)
        return table

    code = run_benchmark(measured)
    return code or (0 if outcome and outcome[0] else 1)


if __name__ == "__main__":
    sys.exit(main())
