"""The ``venueshare`` command: serve, migrate, demo. Each honours DATABASE_URL."""

import argparse
import asyncio
import os
import sys

from booking.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venueshare", description="Booking engine for shared community venues.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo district first (idempotent)")
    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("demo", help="migrate and load the demo district (idempotent)")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    migrate(settings)
    if args.command == "demo" or (args.command == "serve" and args.demo):
        load_demo(settings)
    if args.command == "serve":
        serve_api(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


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
    print(f"serving on http://{host}:{port} (API /api/v1, docs /schema)", file=sys.stderr)
    uvicorn.run(
        "booking.app:create_app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning"
    )


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
