"""Booking one space once: conflicts, buffers, divisible spaces, cancelling, bad input."""

import pytest
from sqlalchemy import func, select

from booking.models import Booking, Occurrence
from tests.factories import at


async def test_booking_is_confirmed_with_one_occurrence_and_local_times(make, room, org):
    response = await make.book(room["id"], org["id"], at(1, 19), at(1, 21))

    assert response.status_code == 201
    booking = response.json()
    assert booking["state"] == "confirmed"
    assert booking["starts_at"] == "2027-03-01T11:00:00Z"
    assert booking["local_starts_at"] == "2027-03-01T19:00:00+08:00"
    assert booking["timezone"] == "Asia/Shanghai"
    [occurrence] = booking["occurrences"]
    assert occurrence["space_id"] == room["id"]
    assert (occurrence["starts_at"], occurrence["ends_at"], occurrence["state"]) == (
        "2027-03-01T11:00:00Z",
        "2027-03-01T13:00:00Z",
        "confirmed",
    )


async def test_overlap_is_409_naming_the_conflicting_occurrence(make, room, org):
    first = (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).json()

    response = await make.book(room["id"], org["id"], at(1, 20), at(1, 22))

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "booking_conflict"
    assert problem["conflicts"] == [
        {
            "occurrence_id": first["occurrences"][0]["id"],
            "booking_id": first["id"],
            "space_id": room["id"],
            "starts_at": "2027-03-01T11:00:00Z",
            "ends_at": "2027-03-01T13:00:00Z",
        }
    ]


async def test_touching_half_open_intervals_do_not_conflict(make, room, org):
    assert (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).status_code == 201
    assert (await make.book(room["id"], org["id"], at(1, 21), at(1, 22))).status_code == 201
    assert (await make.book(room["id"], org["id"], at(1, 18), at(1, 19))).status_code == 201


async def test_other_spaces_are_independent(make, room, org):
    other = await make.space(venue_id=room["venue_id"], name="Classroom 102")
    assert (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).status_code == 201
    assert (await make.book(other["id"], org["id"], at(1, 19), at(1, 21))).status_code == 201


async def test_a_booking_inside_the_buffer_conflicts(make, org):
    gym = await make.space(kind="gym", buffer_before_min=15, buffer_after_min=30)
    assert (await make.book(gym["id"], org["id"], at(1, 18), at(1, 19))).status_code == 201

    # 19:00 + 30 min clean-up, and the next booking's 15 min set-up: free from 19:45.
    assert (await make.book(gym["id"], org["id"], at(1, 19, 30), at(1, 20))).json()["code"] == "booking_conflict"
    assert (await make.book(gym["id"], org["id"], at(1, 19, 44), at(1, 20))).status_code == 409
    assert (await make.book(gym["id"], org["id"], at(1, 19, 45), at(1, 20))).status_code == 201
    # And before: 18:00 − 15 min set-up, the earlier booking's 30 min clean-up: must end by 17:15.
    assert (await make.book(gym["id"], org["id"], at(1, 16), at(1, 17, 30))).status_code == 409
    assert (await make.book(gym["id"], org["id"], at(1, 16), at(1, 17, 15))).status_code == 201


async def test_booking_a_divisible_hall_holds_every_court(make, org):
    hall, courts = await make.hall(courts=3)

    booking = (await make.book(hall["id"], org["id"], at(2, 19), at(2, 21))).json()

    assert sorted(o["space_id"] for o in booking["occurrences"]) == sorted(c["id"] for c in courts)
    for court in courts:
        response = await make.book(court["id"], org["id"], at(2, 20), at(2, 22))
        assert response.status_code == 409
        assert [c["booking_id"] for c in response.json()["conflicts"]] == [booking["id"]]


async def test_booking_one_court_blocks_the_hall_but_not_the_other_court(make, org):
    hall, (court_a, court_b) = await make.hall()
    assert (await make.book(court_a["id"], org["id"], at(2, 19), at(2, 21))).status_code == 201

    assert (await make.book(hall["id"], org["id"], at(2, 20), at(2, 22))).json()["code"] == "booking_conflict"
    assert (await make.book(court_b["id"], org["id"], at(2, 20), at(2, 22))).status_code == 201


async def test_nested_divisions_expand_to_leaves(make, org):
    hall, (court_a, _) = await make.hall()
    half = await make.space(venue_id=hall["venue_id"], name="Court A, half 1", kind="court", parent_id=court_a["id"])
    other_half = await make.space(
        venue_id=hall["venue_id"], name="Court A, half 2", kind="court", parent_id=court_a["id"]
    )

    booking = (await make.book(hall["id"], org["id"], at(3, 9), at(3, 10))).json()

    held = {o["space_id"] for o in booking["occurrences"]}
    assert half["id"] in held and other_half["id"] in held and court_a["id"] not in held
    assert (await make.book(half["id"], org["id"], at(3, 9), at(3, 10))).status_code == 409


