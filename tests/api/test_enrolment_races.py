"""However many residents race for seats, the database never gives out more than there are."""

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from booking.models import Application, EnrolmentPolicy
from tests.learning import add_resident, build_learning_world

RACERS = 200
SEATS = 20


async def residents(engine, clock, world, http, n: int):
    return [
        await add_resident(engine, clock.now, world.community, http=http, name=f"居民{i}", id_number=None)
        for i in range(n)
    ]


async def seats_taken(engine, class_id: int) -> tuple[int, int]:
    """(the policy's count, the enrolled applications): always equal."""
    async with engine.connect() as connection:
        counted = await connection.scalar(select(EnrolmentPolicy.enrolled).where(EnrolmentPolicy.class_id == class_id))
        held = await connection.scalar(
            select(func.count()).where(Application.class_id == class_id, Application.state == "enrolled")
        )
    return counted, held


async def open_class(client, world, clock, mode: str, seats: int) -> None:
    body = {
        "opens_at": (clock.now - timedelta(hours=1)).isoformat(),
        "closes_at": (clock.now + timedelta(days=7)).isoformat(),
        "seats": seats,
        "mode": mode,
    }
    assert (await client.put(f"/classes/{world.offer}/enrolment-policy", json=body)).status_code == 200


async def test_two_hundred_residents_racing_for_twenty_first_come_seats(make, as_user, client, engine, clock):
    world = await build_learning_world(make, as_user, engine, clock)
    await open_class(client, world, clock, "first_come", SEATS)
    people = await residents(engine, clock, world, client, RACERS)

    answers = await asyncio.gather(
        *(person.http.post(f"/classes/{world.offer}/applications", json={}) for person in people)
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * SEATS + [409] * (RACERS - SEATS)
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"class_full"}
    assert sorted(answer.json()["rank"] for answer in answers if answer.status_code == 201) == list(range(1, SEATS + 1))
    assert await seats_taken(engine, world.offer) == (SEATS, SEATS)


async def test_withdrawals_racing_with_promotions_never_overfill(make, as_user, client, engine, clock):
    world = await build_learning_world(make, as_user, engine, clock)
    await open_class(client, world, clock, "lottery", SEATS)
    people = await residents(engine, clock, world, client, 3 * SEATS)
    for person in people:
        assert (await person.http.post(f"/classes/{world.offer}/applications", json={})).status_code == 201
    clock.now += timedelta(days=8)
    assert (await client.post(f"/classes/{world.offer}/draw")).status_code == 200
    states = {p.user_id: (await p.http.get(f"/classes/{world.offer}/applications")).json()["state"] for p in people}
    holders = [p for p in people if states[p.user_id] == "enrolled"]
    waiting = [p for p in people if states[p.user_id] == "waitlisted"]
    assert len(holders) == SEATS

    # Half the seat holders and half the waitlist leave at once; every seat given up is refilled.
    leaving = holders[: SEATS // 2] + waiting[: SEATS // 2]
    answers = await asyncio.gather(*(p.http.delete(f"/classes/{world.offer}/applications") for p in leaving))

    assert {answer.status_code for answer in answers} == {200}
    assert await seats_taken(engine, world.offer) == (SEATS, SEATS)
    roster = (await client.get(f"/classes/{world.offer}/roster")).json()
    assert sum(entry["state"] == "waitlisted" for entry in roster) == 2 * SEATS - SEATS // 2 - SEATS // 2
