"""Free/busy of one space, the search for free spaces, and the slot finder."""

import pytest

from tests.factories import at


def spans(items: list[dict]) -> list[tuple[str, str]]:
    return [(i["starts_at"], i["ends_at"]) for i in items]


async def test_one_space_open_busy_free(make, org):
    room = await make.space(buffer_after_min=30)
    await make.client.put(
        f"/spaces/{room['id']}/opening-hours", json=[{"weekday": 0, "opens": "18:00", "closes": "22:00"}]
    )
    await make.book(room["id"], org["id"], at(1, 19), at(1, 20))

    response = await make.client.get(f"/spaces/{room['id']}/availability", params={"start": at(1, 0), "end": at(2, 0)})

    assert response.status_code == 200
    body = response.json()
    assert spans(body["open"]) == [("2027-03-01T10:00:00Z", "2027-03-01T14:00:00Z")]
    assert spans(body["busy"]) == [("2027-03-01T11:00:00Z", "2027-03-01T12:30:00Z")]
    assert spans(body["free"]) == [
        ("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z"),
        ("2027-03-01T12:30:00Z", "2027-03-01T14:00:00Z"),
    ]
    assert set(body["busy"][0]) == {"starts_at", "ends_at"}  # free/busy only, nothing personal


async def test_a_parent_is_busy_when_a_part_is_and_a_part_when_the_parent_is(make, org):
    hall, (court_a, court_b) = await make.hall()
    await make.book(court_a["id"], org["id"], at(1, 9), at(1, 10))
    await make.book(hall["id"], org["id"], at(1, 11), at(1, 12))
    window = {"start": at(1, 0), "end": at(2, 0)}

    hall_busy = (await make.client.get(f"/spaces/{hall['id']}/availability", params=window)).json()["busy"]
    court_b_busy = (await make.client.get(f"/spaces/{court_b['id']}/availability", params=window)).json()["busy"]

    assert spans(hall_busy) == [
        ("2027-03-01T01:00:00Z", "2027-03-01T02:00:00Z"),
        ("2027-03-01T03:00:00Z", "2027-03-01T04:00:00Z"),
    ]
    assert spans(court_b_busy) == [("2027-03-01T03:00:00Z", "2027-03-01T04:00:00Z")]


async def test_window_limits(make):
    room = await make.space()
    too_long = await make.client.get(
        f"/spaces/{room['id']}/availability", params={"start": at(1, 0), "end": "2027-04-02T00:00:00+08:00"}
    )
    assert (too_long.status_code, too_long.json()["code"]) == (422, "window_too_long")
    inverted = await make.client.get(f"/spaces/{room['id']}/availability", params={"start": at(2, 0), "end": at(1, 0)})
    assert (inverted.status_code, inverted.json()["code"]) == (422, "invalid_request")
    naive = await make.client.get("/availability", params={"start": "2027-03-01T19:00:00", "end": at(1, 20)})
    assert naive.json()["code"] == "naive_datetime"
    huge_page = await make.client.get("/availability", params={"start": at(1, 19), "end": at(1, 20), "limit": 500})
    assert huge_page.json()["code"] == "invalid_request"


