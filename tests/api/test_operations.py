"""What an operator relies on: liveness and readiness, a request id on every answer and log line,
JSON log lines, and Prometheus metrics summed over every worker process."""

import io
import json
import logging
import re

import httpx
from sqlalchemy import text

from booking.app import create_app
from booking.config import Settings
from booking.observability import JsonLines
from booking.services.operations import head_revision
from tests.conftest import TEST_SETTINGS, start_lifespan, stop_lifespan
from tests.factories import at
from tests.test_cli import free_port, run_cli, serving

ROOT = "http://testserver"


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name and not labels:
            return float(value)
        if series.startswith(name + "{") and ",".join(sorted(series[len(name) + 1 : -1].split(","))) == wanted:
            return float(value)
    return 0.0


async def test_health_and_ready(anonymous, engine):
    assert (await anonymous.get(f"{ROOT}/health")).json() == {"status": "ok"}
    ready = await anonymous.get(f"{ROOT}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "schema": head_revision()}

    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        stale = await anonymous.get(f"{ROOT}/ready")
    finally:  # the migrated database is shared by the whole run
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})

    assert (stale.status_code, stale.json()["code"]) == (503, "schema_outdated")
    assert "older" in stale.json()["detail"]


async def test_ready_is_503_when_the_database_cannot_be_reached():
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    app = create_app(Settings(database_url=unreachable, **TEST_SETTINGS))
    lifespan = await start_lifespan(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ROOT) as http:
            assert (await http.get("/health")).status_code == 200
            ready = await http.get("/ready")
    finally:
        await stop_lifespan(*lifespan)

    assert (ready.status_code, ready.json()["code"]) == (503, "database_unavailable")


async def test_every_answer_carries_a_request_id_and_keeps_a_sane_one_sent(anonymous):
    made = await anonymous.get("/venues")
    kept = await anonymous.get("/venues", headers={"X-Request-ID": "gateway-7f3a.1"})
    refused = await anonymous.post("/venues", json={})
    unmatched = await anonymous.get("/no-such-route")
    insane = await anonymous.get("/venues", headers={"X-Request-ID": "x" * 65})

    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert kept.headers["x-request-id"] == "gateway-7f3a.1"
    assert refused.status_code == 401 and re.fullmatch(r"[0-9a-f]{32}", refused.headers["x-request-id"])
    assert unmatched.status_code == 404 and "x-request-id" in unmatched.headers
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["x-request-id"])
    assert len({made.headers["x-request-id"], refused.headers["x-request-id"], insane.headers["x-request-id"]}) == 3


async def test_the_access_line_is_json_with_the_request_id(anonymous, caplog):
    caplog.set_level(logging.INFO, logger="venueshare.access")

    response = await anonymous.post("/bookings", json={}, headers={"X-Request-ID": "req-42"})

    [record] = [r for r in caplog.records if r.name == "venueshare.access"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.handle(record)
    line = json.loads(stream.getvalue())
    assert response.status_code == 401
    assert line["message"] == "POST /api/v1/bookings 401"
    assert (line["level"], line["logger"], line["request_id"]) == ("info", "venueshare.access", "req-42")
    assert (line["status"], line["problem"]) == (401, "unauthorized")
    assert line["route"] == "/api/v1/bookings" and line["ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


async def test_metrics_count_requests_by_route_and_refusals_by_code(anonymous, engine, make, org, room):
    assert (await make.book(room["id"], org["id"], at(1, 9), at(1, 10))).status_code == 201  # an outbox message
    before = (await anonymous.get(f"{ROOT}/metrics")).text
    labels = {"method": "GET", "route": "/api/v1/venues/{venue_id}", "status": "404"}

    for _ in range(3):
        assert (await anonymous.get("/venues/999")).status_code == 404
    assert (await anonymous.post("/venues", json={})).status_code == 401
    after = await anonymous.get(f"{ROOT}/metrics")

    assert after.headers["content-type"].startswith("text/plain")
    metrics = after.text
    name = "venueshare_http_request_duration_seconds_count"
    assert sample(metrics, name, **labels) - sample(before, name, **labels) == 3
    refusals = {"method": "POST", "route": "/api/v1/venues", "code": "unauthorized"}
    assert (
        sample(metrics, "venueshare_refusals_total", **refusals)
        - sample(before, "venueshare_refusals_total", **refusals)
        == 1
    )
    async with engine.connect() as connection:
        pending = await connection.scalar(text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"))
    assert pending >= 1 and sample(metrics, "venueshare_outbox_pending") == pending
    assert sample(metrics, "venueshare_outbox_lag_seconds") >= 0


def test_metrics_add_up_every_worker_of_the_server(tmp_path):
    database = f"sqlite:///{tmp_path / 'metrics.db'}"
    assert run_cli("migrate", database_url=database, cwd=tmp_path).returncode == 0
    with serving(database, tmp_path, "--workers", "2") as base:
        for _ in range(40):  # new connections: both workers answer some
            assert httpx.get(f"{base}/api/v1/regions", timeout=10).status_code == 200
        labels = {"method": "GET", "route": "/api/v1/regions", "status": "200"}
        name = "venueshare_http_request_duration_seconds_count"
        counted = [sample(httpx.get(f"{base}/metrics", timeout=10).text, name, **labels) for _ in range(6)]

    assert counted == [40] * 6  # whichever worker answered the scrape
