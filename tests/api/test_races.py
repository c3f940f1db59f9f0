"""However many requests race for a slot, the database lets exactly one through."""

import asyncio

from sqlalchemy import func, select

from booking.models import Occurrence
from tests.factories import at

RACERS = 50


async def test_fifty_overlapping_requests_yield_one_booking(make, engine):
    room = await make.space()
    org = await make.organisation()
    # Every request overlaps every other (all contain 19:30-20:00) but none is identical.
    bodies = [make.booking_body(room["id"], org["id"], at(1, 19, i % 30), at(1, 20, i % 30)) for i in range(RACERS)]

    responses = await asyncio.gather(*(make.client.post("/bookings", json=body) for body in bodies))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"booking_conflict"}
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Occurrence)) == 1


async def test_whole_hall_and_its_courts_racing(make, engine):
    hall, courts = await make.hall(courts=2)
    org = await make.organisation()
    bodies = [
        make.booking_body(space["id"], org["id"], at(2, 19), at(2, 21))
        for _ in range(RACERS // 3)
        for space in (hall, *courts)
    ]

    responses = await asyncio.gather(*(make.client.post("/bookings", json=body) for body in bodies))

    winners = [response.json() for response in responses if response.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses)
    # Either the hall won alone, or each court was won once (and the hall lost).
    winning_spaces = sorted(booking["space_id"] for booking in winners)
    assert winning_spaces in ([hall["id"]], sorted(court["id"] for court in courts))
    async with engine.connect() as connection:
        held = await connection.execute(select(Occurrence.space_id).where(Occurrence.state == "confirmed"))
        assert sorted(space_id for (space_id,) in held) == sorted(court["id"] for court in courts)
