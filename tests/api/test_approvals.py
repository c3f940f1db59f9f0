"""Manual approval: pending requests compete, approving one goes through the database's
no-overlap rule and rejects the others; the manager's queue; who may decide."""

import asyncio

import pytest
from sqlalchemy import select

from booking.models import Booking, OutboxMessage
from tests.factories import Factory, at


@pytest.fixture
async def world(make):
    """A school's room that needs approval, the school's manager, and two learning groups' organisers."""
    room = await make.space()
    venue = (await make.client.get(f"/venues/{room['venue_id']}")).json()
    school_id = venue["owner_id"]
    assert (await make.client.put(f"/spaces/{room['id']}/policy", json={"approval": "manual"})).status_code == 200
    groups = [await make.organisation(name=f"学习小组{i}") for i in range(2)]
    return {"room": room, "school_id": school_id, "groups": groups}


async def organisers(as_user, world):
    return [await as_user("organiser", organisation_id=group["id"]) for group in world["groups"]]


async def request(http, world, group: int, start: str | None = None, end: str | None = None):
    start, end = start or at(1, 19), end or at(1, 21)
    body = Factory.booking_body(world["room"]["id"], world["groups"][group]["id"], start, end)
    return await http.post("/bookings", json=body)


async def test_a_request_waits_pending_and_holds_nothing(make, as_user, world):
    first, second = await organisers(as_user, world)

    one = await request(first, world, 0)
    two = await request(second, world, 1)  # the same time: pending requests may compete

    assert (one.status_code, one.json()["state"]) == (201, "pending")
    assert (two.status_code, two.json()["state"]) == (201, "pending")
    assert [o["state"] for o in one.json()["occurrences"]] == ["pending"]


async def test_the_queue_lists_requests_oldest_first_with_competitors(make, as_user, clock, world):
    first, second = await organisers(as_user, world)
    one = (await request(first, world, 0)).json()
    two = (await request(second, world, 1, at(1, 20), at(1, 22))).json()
    three = (await request(second, world, 1, at(2, 9), at(2, 10))).json()
    manager = await as_user("venue_manager", organisation_id=world["school_id"])

    queue = (await manager.get("/approvals")).json()

    assert [item["booking"]["id"] for item in queue["items"]] == [one["id"], two["id"], three["id"]]
    assert [item["competing_booking_ids"] for item in queue["items"]] == [[two["id"]], [one["id"]], []]
    other_manager = await as_user("venue_manager", organisation_id=world["groups"][0]["id"])
    assert (await other_manager.get("/approvals")).json()["items"] == []


async def test_approving_one_rejects_the_competitors_with_a_reason(make, as_user, world):
    first, second = await organisers(as_user, world)
    one = (await request(first, world, 0)).json()
    two = (await request(second, world, 1, at(1, 20), at(1, 22))).json()
    manager = await as_user("venue_manager", organisation_id=world["school_id"])

    approved = await manager.post(f"/bookings/{one['id']}/approve", json={"reason": "regular group"})

    assert (approved.status_code, approved.json()["state"]) == (200, "confirmed")
    assert approved.json()["occurrences"][0]["state"] == "confirmed"
    loser = (await second.get(f"/bookings/{two['id']}")).json()
    assert loser["state"] == "rejected"
    history = (await second.get(f"/bookings/{two['id']}/history")).json()["items"]
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in history] == [
        ("requested", None, "pending"),
        ("rejected", "pending", "rejected"),
    ]
    assert history[-1]["reason"] == f"booking {one['id']} was approved for an overlapping time"
    assert history[-1]["actor_user_id"] is None  # the system decided, as a consequence
    # The slot is now held: a new request for it fails at once.
    late = await request(second, world, 1)
    assert (late.status_code, late.json()["code"]) == (409, "booking_conflict")


async def test_only_the_colliding_dates_of_a_competing_series_are_rejected(make, as_user, world):
    first, second = await organisers(as_user, world)
    one = (await request(first, world, 0)).json()
    series_body = Factory.booking_body(
        world["room"]["id"],
        world["groups"][1]["id"],
        at(1, 20),
        at(1, 22),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
    )
    series = (await second.post("/bookings", json=series_body)).json()
    manager = await as_user("venue_manager", organisation_id=world["school_id"])

    assert (await manager.post(f"/bookings/{one['id']}/approve")).status_code == 200

    after = (await second.get(f"/bookings/{series['id']}")).json()
    assert after["state"] == "pending"
    assert [o["state"] for o in after["occurrences"]] == ["rejected", "pending", "pending"]
    approved = await manager.post(f"/bookings/{series['id']}/approve")
    assert [o["state"] for o in approved.json()["occurrences"]] == ["rejected", "confirmed", "confirmed"]


