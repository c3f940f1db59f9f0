"""The ``venueshare`` command: serve, migrate, demo (each honours DATABASE_URL); ctt (no database)."""

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile

from booking.config import Settings
from booking.models.accounts import Role


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venueshare", description="Booking engine for shared community venues.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo district first (idempotent)")
    worker = commands.add_parser("worker", help="migrate, then work the job queue (PostgreSQL)")
    worker.add_argument("--concurrency", type=int, default=2, help="jobs at once (default 2)")
    worker.add_argument("--metrics-port", type=int, help="serve this worker's Prometheus metrics on this port")
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("demo", help="migrate and load the demo district (idempotent)")
    users = commands.add_parser("users", help="manage accounts").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a user with one role (migrates first)")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--display-name", default="")
    create.add_argument("--organisation-id", type=int)
    create.add_argument("--region-id", type=int)

    lottery = commands.add_parser("lottery", help="enrolment lotteries").add_subparsers(dest="action", required=True)
    verify = lottery.add_parser("verify", help="re-compute a class's published draw from its seed")
    verify.add_argument("class_id", type=int)
    verify.add_argument("--url", help="verify the draw a server publishes (e.g. https://host) instead of the database")

    ctt = commands.add_parser("ctt", help="ITC-2007 curriculum timetabling files")
    ctt_actions = ctt.add_subparsers(dest="action", required=True)
    ctt_solve = ctt_actions.add_parser("solve", help="solve a .ctt instance, print its UD2 penalties")
    ctt_solve.add_argument("instance")
    ctt_solve.add_argument("--time-limit", type=float, default=300.0, help="seconds (default 300)")
    ctt_solve.add_argument("--out", help="write the .sol file here")
    ctt_solve.add_argument("--seed", type=int, default=0)
    ctt_solve.add_argument("--workers", type=int, default=2)
    ctt_score = ctt_actions.add_parser("score", help="print a .sol file's UD2 violations and penalties")
    ctt_score.add_argument("instance")
    ctt_score.add_argument("solution")

    args = parser.parse_args(argv)
    if args.command == "ctt":
        return run_ctt(args)
    if args.command == "lottery" and args.url:
        return verify_published(args.url, args.class_id)
    settings = Settings.from_env()
    migrate(settings)
    if args.command == "demo" or (args.command == "serve" and args.demo):
        load_demo(settings)
    if args.command == "serve":
        serve_api(settings, host=args.host, port=args.port, workers=args.workers)
    if args.command == "worker":
        metrics = (args.metrics_host, args.metrics_port) if args.metrics_port else None
        return run_worker(settings, concurrency=args.concurrency, metrics=metrics)
    if args.command == "users":
        return create_user(settings, args)
    if args.command == "lottery":
        return verify_stored(settings, args.class_id)
    return 0


def verify_stored(settings: Settings, class_id: int) -> int:
    from booking.errors import VenueshareError

    try:
        draw, problems = asyncio.run(_verify_stored(settings, class_id))
    except VenueshareError as error:
        print(f"{error.code}: {error.detail}", file=sys.stderr)
        return 1
    return _report(draw, problems)


async def _verify_stored(settings: Settings, class_id: int):
    from booking.db import create_engine, sessionmakers
    from booking.services.draws import verify_draw

    engine = create_engine(settings.database_url)
    _, reads = sessionmakers(engine)
    try:
        async with reads() as session, session.begin():
            return await verify_draw(session, class_id)
    finally:
        await engine.dispose()


def verify_published(url: str, class_id: int) -> int:
    import json
    import urllib.request

    from booking.schemas.enrolment import DrawPublic
    from booking.services.draws import published_problems

    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/classes/{class_id}/draw", timeout=30) as answer:
        draw = DrawPublic.model_validate(json.load(answer))
    return _report(draw, published_problems(draw))


