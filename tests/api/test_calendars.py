"""Opening hours and closures, and bookings that must fit them."""

import pytest

from tests.factories import at

TERM = {"valid_from": "2027-02-20", "valid_until": "2027-07-10"}


async def put_hours(make, path: str, windows: list[dict]):
    return await make.client.put(f"{path}/opening-hours", json=windows)


async def test_space_hours_override_the_venue_and_an_empty_list_inherits_again(make):
    room = await make.space()
    venue_path, space_path = f"/venues/{room['venue_id']}", f"/spaces/{room['id']}"

    assert (await make.client.get(f"{space_path}/opening-hours")).json() == {"source": "none", "windows": []}
    await put_hours(make, venue_path, [{"weekday": 5, "opens": "09:00", "closes": "17:00"}])
    assert (await make.client.get(f"{space_path}/opening-hours")).json()["source"] == "venue"

    own = await put_hours(make, space_path, [{"weekday": 0, "opens": "18:00", "closes": "21:00", **TERM}])
    assert own.status_code == 200
    assert own.json() == {
        "source": "space",
        "windows": [{"weekday": 0, "opens": "18:00", "closes": "21:00", **TERM}],
    }

    await put_hours(make, space_path, [])
    assert (await make.client.get(f"{space_path}/opening-hours")).json()["source"] == "venue"


@pytest.mark.parametrize(
    ("windows", "code"),
    [
        (
            [{"weekday": 0, "opens": "18:00", "closes": "21:00"}, {"weekday": 0, "opens": "20:00", "closes": "22:00"}],
            "invalid_opening_hours",
        ),
        ([{"weekday": 0, "opens": "21:00", "closes": "18:00"}], "invalid_opening_hours"),
        ([{"weekday": 7, "opens": "18:00", "closes": "21:00"}], "invalid_request"),
        ([{"weekday": 0, "opens": "18:00", "closes": "25:00"}], "invalid_request"),
        ([{"weekday": 0, "opens": "6pm", "closes": "21:00"}], "invalid_request"),
    ],
)
async def test_bad_hours_are_refused_and_keep_the_old_ones(make, windows, code):
    room = await make.space()
    good = [{"weekday": 2, "opens": "08:00", "closes": "12:00"}]
    await put_hours(make, f"/spaces/{room['id']}", good)

    response = await put_hours(make, f"/spaces/{room['id']}", windows)

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert (await make.client.get(f"/spaces/{room['id']}/opening-hours")).json()["windows"] == [
        {**good[0], "valid_from": None, "valid_until": None}
    ]


async def test_bookings_must_fit_term_time_and_vacation_hours(make, org):
    gym = await make.space(kind="gym")
    await put_hours(
        make,
        f"/spaces/{gym['id']}",
        [
            {"weekday": 0, "opens": "18:00", "closes": "21:00", **TERM},  # term: Monday evenings
            {
                "weekday": 0,
                "opens": "09:00",
                "closes": "24:00",
                "valid_from": "2027-07-11",
                "valid_until": "2027-08-31",
            },
        ],
    )
    # 2027-03-01 and 2027-07-12 are Mondays.
    assert (await make.book(gym["id"], org["id"], at(1, 19), at(1, 21))).status_code == 201
    late = await make.book(gym["id"], org["id"], at(8, 20), at(8, 22))
    assert (late.status_code, late.json()["code"]) == (422, "outside_opening_hours")
    tuesday = await make.book(gym["id"], org["id"], at(2, 19), at(2, 20))
    assert tuesday.json()["code"] == "outside_opening_hours"
    summer = await make.book(gym["id"], org["id"], "2027-07-12T10:00:00+08:00", "2027-07-12T23:59:00+08:00")
    assert summer.status_code == 201


