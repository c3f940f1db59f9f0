"""Teachers and community classes: CRUD and bad input."""

import pytest


async def make_teacher(make, **overrides):
    body = {
        "name": "王老师",
        "skills": ["Calligraphy", "painting"],
        "availability": [{"weekday": 1, "opens": "09:00", "closes": "12:00"}],
        "max_minutes_per_week": 360,
        **overrides,
    }
    response = await make.client.post("/teachers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def class_body(organisation_id: int, **overrides) -> dict:
    return {
        "title": "老年书法班",
        "category": "arts",
        "target_group": "elderly",
        "organisation_id": organisation_id,
        "term_start": "2027-03-01",
        "term_end": "2027-06-30",
        "sessions_per_week": 2,
        "session_minutes": 90,
        "learners": 20,
        "required_features": ["Step-free"],
        "allowed_kinds": ["studio", "classroom", "studio"],
        "required_skill": "calligraphy",
        "allowed_windows": [{"weekday": d, "opens": "08:30", "closes": "16:00"} for d in range(5)],
        "cohorts": ["elderly-jiangbin"],
        **overrides,
    }


async def test_teacher_crud(make):
    region = await make.region()
    venue = await make.venue(region_id=region["id"])
    teacher = await make_teacher(make, home_region_id=region["id"], refused_venue_ids=[venue["id"]], kind="volunteer")

    assert teacher["skills"] == ["calligraphy", "painting"]
    assert (await make.client.get(f"/teachers/{teacher['id']}")).json() == teacher
    patched = await make.client.patch(f"/teachers/{teacher['id']}", json={"max_minutes_per_week": 480})
    assert patched.json()["max_minutes_per_week"] == 480
    listed = (await make.client.get("/teachers", params={"skill": "painting"})).json()
    assert [t["id"] for t in listed["items"]] == [teacher["id"]]
    assert (await make.client.delete(f"/teachers/{teacher['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"availability": [{"weekday": 8, "opens": "09:00", "closes": "12:00"}]}, "invalid_request"),
        ({"availability": [{"weekday": 1, "opens": "9am", "closes": "12:00"}]}, "invalid_request"),
        ({"kind": "robot"}, "invalid_request"),
        ({"max_minutes_per_week": -1}, "invalid_request"),
        ({"refused_venue_ids": [999]}, "invalid_request"),
        ({"home_region_id": 999}, "not_found"),
    ],
)
async def test_bad_teachers(make, change, code):
    response = await make.client.post("/teachers", json={"name": "x", **change})
    assert response.json()["code"] == code
    assert (await make.client.get("/teachers")).json()["total"] == 0


async def test_class_crud(make):
    org = await make.organisation()
    teacher = await make_teacher(make)
    created = await make.client.post("/classes", json=class_body(org["id"], fixed_teacher_id=teacher["id"]))

    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["required_features"] == ["step-free"]
    assert offer["allowed_kinds"] == ["classroom", "studio"]  # a set: repeats dropped, sorted
    patched = await make.client.patch(f"/classes/{offer['id']}", json={"learners": 25, "allowed_kinds": []})
    assert (patched.json()["learners"], patched.json()["allowed_kinds"]) == (25, [])
    for field in ("allowed_kinds", "required_features", "preferred_region_ids", "allowed_windows", "cohorts"):
        unset = await make.client.patch(f"/classes/{offer['id']}", json={field: None})
        assert (unset.status_code, unset.json()["code"]) == (422, "invalid_request"), field
    for field in ("skills", "availability", "refused_venue_ids"):
        unset = await make.client.patch(f"/teachers/{teacher['id']}", json={field: None})
        assert (unset.status_code, unset.json()["code"]) == (422, "invalid_request"), field
    assert (await make.client.get(f"/classes/{offer['id']}")).json()["allowed_kinds"] == []
    in_term = (await make.client.get("/classes", params={"term_start": "2027-06-01", "term_end": "2027-09-01"})).json()
    assert [c["id"] for c in in_term["items"]] == [offer["id"]]
    later = (await make.client.get("/classes", params={"term_start": "2027-07-01", "term_end": "2027-09-01"})).json()
    assert later["total"] == 0
    assert (await make.client.delete(f"/teachers/{teacher['id']}")).json()["code"] == "in_use"
    assert (await make.client.delete(f"/classes/{offer['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"term_end": "2027-02-01"}, "invalid_request"),
        ({"term_end": "2028-06-30"}, "invalid_request"),
        ({"sessions_per_week": 8}, "invalid_request"),
        ({"session_minutes": 5}, "invalid_request"),
        ({"allowed_kinds": ["castle"]}, "invalid_request"),
        ({"allowed_kinds": "classroom"}, "invalid_request"),
        ({"allowed_kinds": ["classroom"] * 21}, "invalid_request"),
        ({"preferred_region_ids": [999]}, "invalid_request"),
        ({"fixed_teacher_id": 999}, "not_found"),
        ({"organisation_id": 999}, "not_found"),
    ],
)
async def test_bad_classes(make, change, code):
    org = await make.organisation()

    response = await make.client.post("/classes", json=class_body(org["id"]) | change)

    assert response.json()["code"] == code, response.text
    assert (await make.client.get("/classes")).json()["total"] == 0


async def test_required_kind_is_refused_with_a_pointer_to_allowed_kinds(make):
    org = await make.organisation()
    offer = (await make.client.post("/classes", json=class_body(org["id"]))).json()

    created = await make.client.post("/classes", json=class_body(org["id"], required_kind="kitchen"))
    patched = await make.client.patch(f"/classes/{offer['id']}", json={"required_kind": None})

    for response in (created, patched):
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "invalid_request"
        assert "allowed_kinds" in response.json()["detail"]
    assert (await make.client.get(f"/classes/{offer['id']}")).json() == offer
    assert (await make.client.get("/classes")).json()["total"] == 1
