"""Idempotency-Key on POST /bookings: replay, misuse, and racing retries."""

import asyncio

from sqlalchemy import func, select

from booking.models import Booking
from tests.factories import at


async def booking_count(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(Booking))


async def test_same_key_same_body_replays_the_first_response(make, engine):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21))

    first = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "retry-1"})
    second = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "retry-1"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await booking_count(engine) == 1


async def test_same_body_with_the_offset_spelled_differently_is_the_same_request(make):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21))
    utc = body | {"starts_at": "2027-03-01T11:00:00Z", "ends_at": "2027-03-01T13:00:00+00:00"}

    first = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "k"})
    second = await make.client.post("/bookings", json=utc, headers={"Idempotency-Key": "k"})

    assert second.json() == first.json()


async def test_same_key_with_another_body_is_refused(make, engine):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21))
    await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "k"})

    response = await make.client.post(
        "/bookings", json=body | {"title": "Another class"}, headers={"Idempotency-Key": "k"}
    )

    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    assert await booking_count(engine) == 1


async def test_a_failed_request_does_not_burn_its_key(make, engine):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21), attendees=1000)

    refused = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "k"})
    fixed = await make.client.post("/bookings", json=body | {"attendees": 10}, headers={"Idempotency-Key": "k"})

    assert (refused.status_code, fixed.status_code) == (422, 201)
    assert await booking_count(engine) == 1


async def test_invalid_keys_are_refused(make):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21))
    for key in ("x" * 201, "tab\tkey"):
        response = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": key})
        assert (response.status_code, response.json()["code"]) == (422, "invalid_idempotency_key")


async def test_racing_retries_with_one_key_create_one_booking(make, engine):
    room, org = await make.space(), await make.organisation()
    body = make.booking_body(room["id"], org["id"], at(1, 19), at(1, 21))

    responses = await asyncio.gather(
        *(make.client.post("/bookings", json=body, headers={"Idempotency-Key": "same"}) for _ in range(10))
    )

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert await booking_count(engine) == 1