async def test_closures_by_instants_and_by_whole_days(make, org):
    room = await make.space()
    closed = await make.client.post(
        "/closures",
        json={"space_id": room["id"], "start_date": "2027-03-03", "end_date": "2027-03-04", "reason": "exam"},
    )
    assert closed.status_code == 201
    assert (closed.json()["starts_at"], closed.json()["ends_at"]) == ("2027-03-02T16:00:00Z", "2027-03-04T16:00:00Z")
    await make.client.post(
        "/closures",
        json={"venue_id": room["venue_id"], "starts_at": at(1, 8), "ends_at": at(1, 12), "reason": "maintenance"},
    )

    for day, hour in ((3, 9), (4, 23), (1, 11)):
        response = await make.book(room["id"], org["id"], at(day, hour), at(day, hour, 30))
        assert (response.status_code, response.json()["code"]) == (422, "space_closed"), (day, hour)
    assert (await make.book(room["id"], org["id"], at(2, 23), at(3, 0))).status_code == 201
    assert (await make.book(room["id"], org["id"], at(1, 12), at(1, 13))).status_code == 201

    listed = (await make.client.get("/closures", params={"space_id": room["id"]})).json()
    assert [c["reason"] for c in listed["items"]] == ["maintenance", "exam"]
    assert (await make.client.delete(f"/closures/{listed['items'][1]['id']}")).status_code == 204
    assert (await make.book(room["id"], org["id"], at(3, 9), at(3, 10))).status_code == 201


async def test_closing_a_court_closes_the_hall_and_closing_the_hall_closes_the_courts(make, org):
    hall, (court_a, court_b) = await make.hall()
    await make.client.post(
        "/closures",
        json={"space_id": court_a["id"], "starts_at": at(1, 8), "ends_at": at(1, 12), "reason": "maintenance"},
    )
    await make.client.post(
        "/closures", json={"space_id": hall["id"], "starts_at": at(2, 8), "ends_at": at(2, 12), "reason": "event"}
    )

    assert (await make.book(hall["id"], org["id"], at(1, 9), at(1, 10))).json()["code"] == "space_closed"
    assert (await make.book(court_b["id"], org["id"], at(1, 9), at(1, 10))).status_code == 201
    assert (await make.book(court_b["id"], org["id"], at(2, 9), at(2, 10))).json()["code"] == "space_closed"


async def test_a_venue_that_closes_on_public_holidays(make, org, clock):
    venue = await make.venue(closes_on_public_holidays=True)
    room = await make.space(venue_id=venue["id"])
    other = await make.space()

    national_day = await make.book(room["id"], org["id"], "2027-10-01T10:00:00+08:00", "2027-10-01T11:00:00+08:00")
    assert (national_day.status_code, national_day.json()["code"]) == (422, "space_closed")
    clock.now = clock.now.replace(year=2026, month=9)
    # 2026-10-07 is a substituted day off in China (worked on 2026-10-10 instead).
    substituted = await make.book(room["id"], org["id"], "2026-10-07T10:00:00+08:00", "2026-10-07T11:00:00+08:00")
    assert substituted.json()["code"] == "space_closed"
    assert (
        await make.book(room["id"], org["id"], "2026-10-10T10:00:00+08:00", "2026-10-10T11:00:00+08:00")
    ).status_code == 201
    assert (
        await make.book(other["id"], org["id"], "2027-10-01T10:00:00+08:00", "2027-10-01T11:00:00+08:00")
    ).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "exam", "start_date": "2027-03-03", "end_date": "2027-03-04"},
        {"space_id": 1, "venue_id": 1, "reason": "exam", "start_date": "2027-03-03", "end_date": "2027-03-04"},
        {"space_id": 1, "reason": "exam", "start_date": "2027-03-05", "end_date": "2027-03-04"},
        {"space_id": 1, "reason": "exam", "starts_at": "2027-03-05T10:00:00", "ends_at": "2027-03-05T11:00:00+08:00"},
        {"space_id": 1, "reason": "exam", "start_date": "2027-03-03", "starts_at": "2027-03-05T10:00:00+08:00"},
        {"space_id": 1, "reason": "party", "start_date": "2027-03-03", "end_date": "2027-03-04"},
    ],
)
async def test_bad_closures_are_refused(make, body):
    await make.space()

    response = await make.client.post("/closures", json=body)

    assert response.status_code == 422
    assert response.json()["code"] in ("invalid_request", "naive_datetime")
    assert (await make.client.get("/closures")).json()["total"] == 0
