"""What an operator sees of the service: a request id on every request and log line, logs as JSON
lines, and Prometheus metrics. Pure plumbing: nothing here reads or changes the domain."""

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REQUEST_ID_HEADER = b"x-request-id"
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a caller's own id is kept only if it looks like one
access_log = logging.getLogger("venueshare.access")


@dataclass(slots=True)
class RequestContext:
    id: str
    problem: str | None = None  # the problem+json code the request was answered with


current_request: ContextVar[RequestContext | None] = ContextVar("current_request", default=None)


def note_problem(code: str) -> None:
    """Record the problem code of the request being answered (for its metrics and access log)."""
    if (context := current_request.get()) is not None:
        context.problem = code


# ---- metrics ----------------------------------------------------------------------------------------
# With several worker processes, PROMETHEUS_MULTIPROC_DIR (set by ``venueshare serve``) makes every
# worker write its samples there and /metrics add them up, whichever worker answers the scrape.

REQUEST_SECONDS = Histogram(
    "venueshare_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
REFUSALS = Counter(
    "venueshare_refusals_total", "Requests answered with a problem+json, by route and code", ["method", "route", "code"]
)
SOLVER_RUNS = Counter("venueshare_solver_runs_total", "Allocation solver runs finished, by outcome", ["outcome"])
OUTBOX_PENDING = Gauge("venueshare_outbox_pending", "Outbox messages not yet delivered", multiprocess_mode="mostrecent")
OUTBOX_LAG = Gauge(
    "venueshare_outbox_lag_seconds",
    "Age of the oldest undelivered outbox message (0 when none)",
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERIES = Gauge(
    "venueshare_webhook_deliveries",
    "Webhook deliveries not delivered: pending (waiting or retrying), or dead",
    ["state"],
    multiprocess_mode="mostrecent",
)
MAILS = Gauge(
    "venueshare_mails",
    "Mails to people not sent: pending (waiting or retrying), or dead",
    ["state"],
    multiprocess_mode="mostrecent",
)
JOBS = Gauge(
    "venueshare_jobs",
    "Jobs of the queue (PostgreSQL): due and waiting, or running",
    ["state"],
    multiprocess_mode="mostrecent",
)
JOB_WAIT = Gauge(
    "venueshare_job_wait_seconds",
    "How long the longest-waiting due job has waited for a worker (0 when none)",
    multiprocess_mode="mostrecent",
)
ALLOCATIONS_WAITING = Gauge(
    "venueshare_allocations_waiting", "Allocation runs queued or running", multiprocess_mode="mostrecent"
)


def render_metrics() -> bytes:
    """The exposition text: every worker's samples when several share PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


# ---- the middleware -------------------------------------------------------------------------------


def observe(app: ASGIApp) -> ASGIApp:
    """Give each HTTP request an id (the caller's ``X-Request-ID`` if sane, else a new one), answer
    it in the same header, time the request by route template and write one access log line.
    Wraps the whole app (``app.asgi_handler``), so unmatched paths are answered with an id too."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_HEADER), "")
        context = RequestContext(incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex)
        token = current_request.set(context)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, context.id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            if context.problem is not None:
                REFUSALS.labels(scope["method"], route, context.problem).inc()
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": context.id,
                    "status": status,
                    "route": route,
                    "ms": round(seconds * 1000, 1),
                    "problem": context.problem,
                },
            )
            current_request.reset(token)

    return middleware


# ---- logs ----------------------------------------------------------------------------------------

_EXTRA_FIELDS = ("status", "route", "ms", "problem")


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None and (context := current_request.get()) is not None:
            request_id = context.id
        if request_id is not None:
            line["request_id"] = request_id
        line |= {name: getattr(record, name) for name in _EXTRA_FIELDS if getattr(record, name, None) is not None}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


JsonLines.converter = time.gmtime  # type: ignore[assignment]  # timestamps in UTC, as the Z says


def log_as_json_lines(level: str = "info") -> None:
    """Route the process's logs (the service's and the server's) to stderr as JSON lines;
    ``level`` "warning" leaves out the access lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
