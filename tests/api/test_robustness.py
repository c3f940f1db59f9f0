"""What a property-based run over the OpenAPI document found (tests/api/test_schemathesis.py),
kept as ordinary regression tests on both databases: none of these may be a server error, and
none may change anything."""

import pytest
from sqlalchemy import text

HUGE = 2**70


async def names(engine) -> list[str]:
    async with engine.connect() as connection:
        return list(await connection.scalars(text("SELECT name FROM regions ORDER BY id")))


@pytest.mark.parametrize("path", ["/regions/{region}", "/organisations/{organisation}"])
async def test_null_for_a_field_that_cannot_be_empty_is_422_and_changes_nothing(client, make, engine, path):
    region = await make.region()
    organisation = await make.organisation(region_id=region["id"])
    before = await names(engine)

    response = await client.patch(
        path.format(region=region["id"], organisation=organisation["id"]), json={"name": None}
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), response.text
    assert response.json()["errors"][0]["field"] == "name"
    assert await names(engine) == before


async def test_a_teacher_patched_with_nulls_is_refused(client, make):
    org = await make.organisation()
    teacher = (await client.post("/teachers", json={"name": "王老师", "organisation_id": org["id"]})).json()

    response = await client.patch(f"/teachers/{teacher['id']}", json={"name": None, "skills": []})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), response.text
    assert (await client.get(f"/teachers/{teacher['id']}")).json()["name"] == "王老师"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"/bookings/{HUGE}/history"),
        ("POST", f"/bookings/{HUGE}/approve"),
        ("DELETE", f"/classes/{HUGE}/applications"),
        ("GET", f"/venues/{2**31}"),
    ],
)
async def test_an_id_no_row_can_have_is_404(client, method, path):
    response = await client.request(method, path)

    assert (response.status_code, response.json()["code"]) == (404, "not_found"), response.text


async def test_numbers_past_what_the_database_holds_are_422(client):
    offset = await client.get("/users", params={"offset": HUGE})
    filtered = await client.get("/bookings", params={"organisation_id": HUGE})

    assert (offset.status_code, offset.json()["code"]) == (422, "invalid_request"), offset.text
    assert (filtered.status_code, filtered.json()["code"]) == (422, "invalid_request"), filtered.text


async def test_a_class_filter_may_span_terms_but_not_run_backwards(client):
    wide = await client.get("/classes", params={"term_start": "2000-01-01", "term_end": "3589-01-12"})
    backwards = await client.get("/classes", params={"term_start": "2027-03-01", "term_end": "2027-01-01"})

    assert wide.status_code == 200, wide.text
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_request"), backwards.text
