"""On PostgreSQL a booking request without an Idempotency-Key is two statements outside any
transaction: one read of everything the rules need, one write that is all of the booking or none
of it. A request with a key keeps its transaction (the key and the booking commit together)."""

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from booking.models import Booking, BookingEvent, Occurrence, OutboxMessage
from booking.services import booking_writes
from tests.conftest import bearer
from tests.driver_statements import statements
from tests.factories import at

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


async def counts(engine) -> list[int]:
    async with engine.connect() as connection:
        return [
            await connection.scalar(select(func.count()).select_from(model))
            for model in (Booking, Occurrence, BookingEvent, OutboxMessage)
        ]


async def test_a_booking_is_one_read_and_one_write(make, org, room, monkeypatch, engine):
    await make.book(room["id"], org["id"], at(1, 9), at(1, 10))  # the driver learns the types once
    with statements(monkeypatch) as sent:
        response = await make.book(room["id"], org["id"], at(1, 10), at(1, 11))
    assert response.status_code == 201
    assert sent == ["WITH", "WITH"]
    assert await counts(engine) == [2, 2, 2, 2]


async def test_a_refused_booking_writes_none_of_itself(make, org, monkeypatch, engine):
    hall, (court_a, _) = await make.hall()
    await make.book(court_a["id"], org["id"], at(2, 19), at(2, 21))
    before = await counts(engine)
    with statements(monkeypatch) as sent:
        response = await make.book(hall["id"], org["id"], at(2, 19), at(2, 21))
    assert response.status_code == 409
    assert response.json()["conflicts"][0]["space_id"] == court_a["id"]
    assert sent == ["WITH", "WITH", "SELECT"]  # read, the refused write, the conflicts for the answer
    assert await counts(engine) == before


async def test_a_series_skipping_taken_dates_looks_first_then_writes(make, org, room, monkeypatch, engine):
    await make.book(room["id"], org["id"], at(8, 19), at(8, 20))
    body = make.booking_body(
        room["id"], org["id"], at(1, 19), at(1, 20), recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}, on_conflict="skip"
    )
    with statements(monkeypatch) as sent:
        response = await make.client.post("/bookings", json=body)
    assert response.status_code == 201
    assert len(response.json()["occurrences"]) == 2 and len(response.json()["skipped"]) == 1
    assert sent == ["WITH", "SELECT", "WITH"]


async def test_with_an_idempotency_key_the_booking_keeps_its_transaction(make, org, room, monkeypatch):
    body = make.booking_body(room["id"], org["id"], at(1, 10), at(1, 11))
    with statements(monkeypatch) as sent:
        first = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "k-1"})
    again = await make.client.post("/bookings", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert sent[0] == "BEGIN" and "WITH" in sent


async def test_an_unknown_token_is_401_and_writes_nothing(make, org, room, transport, engine):
    body = make.booking_body(room["id"], org["id"], at(1, 10), at(1, 11))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/api/v1", headers=bearer("vs_" + "x" * 40)
    ) as stranger:
        response = await stranger.post("/bookings", json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert await counts(engine) == [0, 0, 0, 0]


async def test_a_write_chosen_as_a_deadlock_victim_is_sent_again(make, org, room, monkeypatch, engine):
    # Two racing overlapping inserts can each wait for the other (an exclusion constraint without
    # ON CONFLICT); PostgreSQL aborts one, which must not become a 500.
    original = booking_writes._ALONE.fetch
    victims = []

    async def deadlocked_once(driver, values):
        if not victims:
            victims.append(values)
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return await original(driver, values)

    monkeypatch.setattr(booking_writes._ALONE, "fetch", deadlocked_once)

    response = await make.book(room["id"], org["id"], at(1, 10), at(1, 11))

    assert response.status_code == 201, response.text
    assert len(victims) == 1
    assert await counts(engine) == [1, 1, 1, 1]
