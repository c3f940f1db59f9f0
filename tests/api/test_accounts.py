"""Accounts: signing in, bearer tokens, API tokens, and every way a credential can be wrong."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from booking.models import ApiToken, User
from booking.schemas.accounts import UserCreate
from booking.services.accounts import create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def alice(engine, clock):
    async with async_sessionmaker(engine)() as session, session.begin():
        return await create_user(
            session, UserCreate(username="alice", password=PASSWORD, role="district_admin"), now=clock.now
        )


async def sign_in(client, username="alice", password=PASSWORD):
    return await client.post("/auth/token", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_gives_a_bearer_token(anonymous, alice):
    response = await sign_in(anonymous)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("vs_")
    me = await anonymous.get("/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["username"] == "alice"
    [grant] = me.json()["grants"]
    assert (grant["role"], grant["organisation_id"], grant["region_id"]) == ("district_admin", None, None)


async def test_wrong_password_and_unknown_user_look_the_same(anonymous, alice):
    wrong = await sign_in(anonymous, password="wrong password")
    unknown = await sign_in(anonymous, username="bob")

    assert (wrong.status_code, wrong.json()["code"]) == (401, "unauthorized")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unauthorized")
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_repeated_failures_are_slowed(anonymous, alice, clock, engine):
    for _ in range(5):
        assert (await sign_in(anonymous, password="nope")).status_code == 401

    locked = await sign_in(anonymous)  # even the right password waits now
    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    assert int(locked.headers["retry-after"]) >= 1

    clock.now += timedelta(seconds=2)
    assert (await sign_in(anonymous)).status_code == 200
    async with engine.connect() as connection:
        assert await connection.scalar(select(User.failed_logins)) == 0


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic YWxpY2U6eA==", "Bearer vs_not-a-token", "Bearer {token}x"],
)
async def test_bad_credentials_are_401(anonymous, alice, header):
    token = (await sign_in(anonymous)).json()["access_token"]

    response = await anonymous.get("/auth/me", headers={"Authorization": header.format(token=token)} if header else {})

    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


async def test_session_tokens_expire(anonymous, alice, clock):
    token = (await sign_in(anonymous)).json()["access_token"]

    clock.now += timedelta(hours=12, seconds=1)

    assert (await anonymous.get("/auth/me", headers=bearer(token))).status_code == 401


async def test_api_tokens_are_listed_and_revocable(anonymous, alice, engine):
    session_token = (await sign_in(anonymous)).json()["access_token"]
    created = await anonymous.post(
        "/auth/tokens", json={"name": "school timetable sync"}, headers=bearer(session_token)
    )
    assert created.status_code == 201, created.text
    api_token = created.json()["access_token"]

    listed = (await anonymous.get("/auth/tokens", headers=bearer(api_token))).json()
    assert [(t["kind"], t["name"]) for t in listed] == [("session", "sign-in"), ("api", "school timetable sync")]
    assert all("access_token" not in t for t in listed)
    async with engine.connect() as connection:  # only hashes are stored
        stored = list(await connection.scalars(select(ApiToken.token_hash)))
    assert api_token not in stored and len(stored) == 2

    revoked = await anonymous.post(f"/auth/tokens/{created.json()['id']}/revoke", headers=bearer(session_token))
    assert revoked.json()["revoked_at"] is not None
    assert (await anonymous.get("/auth/me", headers=bearer(api_token))).status_code == 401
    assert (await anonymous.get("/auth/me", headers=bearer(session_token))).status_code == 200


async def test_another_users_token_cannot_be_revoked(anonymous, alice, engine, clock):
    async with async_sessionmaker(engine)() as session, session.begin():
        await create_user(session, UserCreate(username="bob", password=PASSWORD, role="resident"), now=clock.now)
    alice_token = (await sign_in(anonymous)).json()["access_token"]
    bob_token = (await sign_in(anonymous, username="bob")).json()["access_token"]
    bob_tokens = (await anonymous.get("/auth/tokens", headers=bearer(bob_token))).json()

    response = await anonymous.post(f"/auth/tokens/{bob_tokens[0]['id']}/revoke", headers=bearer(alice_token))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert (await anonymous.get("/auth/me", headers=bearer(bob_token))).status_code == 200


def test_cli_creates_the_first_district_administrator(tmp_path):
    url = f"sqlite:///{tmp_path / 'users.db'}"

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "booking.cli", "users", "create", *args],
            env={"DATABASE_URL": url, "PATH": ""},
            capture_output=True,
            text=True,
            timeout=120,
        )

    created = run("--username", "root", "--password", PASSWORD, "--role", "district_admin")
    assert created.returncode == 0, created.stderr
    again = run("--username", "root", "--password", PASSWORD, "--role", "district_admin")
    assert again.returncode == 1 and "username_taken" in again.stderr
    short = run("--username", "other", "--password", "short", "--role", "resident")
    assert short.returncode == 2 and "password" in short.stderr


# ---- every route treats credentials alike, before anything else of the request ------------------

SIGN_IN_OPERATION = ("post", "/auth/token")
# These two take the token themselves and check it inside their one read (the rush paths): a bad
# token is 401 there too, once the body has the right shape.
CHECKED_IN_THEIR_READ = {("post", "/bookings"), ("post", "/classes/{class_id}/applications")}


async def operations(client) -> list[tuple[str, str, str]]:
    """(method, path template, a concrete path) of every operation of the API."""
    spec = (await client.get("http://testserver/schema/openapi.json")).json()
    found = []
    for template, methods in spec["paths"].items():
        if not template.startswith("/api/v1/"):
            continue
        path = template.removeprefix("/api/v1")
        concrete = re.sub(r"\{[^}]*date[^}]*\}", "2027-03-01", path)
        found += [(method, path, re.sub(r"\{[^}]+\}", "1", concrete)) for method in methods if method != "head"]
    return found


async def test_every_route_refuses_a_bad_token_and_an_anonymous_change_before_reading_the_body(
    anonymous, alice, engine
):
    token = (await sign_in(anonymous)).json()["access_token"]
    await anonymous.post(f"/auth/tokens/{await token_id(engine)}/revoke", headers=bearer(token))
    wrong = {
        "": {},
        "unknown": bearer("vs_not-a-token"),
        "revoked": bearer(token),
        "basic": {"Authorization": "Basic x"},
    }
    before = await counts(engine)
    checked = 0

    for method, path, concrete in await operations(anonymous):
        if (method, path) == SIGN_IN_OPERATION:
            continue
        for name, headers in wrong.items():
            if name == "" and method == "get":
                continue  # public reads are open to anonymous callers
            if name != "" and (method, path) in CHECKED_IN_THEIR_READ:
                continue  # below, with a well-formed body
            for body in ({"not": "a field"}, "{not json"):
                sent = {"json": body} if isinstance(body, dict) else {"content": body}
                response = await anonymous.request(method.upper(), concrete, headers=headers, **sent)
                assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), (
                    method,
                    concrete,
                    name,
                    response.text,
                )
                checked += 1

    assert checked > 200
    assert await counts(engine) == before


async def test_the_rush_paths_refuse_a_bad_token_with_nothing_written(anonymous, alice, engine):
    before = await counts(engine)
    booking = {"space_id": 1, "organisation_id": 1, "title": "x"} | {
        "starts_at": "2027-03-01T10:00:00Z",
        "ends_at": "2027-03-01T11:00:00Z",
    }
    for headers in ({}, bearer("vs_not-a-token")):
        for path, body in (("/bookings", booking), ("/classes/1/applications", {})):
            response = await anonymous.post(path, json=body, headers=headers)
            assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), response.text
    assert (await anonymous.post("/bookings", json={})).status_code == 401  # anonymous: before the body
    assert await counts(engine) == before


async def test_public_reads_answer_anonymous_callers_and_valid_tokens(anonymous, alice):
    token = (await sign_in(anonymous)).json()["access_token"]
    for path in ("/venues", "/regions", "/organisations", "/classes", "/catalogue", "/closures"):
        assert (await anonymous.get(path)).status_code == 200, path
        assert (await anonymous.get(path, headers=bearer(token))).status_code == 200, path


async def test_signing_in_ignores_a_stale_token_in_the_header(anonymous, alice):
    response = await anonymous.post(
        "/auth/token", json={"username": "alice", "password": PASSWORD}, headers=bearer("vs_expired-long-ago")
    )
    assert response.status_code == 200, response.text


async def token_id(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()).limit(1))


async def counts(engine) -> dict[str, int]:
    tables = (
        *("bookings", "occurrences", "booking_events", "outbox", "venues", "spaces", "regions", "organisations"),
        *("users", "role_grants", "api_tokens", "closures", "teachers", "classes", "residents", "applications"),
    )
    async with engine.connect() as connection:
        return {table: await connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in tables}