def _report(draw, problems: list[str]) -> int:
    if problems:
        for problem in problems:
            print(f"class {draw.class_id}: {problem}", file=sys.stderr)
        return 1
    seats = sum(item.outcome == "seat" for item in draw.ranked)
    print(
        f"class {draw.class_id}: draw verified ({draw.algorithm}): {len(draw.ranked)} applications, "
        f"{seats} seats given down the seeded order; seed {draw.seed} matches commitment {draw.seed_commitment}"
    )
    return 0


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from booking.errors import VenueshareError
    from booking.schemas.accounts import UserCreate

    try:
        data = UserCreate(
            username=args.username,
            password=args.password,
            display_name=args.display_name,
            role=args.role,
            organisation_id=args.organisation_id,
            region_id=args.region_id,
        )
        user = asyncio.run(_create_user(settings, data))
    except ValidationError as error:
        print(f"invalid: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except VenueshareError as error:
        print(f"{error.code}: {error.detail}", file=sys.stderr)
        return 1
    print(f"created user {user.username} (id {user.id}) as {args.role}", file=sys.stderr)
    return 0


async def _create_user(settings: Settings, data):
    from datetime import UTC, datetime

    from booking.db import create_engine, sessionmakers
    from booking.services.accounts import create_user

    engine = create_engine(settings.database_url)
    writes, _ = sessionmakers(engine)
    try:
        async with writes() as session, session.begin():
            return await create_user(session, data, now=datetime.now(UTC))
    finally:
        await engine.dispose()


def run_ctt(args: argparse.Namespace) -> int:
    from pathlib import Path

    from integrations.ctt import read_instance, read_solution, score, solve_instance, write_solution

    instance = read_instance(Path(args.instance).read_text())
    if args.action == "solve":
        lectures = solve_instance(instance, time_limit_s=args.time_limit, seed=args.seed, workers=args.workers)
        if args.out:
            Path(args.out).write_text(write_solution(instance, lectures))
    else:
        lectures = read_solution(Path(args.solution).read_text(), instance)
    result = score(instance, lectures)
    print(f"{instance.name}: {result.summary()}")
    return 0 if result.violations == 0 else 1


def migrate(settings: Settings) -> None:
    from booking.migrate import upgrade

    upgrade(settings.database_url)
    print(f"database ready: {_redacted(settings.database_url)}", file=sys.stderr)


def load_demo(settings: Settings) -> None:
    from booking.demo import load

    summary = asyncio.run(load(settings))
    print(summary, file=sys.stderr)


def serve_api(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    os.environ["DATABASE_URL"] = settings.database_url  # worker processes rebuild Settings from it
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here, so /metrics adds up all of them whichever answers
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="venueshare-metrics-")
    print(f"serving on http://{host}:{port} (pages /, API /api/v1, docs /schema)", file=sys.stderr)
    try:
        uvicorn.run(
            "booking.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,  # each worker logs JSON lines (booking.observability), the server's own lines too
            access_log=False,  # the app writes its own access line, with the request id
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def run_worker(settings: Settings, *, concurrency: int, metrics: tuple[str, int] | None = None) -> int:
    """Work solver runs and the sweep off the PostgreSQL job queue until SIGINT or SIGTERM (a solve
    under way is stopped and goes back to the queue for another worker)."""
    from booking.app import utc_now
    from booking.background import JobQueue, Work, job_queue
    from booking.db import create_engine, sessionmakers
    from booking.observability import log_as_json_lines

    if not settings.database_url.startswith("postgresql"):
        print("the job queue needs PostgreSQL; on SQLite `venueshare serve` does this work itself", file=sys.stderr)
        return 2
    if concurrency < 1:
        print("--concurrency must be at least 1", file=sys.stderr)
        return 2
    log_as_json_lines(settings.log_level)
    if metrics is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics[1], addr=metrics[0])

    async def work() -> None:
        engine = create_engine(settings.database_url, pool_size=concurrency + 2)
        sessions, _ = sessionmakers(engine)
        shared = Work(sessions, utc_now, settings)
        queue_app = job_queue(settings.database_url, shared, pool_size=concurrency + 2)
        queue = JobQueue(queue_app, shared, run_jobs=True, concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, queue.stop)
        await queue.start()
        print(f"working the job queue ({concurrency} at once)", file=sys.stderr)
        try:
            await queue.until_stopped()
        finally:
            await queue.close()
            await engine.dispose()

    asyncio.run(work())
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
