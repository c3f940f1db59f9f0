"""Check-in within the window around a session's start; the sweep releases no-shows."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from booking.models import BookingEvent, OutboxMessage
from booking.services.checkin import release_no_shows
from tests.factories import Factory

START = datetime.fromisoformat("2027-03-01T19:00:00+08:00")


@pytest.fixture
async def world(make, as_user, clock):
    room = await make.space()
    venue = (await make.client.get(f"/venues/{room['venue_id']}")).json()
    policy = {"checkin_required": True, "checkin_opens_before_min": 15, "checkin_closes_after_min": 10}
    assert (await make.client.put(f"/venues/{venue['id']}/policy", json=policy)).status_code == 200
    group = await make.organisation()
    organiser = await as_user("organiser", organisation_id=group["id"])
    clock.now = START - timedelta(days=1)
    return {"room": room, "group": group, "organiser": organiser}


async def book(world, *, recurrence=None):
    body = Factory.booking_body(
        world["room"]["id"],
        world["group"]["id"],
        START.isoformat(),
        (START + timedelta(hours=2)).isoformat(),
        **({"recurrence": {"rrule": recurrence}} if recurrence else {}),
    )
    response = await world["organiser"].post("/bookings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def sweep(engine, now) -> list[int]:
    async with async_sessionmaker(engine)() as session, session.begin():
        return await release_no_shows(session, now=now)


async def test_check_in_opens_and_closes_around_the_start(world, clock):
    booking = await book(world)
    organiser = world["organiser"]

    clock.now = START - timedelta(minutes=16)
    early = await organiser.post(f"/bookings/{booking['id']}/check-in")
    assert (early.status_code, early.json()["code"]) == (409, "checkin_closed")

    clock.now = START - timedelta(minutes=15)
    on_time = await organiser.post(f"/bookings/{booking['id']}/check-in")
    assert on_time.status_code == 200
    assert on_time.json()["occurrences"][0]["checked_in_at"] == "2027-03-01T10:45:00Z"


async def test_check_in_is_refused_after_the_window(world, clock):
    booking = await book(world)
    clock.now = START + timedelta(minutes=10)  # the window is [start - 15 min, start + 10 min)

    late = await world["organiser"].post(f"/bookings/{booking['id']}/check-in")

    assert (late.status_code, late.json()["code"]) == (409, "checkin_closed")


async def test_the_sweep_releases_a_no_show_and_frees_the_slot(make, as_user, engine, world, clock):
    booking = await book(world)

    assert await sweep(engine, START + timedelta(minutes=9)) == []  # the window is still open
    released = await sweep(engine, START + timedelta(minutes=10))

    assert released == [booking["occurrences"][0]["id"]]
    after = (await world["organiser"].get(f"/bookings/{booking['id']}")).json()
    assert after["state"] == "released"
    assert after["occurrences"][0]["state"] == "released"
    assert await sweep(engine, START + timedelta(minutes=30)) == []  # released once
    # Someone else may now have the rest of the evening.
    clock.now = START + timedelta(minutes=20)
    other = await make.organisation(name="夜跑小组")
    rest = Factory.booking_body(
        world["room"]["id"],
        other["id"],
        (START + timedelta(minutes=30)).isoformat(),
        (START + timedelta(hours=2)).isoformat(),
    )
    assert (await make.client.post("/bookings", json=rest)).status_code == 201
    async with engine.connect() as connection:
        event = (
            await connection.execute(
                select(BookingEvent.kind, BookingEvent.from_state, BookingEvent.to_state, BookingEvent.reason)
                .where(BookingEvent.booking_id == booking["id"])
                .order_by(BookingEvent.id.desc())
                .limit(1)
            )
        ).one()
        topics = (await connection.execute(select(OutboxMessage.topic, OutboxMessage.payload))).all()
    assert tuple(event) == ("released", "confirmed", "released", "no-show: nobody checked in")
    released_messages = [payload for topic, payload in topics if topic == "booking.released"]
    assert [m["organisation_id"] for m in released_messages] == [world["group"]["id"]]  # the no-show is theirs


async def test_a_checked_in_session_is_not_released(engine, world, clock):
    booking = await book(world)
    clock.now = START
    assert (await world["organiser"].post(f"/bookings/{booking['id']}/check-in")).status_code == 200

    assert await sweep(engine, START + timedelta(hours=1)) == []


async def test_one_missed_session_of_a_series_is_released_alone(engine, world, clock):
    booking = await book(world, recurrence="FREQ=WEEKLY;COUNT=3")

    await sweep(engine, START + timedelta(minutes=15))

    after = (await world["organiser"].get(f"/bookings/{booking['id']}")).json()
    assert after["state"] == "confirmed"
    assert [o["state"] for o in after["occurrences"]] == ["released", "confirmed", "confirmed"]
    clock.now = START + timedelta(days=7)
    assert (await world["organiser"].post(f"/bookings/{booking['id']}/check-in")).status_code == 200


async def test_spaces_without_check_in_are_never_released(make, engine, world):
    assert (await make.client.put(f"/venues/{world['room']['venue_id']}/policy", json={})).status_code == 200
    booking = await book(world)

    assert await sweep(engine, START + timedelta(hours=3)) == []
    response = await world["organiser"].post(f"/bookings/{booking['id']}/check-in")
    assert (response.status_code, response.json()["code"]) == (409, "checkin_closed")
