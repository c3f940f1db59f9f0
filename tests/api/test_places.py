"""Regions, organisations, venues and spaces: CRUD, filters, pages and bad input."""

import pytest


async def test_region_tree_and_its_rules(make):
    district = await make.region()
    town = await make.region(name="江口镇", level="town", parent_id=district["id"])
    await make.region(name="江口社区", level="community", parent_id=town["id"])

    for body, field in [
        ({"name": "x", "level": "town"}, "parent_id"),
        ({"name": "x", "level": "district", "parent_id": district["id"]}, "parent_id"),
        ({"name": "x", "level": "community", "parent_id": district["id"]}, "parent_id"),
    ]:
        response = await make.client.post("/regions", json=body)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_parent"), body
        assert response.json()["field"] == field
    missing = await make.client.post("/regions", json={"name": "x", "level": "town", "parent_id": 999})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")

    towns = (await make.client.get("/regions", params={"level": "town"})).json()
    assert [r["id"] for r in towns["items"]] == [town["id"]]
    children = (await make.client.get("/regions", params={"parent_id": district["id"]})).json()
    assert [r["name"] for r in children["items"]] == ["江口镇"]


async def test_patch_and_delete(make):
    district = await make.region()

    renamed = await make.client.patch(f"/regions/{district['id']}", json={"name": "临江新区"})
    assert renamed.json()["name"] == "临江新区"
    assert (await make.client.get(f"/regions/{district['id']}")).json()["name"] == "临江新区"

    town = await make.region(name="江口镇", level="town", parent_id=district["id"])
    in_use = await make.client.delete(f"/regions/{district['id']}")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "in_use")
    assert (await make.client.delete(f"/regions/{town['id']}")).status_code == 204
    assert (await make.client.get(f"/regions/{town['id']}")).status_code == 404


async def test_venue_defaults_filters_and_subtree(make):
    district = await make.region()
    town = await make.region(name="江口镇", level="town", parent_id=district["id"])
    community = await make.region(name="江口社区", level="community", parent_id=town["id"])
    library = await make.organisation(name="临江区图书馆", kind="library")
    school = await make.venue(region_id=town["id"])
    branch = await make.venue(
        name="江口社区图书分馆",
        kind="library",
        region_id=community["id"],
        owner_id=library["id"],
        latitude=30.21,
        longitude=120.2,
        address="江口路 8 号",
    )

    assert branch["timezone"] == "Asia/Shanghai"

    async def ids(**params) -> list[int]:
        return [v["id"] for v in (await make.client.get("/venues", params=params)).json()["items"]]

    assert await ids(region_id=district["id"]) == [school["id"], branch["id"]]
    assert await ids(region_id=community["id"]) == [branch["id"]]
    assert await ids(kind="library") == [branch["id"]]
    assert await ids(owner_id=library["id"]) == [branch["id"]]
    assert await ids(name="图书") == [branch["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"latitude": 91}, "latitude"),
        ({"kind": "castle"}, "kind"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_venues_name_the_field(make, change, field):
    region, owner = await make.region(), await make.organisation(kind="school")
    body = {"name": "A school", "kind": "school", "region_id": region["id"], "owner_id": owner["id"]} | change

    response = await make.client.post("/venues", json=body)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert (await make.client.get("/venues")).json()["total"] == 0


async def test_venue_in_a_new_york_zone_shows_local_times(make):
    venue = await make.venue(timezone="America/New_York")
    room = await make.space(venue_id=venue["id"])
    org = await make.organisation()

    booking = (await make.book(room["id"], org["id"], "2027-07-01T23:00:00Z", "2027-07-02T00:30:00Z")).json()

    assert booking["local_starts_at"] == "2027-07-01T19:00:00-04:00"


async def test_spaces_of_a_venue(make):
    venue = await make.venue()
    hall, courts = await make.hall(venue_id=venue["id"])
    lab = await make.space(
        venue_id=venue["id"],
        name="Computer lab",
        kind="computer_lab",
        capacity=30,
        features=["Computers", "projector", "projector"],
    )

    assert lab["features"] == ["computers", "projector"]
    assert (await make.client.get(f"/spaces/{hall['id']}")).json()["child_ids"] == [c["id"] for c in courts]
    listed = (await make.client.get(f"/venues/{venue['id']}/spaces", params={"kind": "court"})).json()
    assert [s["id"] for s in listed["items"]] == [c["id"] for c in courts]
    big = (await make.client.get(f"/venues/{venue['id']}/spaces", params={"min_capacity": 150})).json()
    assert [s["id"] for s in big["items"]] == [hall["id"]]

    patched = await make.client.patch(f"/spaces/{lab['id']}", json={"capacity": 32, "buffer_after_min": 10})
    assert (patched.json()["capacity"], patched.json()["buffer_after_min"]) == (32, 10)

    assert (await make.client.delete(f"/spaces/{hall['id']}")).json()["code"] == "in_use"
    assert (await make.client.delete(f"/spaces/{lab['id']}")).status_code == 204


async def test_a_space_parent_must_be_in_the_same_venue(make):
    hall, _ = await make.hall()
    elsewhere = await make.venue(name="Another school")

    response = await make.client.post(
        f"/venues/{elsewhere['id']}/spaces",
        json={"name": "Court", "kind": "court", "capacity": 10, "parent_id": hall["id"]},
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_parent")


async def test_pages(make):
    for i in range(5):
        await make.organisation(name=f"Group {i}")

    page = (await make.client.get("/organisations", params={"limit": 2, "offset": 2})).json()

    assert [o["name"] for o in page["items"]] == ["Group 2", "Group 3"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        response = await make.client.get("/organisations", params=params)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


async def test_unknown_ids_and_routes_are_problems(make):
    for path in ("/regions/9", "/organisations/9", "/venues/9", "/spaces/9", "/venues/9/spaces", "/nowhere"):
        response = await make.client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
    response = await make.client.patch("/venues/9", json={"name": "x"})
    assert response.json()["code"] == "not_found"


async def test_malformed_json_is_a_problem(make):
    response = await make.client.post("/regions", content=b"{not json", headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")
