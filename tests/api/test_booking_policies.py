"""The space's policy on the booking path: each rule refuses with its name and limit, quotas
at their edges, nothing written on refusal, and the space's own staff not held to it."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from booking.models import Booking, Occurrence
from tests.factories import Factory, at


@pytest.fixture
async def world(make, as_user):
    room = await make.space()
    venue = (await make.client.get(f"/venues/{room['venue_id']}")).json()
    group = await make.organisation()
    return {
        "room": room,
        "venue": venue,
        "group": group,
        "organiser": await as_user("organiser", organisation_id=group["id"]),
        "manager": await as_user("venue_manager", organisation_id=venue["owner_id"]),
        "admin": make.client,
    }


async def set_policy(make, world, **rules):
    response = await make.client.put(f"/spaces/{world['room']['id']}/policy", json=rules)
    assert response.status_code == 200, response.text


async def book(world, start: str, end: str, who: str = "organiser", **extra):
    body = Factory.booking_body(world["room"]["id"], world["group"]["id"], start, end, **extra)
    return await world[who].post("/bookings", json=body)


def violation(response, rule: str):
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["rule"]) == ("policy_violation", rule)
    return problem


async def counts(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(func.count()).select_from(Booking)),
            await connection.scalar(select(func.count()).select_from(Occurrence)),
        )


async def test_weekly_booking_quota_at_its_edge(make, engine, world):
    await set_policy(make, world, max_bookings_per_week=2)
    # 2027-03-01 is a Monday: the 1st and the 7th are the same week, the 8th the next.
    assert (await book(world, at(1, 9), at(1, 10))).status_code == 201
    assert (await book(world, at(7, 9), at(7, 10))).status_code == 201
    before = await counts(engine)

    third = await book(world, at(3, 9), at(3, 10))

    problem = violation(third, "max_bookings_per_week")
    assert (problem["limit"], problem["period"], problem["used"]) == (2, "2027-W09", 3)
    assert await counts(engine) == before
    assert (await book(world, at(8, 9), at(8, 10))).status_code == 201


async def test_a_cancelled_booking_gives_its_quota_back(make, world):
    await set_policy(make, world, max_bookings_per_week=1)
    first = (await book(world, at(1, 9), at(1, 10))).json()
    violation(await book(world, at(2, 9), at(2, 10)), "max_bookings_per_week")

    assert (await world["organiser"].post(f"/bookings/{first['id']}/cancel")).status_code == 200

    assert (await book(world, at(2, 9), at(2, 10))).status_code == 201


async def test_monthly_minutes_quota_counts_a_whole_series(make, world):
    await set_policy(make, world, max_minutes_per_month=240)
    weekly = {"recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"}}  # four Mondays of March, an hour each

    assert (await book(world, at(1, 9), at(1, 10), **weekly)).status_code == 201
    violation(await book(world, at(2, 9), at(2, 10)), "max_minutes_per_month")
    # District administrators over the venue are its staff too: not held to its policy.
    assert (await book(world, at(2, 9), at(2, 10), who="admin")).status_code == 201


async def test_lead_time_and_horizon(make, world, clock):
    await set_policy(make, world, lead_time_min=60, horizon_days=30)
    clock.now = datetime.fromisoformat(at(1, 8))

    violation(await book(world, at(1, 8, 59), at(1, 10)), "lead_time_min")
    assert (await book(world, at(1, 9), at(1, 10))).status_code == 201
    problem = violation(await book(world, at(31, 9), at(31, 10)), "horizon_days")
    assert problem["limit"] == 30


async def test_duration_and_slot_step(make, world):
    await set_policy(make, world, min_duration_min=60, max_duration_min=180, slot_step_min=30)

    violation(await book(world, at(1, 9), at(1, 9, 30)), "min_duration_min")
    violation(await book(world, at(1, 9), at(1, 12, 30)), "max_duration_min")
    violation(await book(world, at(1, 9, 15), at(1, 10, 15)), "slot_step_min")
    assert (await book(world, at(1, 9, 30), at(1, 12, 30))).status_code == 201


async def test_who_may_book(make, world):
    await set_policy(make, world, allowed_organisation_kinds=["school", "community_centre"])

    problem = violation(await book(world, at(1, 9), at(1, 10)), "allowed_organisations")
    assert problem["limit"]["organisation_kinds"] == ["school", "community_centre"]

    await set_policy(make, world, allowed_organisation_ids=[world["group"]["id"]])
    assert (await book(world, at(1, 9), at(1, 10))).status_code == 201


async def test_a_series_breaking_the_policy_on_one_date_creates_nothing(make, engine, world):
    await set_policy(make, world, horizon_days=60)
    before = await counts(engine)

    response = await book(world, at(1, 9), at(1, 10), recurrence={"rrule": "FREQ=WEEKLY;COUNT=12"})

    violation(response, "horizon_days")
    assert await counts(engine) == before


async def test_cancellation_notice_binds_organisers_not_managers(make, world, clock):
    await set_policy(make, world, cancellation_notice_min=24 * 60)
    first = (await book(world, at(2, 9), at(2, 10))).json()
    second = (await book(world, at(3, 9), at(3, 10))).json()
    clock.now = datetime.fromisoformat(at(1, 10))

    problem = violation(await world["organiser"].post(f"/bookings/{first['id']}/cancel"), "cancellation_notice_min")
    assert problem["limit"] == 24 * 60
    assert (await world["organiser"].post(f"/bookings/{second['id']}/cancel")).status_code == 200
    assert (await world["manager"].post(f"/bookings/{first['id']}/cancel")).status_code == 200


async def test_moving_a_session_is_checked_against_the_policy(make, world):
    await set_policy(make, world, slot_step_min=60)
    booking = (await book(world, at(1, 9), at(1, 10))).json()
    occurrence_id = booking["occurrences"][0]["id"]
    path = f"/bookings/{booking['id']}/occurrences/{occurrence_id}/move"

    off_step = await world["organiser"].post(path, json={"starts_at": at(1, 9, 30), "ends_at": at(1, 10, 30)})
    violation(off_step, "slot_step_min")
    assert (await world["organiser"].post(path, json={"starts_at": at(1, 11), "ends_at": at(1, 12)})).status_code == 200


async def test_the_venue_policy_applies_until_the_space_overrides_it(make, world):
    venue_policy = {"max_duration_min": 60, "approval": "manual"}
    assert (await make.client.put(f"/venues/{world['venue']['id']}/policy", json=venue_policy)).status_code == 200

    violation(await book(world, at(1, 9), at(1, 11)), "max_duration_min")
    pending = await book(world, at(1, 9), at(1, 10))
    assert pending.json()["state"] == "pending"

    await set_policy(make, world, max_duration_min=120)
    longer = await book(world, at(2, 9), at(2, 11))
    assert (longer.status_code, longer.json()["state"]) == (201, "pending")  # approval still the venue's


async def test_a_weekly_quota_counts_a_session_whose_buffer_starts_in_the_week_before(make, as_user):
    # The room blocks two hours before each session: a session at 00:30 on Monday 1 March is
    # blocked from Sunday 22:30, in the previous week, and must still count in its own week.
    room = await make.space(buffer_before_min=120)
    group = await make.organisation()
    organiser = await as_user("organiser", organisation_id=group["id"])
    assert (await make.client.put(f"/spaces/{room['id']}/policy", json={"max_bookings_per_week": 1})).status_code == 200

    first = Factory.booking_body(room["id"], group["id"], at(1, 0, 30), at(1, 1, 30))
    assert (await organiser.post("/bookings", json=first)).status_code == 201
    second = Factory.booking_body(room["id"], group["id"], at(3, 9), at(3, 10))
    problem = violation(await organiser.post("/bookings", json=second), "max_bookings_per_week")
    assert (problem["limit"], problem["used"]) == (1, 2)
