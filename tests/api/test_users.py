"""Accounts through the API: who may give which role, who sees which account."""

import pytest
from sqlalchemy import func, select

from booking.models import RoleGrant, User

PASSWORD = "a long enough password"


@pytest.fixture
async def world(make, as_user):
    district = await make.region(name="临江区")
    town = await make.region(name="江滨街道", level="town", parent_id=district["id"])
    other_town = await make.region(name="桐溪镇", level="town", parent_id=district["id"])
    school = await make.organisation(name="临江第一中学", kind="school", region_id=town["id"])
    group = await make.organisation(name="书法小组", region_id=other_town["id"])
    return {
        "town": town,
        "other_town": other_town,
        "school": school,
        "group": group,
        "town_admin": await as_user("district_admin", region_id=town["id"]),
        "school_manager": await as_user("venue_manager", organisation_id=school["id"]),
    }


def account(username: str, role: str, **scope) -> dict:
    return {"username": username, "password": PASSWORD, "role": role, **scope}


async def test_a_school_manager_makes_accounts_for_the_school(make, anonymous, world):
    manager = world["school_manager"]

    created = await manager.post(
        "/users", json=account("coach-zhang", "organiser", organisation_id=world["school"]["id"])
    )

    assert created.status_code == 201
    assert [(g["role"], g["organisation_id"]) for g in created.json()["grants"]] == [
        ("organiser", world["school"]["id"])
    ]
    signed_in = await anonymous.post("/auth/token", json={"username": "coach-zhang", "password": PASSWORD})
    assert signed_in.status_code == 200
    listed = (await manager.get("/users")).json()["items"]
    assert "coach-zhang" in [u["username"] for u in listed]


async def test_roles_can_only_be_given_within_ones_scope(engine, world):
    manager, admin = world["school_manager"], world["town_admin"]
    before = await _count(engine)

    other_org = await manager.post("/users", json=account("x-one", "organiser", organisation_id=world["group"]["id"]))
    district_role = await manager.post("/users", json=account("x-two", "district_admin", region_id=world["town"]["id"]))
    other_region = await admin.post(
        "/users", json=account("x-three", "district_admin", region_id=world["other_town"]["id"])
    )
    whole_district = await admin.post("/users", json=account("x-four", "district_admin"))

    for response in (other_org, district_role, other_region, whole_district):
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert await _count(engine) == before
    assert (
        await admin.post("/users", json=account("x-five", "venue_manager", organisation_id=world["school"]["id"]))
    ).status_code == 201


async def test_grants_need_the_right_scope(world):
    admin = world["town_admin"]

    no_org = await admin.post("/users", json=account("y-one", "organiser"))
    org_admin = await admin.post(
        "/users", json=account("y-two", "district_admin", organisation_id=world["school"]["id"])
    )

    assert (no_org.status_code, no_org.json()["code"]) == (422, "invalid_request")
    assert org_admin.status_code == 422


@pytest.mark.parametrize(
    "fields", [{"username": "Li Ming"}, {"username": "x"}, {"email": "li ming@example.cn"}, {"email": "li@example"}]
)
async def test_a_malformed_username_or_address_is_refused(world, engine, fields):
    admin = world["town_admin"]
    before = await _count(engine)

    response = await admin.post(
        "/users", json=account("z-one", "venue_manager", organisation_id=world["school"]["id"]) | fields
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), response.text
    assert await _count(engine) == before


async def test_adding_and_removing_grants(world):
    admin = world["town_admin"]
    user = (
        await admin.post("/users", json=account("teacher-li", "teacher", organisation_id=world["school"]["id"]))
    ).json()

    added = await admin.post(
        f"/users/{user['id']}/grants", json={"role": "organiser", "organisation_id": world["school"]["id"]}
    )
    again = await admin.post(
        f"/users/{user['id']}/grants", json={"role": "organiser", "organisation_id": world["school"]["id"]}
    )

    assert added.status_code == 201 and again.json()["grants"] == added.json()["grants"]
    assert [g["role"] for g in added.json()["grants"]] == ["teacher", "organiser"]
    grant_id = added.json()["grants"][0]["id"]
    removed = await admin.delete(f"/users/{user['id']}/grants/{grant_id}")
    assert [g["role"] for g in removed.json()["grants"]] == ["organiser"]


async def test_accounts_of_others_do_not_exist_for_you(make, as_user, world):
    admin = world["town_admin"]
    user = (
        await admin.post("/users", json=account("member-wu", "organiser", organisation_id=world["school"]["id"]))
    ).json()
    outsider = await as_user("venue_manager", organisation_id=world["group"]["id"])
    organiser = await as_user("organiser", organisation_id=world["school"]["id"])

    grant = {"role": "organiser", "organisation_id": world["group"]["id"]}
    response = await outsider.post(f"/users/{user['id']}/grants", json=grant)

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert (await organiser.get("/users")).json()["items"] == []  # organisers manage no accounts
    assert "member-wu" not in [u["username"] for u in (await outsider.get("/users")).json()["items"]]


async def _count(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(func.count()).select_from(User)),
            await connection.scalar(select(func.count()).select_from(RoleGrant)),
        )