async def test_a_leaf_with_bookings_cannot_be_divided(make, room, org):
    await make.book(room["id"], org["id"], at(1, 19), at(1, 21))

    response = await make.client.post(
        f"/venues/{room['venue_id']}/spaces",
        json={"name": "half", "kind": "classroom", "capacity": 10, "parent_id": room["id"]},
    )

    assert (response.status_code, response.json()["code"]) == (409, "in_use")


async def test_cancelling_frees_the_slot_at_once(make, room, org):
    booking = (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).json()

    cancelled = await make.client.post(f"/bookings/{booking['id']}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert {o["state"] for o in cancelled.json()["occurrences"]} == {"cancelled"}
    assert (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).status_code == 201


async def test_cancelling_twice_or_after_the_end_is_refused(make, room, org, clock):
    booking = (await make.book(room["id"], org["id"], at(1, 19), at(1, 21))).json()
    await make.client.post(f"/bookings/{booking['id']}/cancel")

    again = await make.client.post(f"/bookings/{booking['id']}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state_transition")

    later = (await make.book(room["id"], org["id"], at(5, 19), at(5, 21))).json()
    clock.now = clock.now.replace(year=2028)
    ended = await make.client.post(f"/bookings/{later['id']}/cancel")
    assert (ended.status_code, ended.json()["code"]) == (409, "invalid_state_transition")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"starts_at": "2027-03-01T19:00:00"}, 422, "naive_datetime"),
        ({"ends_at": "2027-03-01 21:00"}, 422, "naive_datetime"),
        ({"ends_at": at(1, 19)}, 422, "invalid_request"),
        ({"ends_at": at(1, 18)}, 422, "invalid_request"),
        ({"attendees": 41}, 422, "capacity_exceeded"),
        ({"attendees": 0}, 422, "invalid_request"),
        ({"title": ""}, 422, "invalid_request"),
        ({"starts_at": "2026-12-01T19:00:00+08:00", "ends_at": "2026-12-01T20:00:00+08:00"}, 422, "starts_in_past"),
        ({"space_id": 999_999}, 404, "not_found"),
        ({"organisation_id": 999_999}, 404, "not_found"),
        ({"starts_at": "tomorrow"}, 422, "invalid_request"),
    ],
)
async def test_bad_bookings_are_refused_and_write_nothing(make, room, org, engine, change, status, code):
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21)) | change

    response = await make.client.post("/bookings", json=body)

    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 0
        assert await connection.scalar(select(func.count()).select_from(Occurrence)) == 0


async def test_invalid_request_names_the_field(make, room, org):
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21), attendees="many")

    problem = (await make.client.post("/bookings", json=body)).json()

    assert problem["code"] == "invalid_request"
    assert [error["field"] for error in problem["errors"]] == ["attendees"]


async def test_a_conflict_writes_nothing(make, org, engine):
    hall, (court_a, _) = await make.hall()
    await make.book(court_a["id"], org["id"], at(2, 19), at(2, 21))

    assert (await make.book(hall["id"], org["id"], at(2, 19), at(2, 21))).status_code == 409

    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 1
        assert await connection.scalar(select(func.count()).select_from(Occurrence)) == 1


async def test_get_and_list_with_filters(make, org):
    hall, (court_a, court_b) = await make.hall()
    other_org = await make.organisation(name="Weaving circle")
    whole = (await make.book(hall["id"], org["id"], at(2, 9), at(2, 10))).json()
    on_a = (await make.book(court_a["id"], other_org["id"], at(3, 9), at(3, 10))).json()
    on_b = (await make.book(court_b["id"], org["id"], at(4, 9), at(4, 10))).json()
    await make.client.post(f"/bookings/{on_b['id']}/cancel")

    async def ids(**params) -> list[int]:
        response = await make.client.get("/bookings", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert (await make.client.get(f"/bookings/{on_a['id']}")).json() == on_a
    assert await ids() == [whole["id"], on_a["id"], on_b["id"]]
    assert await ids(space_id=court_a["id"]) == [whole["id"], on_a["id"]]
    assert await ids(space_id=hall["id"]) == [whole["id"], on_a["id"], on_b["id"]]
    assert await ids(organisation_id=other_org["id"]) == [on_a["id"]]
    assert await ids(state="cancelled") == [on_b["id"]]
    assert await ids(start=at(3, 0), end=at(3, 23)) == [on_a["id"]]
    assert await ids(start=at(3, 10)) == [on_b["id"]]
    assert await ids(limit=1, offset=1) == [on_a["id"]]
    page = (await make.client.get("/bookings", params={"limit": 1})).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 0)


async def test_list_rejects_naive_window_and_huge_pages(make):
    naive = await make.client.get("/bookings", params={"start": "2027-03-01T00:00:00"})
    assert (naive.status_code, naive.json()["code"]) == (422, "naive_datetime")
    huge = await make.client.get("/bookings", params={"limit": 201})
    assert (huge.status_code, huge.json()["code"]) == (422, "invalid_request")
    assert huge.json()["errors"][0]["field"] == "limit"


async def test_unknown_booking_is_404(make):
    for response in (await make.client.get("/bookings/12345"), await make.client.post("/bookings/12345/cancel")):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
