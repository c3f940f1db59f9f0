"""On PostgreSQL a resident's own application to a first-come class is two statements outside any
transaction: one read, one write that takes the seat, records the application and its audit row,
or does none of it. A lottery class, an agent and the counter keep the transactional path."""

import pytest
from sqlalchemy import func, select

from booking.models import Application, EnrolmentPolicy, LearningEvent
from tests.api.test_enrolment_races import open_class, residents
from tests.driver_statements import statements
from tests.learning import build_learning_world

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


async def written(engine, class_id: int) -> tuple[int, int, int]:
    """(seats counted, applications, audit rows) of the class."""
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(EnrolmentPolicy.enrolled).where(EnrolmentPolicy.class_id == class_id)),
            await connection.scalar(select(func.count()).where(Application.class_id == class_id)),
            await connection.scalar(select(func.count()).where(LearningEvent.class_id == class_id)),
        )


async def test_a_first_come_seat_is_one_read_and_one_write(make, as_user, client, engine, clock, monkeypatch):
    world = await build_learning_world(make, as_user, engine, clock)
    await open_class(client, world, clock, "first_come", 1)
    first, second = await residents(engine, clock, world, client, 2)
    applications = f"/classes/{world.offer}/applications"

    with statements(monkeypatch) as sent:
        enrolled = await first.http.post(applications, json={})
    assert enrolled.status_code == 201
    assert (enrolled.json()["state"], enrolled.json()["rank"], enrolled.json()["channel"]) == ("enrolled", 1, "self")
    assert sent == ["WITH", "WITH"]
    assert enrolled.json() == (await first.http.get(applications)).json()
    before = await written(engine, world.offer)

    with statements(monkeypatch) as sent:
        full = await second.http.post(applications, json={})
        again = await first.http.post(applications, json={})
    assert (full.status_code, full.json()["code"]) == (409, "class_full")
    assert (again.status_code, again.json()["code"]) == (409, "already_applied")
    assert sent == ["WITH", "WITH", "WITH"]  # the full class's read and write; the second try's read
    assert await written(engine, world.offer) == before


async def test_a_lottery_application_keeps_its_transaction(make, as_user, client, engine, clock, monkeypatch):
    world = await build_learning_world(make, as_user, engine, clock)
    await open_class(client, world, clock, "lottery", 5)
    (person,) = await residents(engine, clock, world, client, 1)
    seats, applications, audit = await written(engine, world.offer)

    with statements(monkeypatch) as sent:
        applied = await person.http.post(f"/classes/{world.offer}/applications", json={})
    assert (applied.status_code, applied.json()["state"]) == (201, "applied")
    assert sent[:2] == ["WITH", "BEGIN"]  # the read finds a lottery, then the transactional path
    assert await written(engine, world.offer) == (seats, applications + 1, audit + 1)