async def test_approval_is_refused_while_a_confirmed_booking_holds_the_time(make, as_user, engine, world):
    first, _ = await organisers(as_user, world)
    pending = (await request(first, world, 0)).json()
    # The school books the room itself for an overlapping time: staff need no approval.
    own = await make.book(world["room"]["id"], world["school_id"], at(1, 20), at(1, 21))
    assert own.json()["state"] == "confirmed"
    manager = await as_user("venue_manager", organisation_id=world["school_id"])

    response = await manager.post(f"/bookings/{pending['id']}/approve")

    assert (response.status_code, response.json()["code"]) == (409, "booking_conflict")
    assert [c["booking_id"] for c in response.json()["conflicts"]] == [own.json()["id"]]
    async with engine.connect() as connection:
        assert await connection.scalar(select(Booking.state).where(Booking.id == pending["id"])) == "pending"
    queue = (await manager.get("/approvals")).json()["items"]
    assert [c["booking_id"] for c in queue[0]["conflicts"]] == [own.json()["id"]]


async def test_a_request_for_a_held_time_is_refused_at_once(make, as_user, world):
    first, _ = await organisers(as_user, world)
    await make.book(world["room"]["id"], world["school_id"], at(1, 19), at(1, 21))

    response = await request(first, world, 0)

    assert (response.status_code, response.json()["code"]) == (409, "booking_conflict")


async def test_reject_needs_a_reason_and_is_final(make, as_user, world):
    first, _ = await organisers(as_user, world)
    pending = (await request(first, world, 0)).json()
    manager = await as_user("venue_manager", organisation_id=world["school_id"])

    no_reason = await manager.post(f"/bookings/{pending['id']}/reject", json={"reason": "  "})
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "invalid_request")
    missing = await manager.post(f"/bookings/{pending['id']}/reject", json={})
    assert missing.status_code == 422

    rejected = await manager.post(f"/bookings/{pending['id']}/reject", json={"reason": "the gym floor is being redone"})
    assert (rejected.status_code, rejected.json()["state"]) == (200, "rejected")
    assert rejected.json()["occurrences"][0]["state"] == "rejected"
    again = await manager.post(f"/bookings/{pending['id']}/approve")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state_transition")
    history = (await first.get(f"/bookings/{pending['id']}/history")).json()["items"]
    assert history[-1]["reason"] == "the gym floor is being redone"


async def test_only_the_space_s_managers_decide(make, as_user, engine, world):
    first, second = await organisers(as_user, world)
    pending = (await request(first, world, 0)).json()
    other_school = await make.organisation(name="临江第二中学", kind="school")
    other_manager = await as_user("venue_manager", organisation_id=other_school["id"])

    own = await first.post(f"/bookings/{pending['id']}/approve")
    foreign = await other_manager.post(f"/bookings/{pending['id']}/approve")
    stranger = await second.post(f"/bookings/{pending['id']}/reject", json={"reason": "mine"})

    assert (own.status_code, own.json()["code"]) == (403, "forbidden")
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    async with engine.connect() as connection:
        assert await connection.scalar(select(Booking.state).where(Booking.id == pending["id"])) == "pending"


async def test_two_managers_approving_competitors_at_once_confirm_exactly_one(make, as_user, engine, world):
    """Run on PostgreSQL concurrently (separate connections); SQLite serialises the writers."""
    first, second = await organisers(as_user, world)
    results = []
    for _ in range(5):
        start, end = at(3 + len(results), 19), at(3 + len(results), 21)
        one = (await request(first, world, 0, start, end)).json()
        two = (await request(second, world, 1, start, end)).json()
        managers = [await as_user("venue_manager", organisation_id=world["school_id"]) for _ in range(2)]

        answers = await asyncio.gather(
            managers[0].post(f"/bookings/{one['id']}/approve"), managers[1].post(f"/bookings/{two['id']}/approve")
        )

        async with engine.connect() as connection:
            states = sorted(
                (await connection.execute(select(Booking.state).where(Booking.id.in_([one["id"], two["id"]]))))
                .scalars()
                .all()
            )
        assert states == ["confirmed", "rejected"]
        assert sorted(answer.status_code for answer in answers) == [200, 409]
        results.append(answers)


async def test_every_transition_reaches_the_outbox(make, as_user, engine, world):
    first, second = await organisers(as_user, world)
    one = (await request(first, world, 0)).json()
    await request(second, world, 1)
    manager = await as_user("venue_manager", organisation_id=world["school_id"])
    await manager.post(f"/bookings/{one['id']}/approve")
    await first.post(f"/bookings/{one['id']}/cancel")

    async with engine.connect() as connection:
        topics = (await connection.execute(select(OutboxMessage.topic).order_by(OutboxMessage.id))).scalars().all()
    assert topics == [
        "booking.requested",
        "booking.requested",
        "booking.confirmed",
        "booking.rejected",
        "booking.cancelled",
    ]
