"""One Settings object, read from the environment once and passed in."""

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/venueshare.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Connections per API worker process (PostgreSQL); SQLite serialises writers anyway.
    pool_size: int = 20
    # Log every SQL statement (debugging only).
    echo_sql: bool = False
    # CP-SAT search workers per solver run (results are deterministic for a fixed seed and count).
    solver_workers: int = 2
    # Address-space limit of the child process each solver run executes in (MB).
    solver_memory_mb: int = 2048
    # Calendar feeds show this many days back and ahead.
    feed_past_days: int = 30
    feed_future_days: int = 365
    # The address clients reach the service at, for feed links (default: as the request came in).
    public_url: str | None = None
    # The help line every page shows (WCAG 3.2.6 consistent help).
    help_phone: str = "12345"
    # Seconds between sweeps (no-shows released, due lotteries drawn; on PostgreSQL a job once a
    # minute); 0: this process neither sweeps nor schedules sweeps.
    sweep_every_s: float = 60.0
    # Seconds between webhook delivery rounds (new outbox messages fanned out, due deliveries
    # sent); 0: this process does not deliver.
    deliver_every_s: float = 5.0
    # Webhook URLs may reach inside the network (private, loopback, link-local addresses): only
    # for a deployment whose receivers sit on its own internal network.
    webhooks_to_internal_network: bool = False
    # On PostgreSQL, whether API processes also work the job queue (solver runs, the sweep); turn it
    # off where `venueshare worker` processes do that work.
    api_runs_jobs: bool = True
    # The SMTP server mail to people goes through: smtp://host:25, smtp+starttls://user:password@host:587
    # or smtps://user:password@host:465; None: no mail is sent (nor kept to send).
    smtp_url: str | None = None
    # The sender of every mail, and the ORGANIZER of its calendar invitations.
    mail_from: str = "venueshare <venueshare@localhost>"
    # Lowest level logged (JSON lines on stderr): "info" includes one access line per request.
    log_level: str = "info"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=normalise_database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            pool_size=int(env.get("VENUESHARE_POOL_SIZE", "20")),
            echo_sql=env.get("VENUESHARE_ECHO_SQL", "") in {"1", "true", "yes"},
            solver_workers=int(env.get("VENUESHARE_SOLVER_WORKERS", "2")),
            solver_memory_mb=int(env.get("VENUESHARE_SOLVER_MEMORY_MB", "2048")),
            feed_past_days=int(env.get("VENUESHARE_FEED_PAST_DAYS", "30")),
            feed_future_days=int(env.get("VENUESHARE_FEED_FUTURE_DAYS", "365")),
            public_url=env.get("VENUESHARE_PUBLIC_URL") or None,
            help_phone=env.get("VENUESHARE_HELP_PHONE", "12345"),
            sweep_every_s=float(env.get("VENUESHARE_SWEEP_EVERY_S", "60")),
            log_level=env.get("VENUESHARE_LOG_LEVEL", "info").lower(),
            deliver_every_s=float(env.get("VENUESHARE_DELIVER_EVERY_S", "5")),
            webhooks_to_internal_network=env.get("VENUESHARE_WEBHOOKS_TO_INTERNAL_NETWORK", "") in {"1", "true", "yes"},
            smtp_url=env.get("VENUESHARE_SMTP_URL") or None,
            mail_from=env.get("VENUESHARE_MAIL_FROM") or "venueshare <venueshare@localhost>",
            api_runs_jobs=env.get("VENUESHARE_API_RUNS_JOBS", "1") not in {"0", "false", "no"},
        )


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver this project uses."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url