@pytest.fixture
async def district(make):
    """Two towns; a library with a projector room near the centre, a school farther off."""
    root = await make.region()
    east = await make.region(name="East town", level="town", parent_id=root["id"])
    west = await make.region(name="West town", level="town", parent_id=root["id"])
    east_village = await make.region(name="East village", level="community", parent_id=east["id"])
    owner = await make.organisation(kind="library")
    library = await make.venue(
        name="Library",
        kind="library",
        region_id=east_village["id"],
        owner_id=owner["id"],
        latitude=30.20,
        longitude=120.20,
    )
    school = await make.venue(
        name="School", kind="school", region_id=west["id"], owner_id=owner["id"], latitude=30.30, longitude=120.10
    )
    far_hall = await make.venue(
        name="Far hall",
        kind="community_centre",
        region_id=west["id"],
        owner_id=owner["id"],
        latitude=31.00,
        longitude=121.00,
    )
    spaces = {
        "reading": await make.space(
            venue_id=library["id"],
            name="Reading room",
            kind="reading_room",
            capacity=40,
            features=["projector", "step-free"],
        ),
        "library_small": await make.space(
            venue_id=library["id"], name="Study booth", kind="meeting_room", capacity=6, features=["step-free"]
        ),
        "classroom": await make.space(
            venue_id=school["id"], name="Classroom", kind="classroom", capacity=35, features=["projector"]
        ),
        "far": await make.space(
            venue_id=far_hall["id"], name="Far room", kind="classroom", capacity=60, features=["projector", "step-free"]
        ),
    }
    return {"root": root, "east": east, "west": west, "spaces": spaces, "library": library, "school": school}


async def found(make, **params) -> list[str]:
    response = await make.client.get("/availability", params={"start": at(2, 19), "end": at(2, 21), **params})
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_search_filters(make, district):
    assert await found(make, capacity=30) == ["Classroom", "Reading room", "Far room"]  # best fit first
    assert await found(make, capacity=30, features="projector,step-free") == ["Reading room", "Far room"]
    assert await found(make, kind="classroom") == ["Classroom", "Far room"]
    assert await found(make, region_id=district["east"]["id"]) == ["Study booth", "Reading room"]
    assert await found(make, region_id=district["root"]["id"], capacity=50) == ["Far room"]


async def test_search_ranks_by_distance(make, district):
    response = await make.client.get(
        "/availability", params={"start": at(2, 19), "end": at(2, 21), "capacity": 30, "near": "30.21,120.21"}
    )
    items = response.json()["items"]

    assert [item["name"] for item in items] == ["Reading room", "Classroom", "Far room"]
    assert 1000 < items[0]["distance_m"] < 1600
    assert items[0]["venue"]["name"] == "Library"


async def test_search_leaves_out_booked_closed_and_shut_spaces(make, district, org):
    spaces = district["spaces"]
    await make.book(spaces["reading"]["id"], org["id"], at(2, 20), at(2, 22))
    await make.client.post(
        "/closures",
        json={
            "venue_id": district["school"]["id"],
            "start_date": "2027-03-02",
            "end_date": "2027-03-02",
            "reason": "exam",
        },
    )
    await make.client.put(
        f"/spaces/{spaces['far']['id']}/opening-hours", json=[{"weekday": 1, "opens": "08:00", "closes": "20:00"}]
    )

    assert await found(make) == ["Study booth"]
    response = await make.client.get("/availability", params={"start": at(2, 19), "end": at(2, 21), "limit": 1})
    assert response.json()["total"] == 1
    # Earlier that Tuesday, all but the closed school are free.
    assert await found(make, start=at(2, 12), end=at(2, 13)) == ["Study booth", "Reading room", "Far room"]


async def test_search_across_midnight_needs_hours_on_both_days(make, district):
    far = district["spaces"]["far"]
    await make.client.put(
        f"/spaces/{far['id']}/opening-hours",
        json=[{"weekday": 1, "opens": "18:00", "closes": "24:00"}, {"weekday": 2, "opens": "00:00", "closes": "02:00"}],
    )

    names = await found(make, start=at(2, 23), end=at(3, 1), capacity=50)
    assert names == ["Far room"]
    assert await found(make, start=at(2, 23), end=at(3, 3), capacity=50) == []


async def test_search_on_a_holiday(make, org, clock):
    venue = await make.venue(closes_on_public_holidays=True)
    await make.space(venue_id=venue["id"], name="Holiday-closed room")
    await make.space(name="Always open room")

    names = await found(make, start="2027-10-01T10:00:00+08:00", end="2027-10-01T11:00:00+08:00")

    assert names == ["Always open room"]


