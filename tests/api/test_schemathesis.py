"""Schemathesis over the OpenAPI document, against a real server on each database: every
operation, property-based requests, signed in as a district administrator and as an organiser.
No answer may be a server error, and every answer must match what the document says of it.

The run is reproducible (a fixed seed, deterministic generation) and bounded (a few examples per
operation); what it finds is kept as an ordinary regression test elsewhere. Revoking API tokens
is left out: a run that revoked its own token would test nothing after it."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer, issue_token
from tests.test_cli import serving

EXAMPLES_PER_OPERATION = 5
SEED = 20261207
LEFT_OUT = r"/auth/tokens/\{token_id\}/revoke"


@pytest.fixture
def server(db_url: str, tmp_path: Path):
    """``venueshare serve`` on the test database, with no background loops to race the fuzzing."""
    with serving(db_url, tmp_path, env={"VENUESHARE_SWEEP_EVERY_S": "0", "VENUESHARE_DELIVER_EVERY_S": "0"}) as base:
        yield base


async def seed(base: str, admin: str) -> int:
    """A small district for the requests to find: region, organisation, venue, spaces, a booking."""
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=bearer(admin), timeout=30) as api:

        async def made(path: str, body: dict) -> dict:
            response = await api.post(path, json=body)
            assert response.status_code == 201, response.text
            return response.json()

        region = await made("/regions", {"name": "江滨区", "level": "district"})
        org = await made(
            "/organisations", {"name": "江滨社区学校", "kind": "community_school", "region_id": region["id"]}
        )
        venue = await made(
            "/venues", {"name": "江滨中学", "kind": "school", "region_id": region["id"], "owner_id": org["id"]}
        )
        hall = await made(f"/venues/{venue['id']}/spaces", {"name": "体育馆", "kind": "hall", "capacity": 200})
        await made(
            f"/venues/{venue['id']}/spaces", {"name": "A 场", "kind": "court", "capacity": 50, "parent_id": hall["id"]}
        )
        await made(
            "/bookings",
            {
                "space_id": hall["id"],
                "organisation_id": org["id"],
                "title": "太极拳",
                "starts_at": "2027-03-02T19:00:00+08:00",
                "ends_at": "2027-03-02T21:00:00+08:00",
            },
        )
        return org["id"]


def fuzz(base: str, token: str, report: Path) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--exclude-path-regex",
        LEFT_OUT,
        "--warnings",
        "off",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=os.environ | {"NO_COLOR": "1"})


async def test_no_operation_fails_the_server_or_its_document(server, db_url, tmp_path):
    now = datetime.now(UTC)
    admin = await issue_token(db_url, now, "district_admin")
    organisation_id = await seed(server, admin)
    organiser = await issue_token(db_url, now, "organiser", organisation_id=organisation_id)

    runs = {
        role: fuzz(server, token, tmp_path / f"{role}.xml")
        for role, token in (("admin", admin), ("organiser", organiser))
    }

    for role, run in runs.items():
        assert run.returncode == 0, f"as {role}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
        assert "Tested: " in run.stdout, run.stdout[-2000:]
