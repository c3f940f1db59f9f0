"""Optimistic concurrency on bookings (ETag / If-Match) and the audit trail of every change."""

import pytest
from sqlalchemy import select

from booking.models import Booking, OutboxMessage
from tests.factories import Factory, at


@pytest.fixture
async def world(make, as_user):
    room = await make.space(capacity=30)
    group = await make.organisation()
    organiser = await as_user("organiser", organisation_id=group["id"])
    body = Factory.booking_body(
        room["id"], group["id"], at(1, 19), at(1, 21), recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}
    )
    created = await organiser.post("/bookings", json=body)
    assert created.status_code == 201
    return {"room": room, "group": group, "organiser": organiser, "booking": created.json(), "created": created}


async def test_get_gives_the_version_as_etag(world):
    booking = world["booking"]

    response = await world["organiser"].get(f"/bookings/{booking['id']}")

    assert response.headers["etag"] == f'"{booking["id"]}-1"' == world["created"].headers["etag"]
    assert response.json()["version"] == 1


async def test_patch_with_the_current_etag_changes_and_bumps_it(world):
    path = f"/bookings/{world['booking']['id']}"
    etag = (await world["organiser"].get(path)).headers["etag"]

    response = await world["organiser"].patch(path, json={"title": "书法（高级）"}, headers={"If-Match": etag})

    assert response.status_code == 200
    assert response.json()["title"] == "书法（高级）"
    assert response.headers["etag"] != etag and response.json()["version"] == 2


async def test_patch_with_a_stale_etag_is_412_and_changes_nothing(world, engine):
    path = f"/bookings/{world['booking']['id']}"
    stale = (await world["organiser"].get(path)).headers["etag"]
    assert (await world["organiser"].patch(path, json={"attendees": 12})).status_code == 200  # someone else

    response = await world["organiser"].patch(path, json={"title": "overwritten"}, headers={"If-Match": stale})
    cancel = await world["organiser"].post(f"{path}/cancel", headers={"If-Match": stale})

    assert (response.status_code, response.json()["code"]) == (412, "stale_version")
    assert response.json()["current_version"] == 2
    assert (cancel.status_code, cancel.json()["code"]) == (412, "stale_version")
    async with engine.connect() as connection:
        row = (await connection.execute(select(Booking.title, Booking.state, Booking.version))).one()
    assert tuple(row) == ("Calligraphy for seniors", "confirmed", 2)


async def test_patch_checks_capacity_and_fields(world):
    path = f"/bookings/{world['booking']['id']}"

    too_many = await world["organiser"].patch(path, json={"attendees": 31})
    unknown = await world["organiser"].patch(path, json={"space_id": 2})

    assert (too_many.status_code, too_many.json()["code"]) == (422, "capacity_exceeded")
    assert unknown.status_code == 422


async def test_every_change_is_in_the_history_with_who_and_why(world, clock):
    organiser, booking = world["organiser"], world["booking"]
    me = (await organiser.get("/auth/me")).json()["id"]
    path = f"/bookings/{booking['id']}"
    first, second, third = (o["id"] for o in booking["occurrences"])

    await organiser.post(f"{path}/occurrences/{first}/move", json={"starts_at": at(2, 19), "ends_at": at(2, 21)})
    await organiser.post(f"{path}/occurrences/{second}/cancel")
    await organiser.post(f"{path}/occurrences", json={"starts_at": "2027-03-08T11:00:00Z"})
    await organiser.patch(path, json={"attendees": 20})
    await organiser.post(f"{path}/cancel")

    history = (await organiser.get(f"{path}/history")).json()
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in history["items"]] == [
        ("confirmed", None, "confirmed"),
        ("moved", "confirmed", "confirmed"),
        ("cancelled", "confirmed", "confirmed"),
        ("added", "confirmed", "confirmed"),
        ("updated", None, None),
        ("cancelled", "confirmed", "cancelled"),
    ]
    assert {e["actor_user_id"] for e in history["items"]} == {me}
    assert first in history["items"][1]["occurrence_ids"]
    assert history["items"][2]["occurrence_ids"] == [second]
    assert history["items"][4]["reason"] == "changed attendees"
    assert history["items"][0]["reason"] == "automatic approval"
    assert third in history["items"][5]["occurrence_ids"]


async def test_history_is_private_to_those_who_see_the_booking(make, world, as_user, anonymous):
    path = f"/bookings/{world['booking']['id']}/history"
    other = await make.organisation(name="另一个小组")
    stranger = await as_user("organiser", organisation_id=other["id"])

    assert (await anonymous.get(path)).status_code == 401
    assert (await stranger.get(path)).status_code == 404


async def test_the_outbox_gets_published_events_only(world, engine):
    organiser, booking = world["organiser"], world["booking"]
    path = f"/bookings/{booking['id']}"
    await organiser.patch(path, json={"title": "renamed"})
    await organiser.post(
        f"{path}/occurrences/{booking['occurrences'][0]['id']}/move",
        json={"starts_at": at(2, 19), "ends_at": at(2, 21)},
    )

    async with engine.connect() as connection:
        messages = (
            await connection.execute(
                select(OutboxMessage.topic, OutboxMessage.payload, OutboxMessage.delivered_at).order_by(
                    OutboxMessage.id
                )
            )
        ).all()
    assert [m.topic for m in messages] == ["booking.confirmed", "booking.moved"]
    assert messages[1].payload["booking_id"] == booking["id"]
    assert messages[1].payload["organisation_id"] == world["group"]["id"]
    assert all(m.delivered_at is None for m in messages)