async def test_slot_finder_hand_checked(make, org, clock):
    """Two rooms; Monday 1 March to Wednesday 3 March, evenings 18:00–22:00, 90 minutes."""
    clock.now = clock.now.replace(month=2, day=28)
    big = await make.space(name="Big", capacity=50, features=["step-free"])
    small = await make.space(venue_id=big["venue_id"], name="Small", capacity=10, features=["step-free"])
    await make.space(venue_id=big["venue_id"], name="No ramp", capacity=80)
    await make.book(big["id"], org["id"], at(1, 18), at(1, 21))  # Big free Monday only 21:00–22:00: too short
    await make.book(big["id"], org["id"], at(2, 18, 30), at(2, 19, 45))  # Big free Tuesday from 19:45
    await make.client.put(
        f"/spaces/{small['id']}/opening-hours", json=[{"weekday": 2, "opens": "19:00", "closes": "21:00"}]
    )

    response = await make.client.get(
        "/availability/slots",
        params={
            "duration_min": 90,
            "from_date": "2027-03-01",
            "to_date": "2027-03-03",
            "weekdays": "0,1,2",
            "time_from": "18:00",
            "time_to": "22:00",
            "step_min": 15,
            "capacity": 10,
            "features": "step-free",
        },
    )

    assert response.status_code == 200, response.text
    slots = [(s["space_id"], s["local_starts_at"], s["ends_at"]) for s in response.json()["slots"]]
    assert slots == [
        (big["id"], "2027-03-02T19:45:00+08:00", "2027-03-02T13:15:00Z"),
        (big["id"], "2027-03-03T18:00:00+08:00", "2027-03-03T11:30:00Z"),
        (small["id"], "2027-03-03T19:00:00+08:00", "2027-03-03T12:30:00Z"),
    ]
    assert response.json()["spaces_considered"] == 2


async def test_slot_finder_bad_input(make):
    base = {"duration_min": 60, "from_date": "2027-03-01", "to_date": "2027-03-03"}
    for change, code in [
        ({"to_date": "2027-04-15"}, "window_too_long"),
        ({"to_date": "2027-02-01"}, "invalid_request"),
        ({"weekdays": "1,9"}, "invalid_request"),
        ({"time_from": "20:00", "time_to": "19:00"}, "invalid_request"),
        ({"duration_min": 0}, "invalid_request"),
        ({"near": "north"}, "invalid_request"),
    ]:
        response = await make.client.get("/availability/slots", params=base | change)
        assert (response.status_code, response.json()["code"]) == (422, code), change


async def test_search_a_space_closure_or_own_hours_concern_that_space_only(make):
    """Regression: a closure of one space emptied the whole search; own hours fell back to the venue's."""
    venue = await make.venue()
    await make.client.put(
        f"/venues/{venue['id']}/opening-hours",
        json=[{"weekday": d, "opens": "08:00", "closes": "22:00"} for d in range(7)],
    )
    a, b, _ = [await make.space(venue_id=venue["id"], name=name) for name in "ABC"]
    await make.client.post(
        "/closures", json={"space_id": a["id"], "starts_at": at(2, 19), "ends_at": at(2, 21), "reason": "maintenance"}
    )
    await make.client.put(
        f"/spaces/{b['id']}/opening-hours", json=[{"weekday": 1, "opens": "10:00", "closes": "12:00"}]
    )

    assert await found(make, start=at(2, 19), end=at(2, 20)) == ["C"]
    assert await found(make, start=at(3, 14), end=at(3, 15)) == ["A", "C"]
    assert await found(make, start=at(2, 10), end=at(2, 11)) == ["A", "B", "C"]


async def test_search_sees_a_booking_that_started_before_the_window(make, org):
    long_room = await make.space(name="Long")
    await make.space(name="Other")
    await make.book(long_room["id"], org["id"], at(2, 8), at(2, 20))

    assert await found(make, start=at(2, 19), end=at(2, 21)) == ["Other"]
    assert await found(make, start=at(2, 20), end=at(2, 21)) == ["Long", "Other"]
