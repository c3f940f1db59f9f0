"""Booking policies over HTTP: reading, replacing, inheriting, and who may change them."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import RULE_FIELDS, Booking, Occurrence
from booking.services.policies import organisation_sessions, policy_for

UNSET = dict.fromkeys(RULE_FIELDS)
DEFAULTS = {**UNSET, "approval": "auto", "checkin_required": False}


@pytest.fixture
async def hall(make):
    """A divisible hall with two courts; returns (venue_id, hall, courts)."""
    hall, courts = await make.hall()
    return hall["venue_id"], hall, courts


async def put_policy(http, path: str, rules: dict):
    return await http.put(f"{path}/policy", json=rules)


async def own_rules(http, path: str) -> dict:
    response = await http.get(f"{path}/policy")
    assert response.status_code == 200, response.text
    return response.json()["own"]


async def test_a_place_without_rules_limits_nothing_and_confirms_at_once(make, hall):
    venue_id, hall_space, _ = hall

    venue = (await make.client.get(f"/venues/{venue_id}/policy")).json()
    space = (await make.client.get(f"/spaces/{hall_space['id']}/policy")).json()

    assert venue == {"holder": "venue", "holder_id": venue_id, "own": UNSET, "effective": DEFAULTS}
    assert space == {"holder": "space", "holder_id": hall_space["id"], "own": UNSET, "effective": DEFAULTS}


async def test_a_venue_sets_its_rules_and_reads_them_back(make, hall):
    venue_id, _, _ = hall
    rules = {"approval": "manual", "slot_step_min": 30, "horizon_days": 90, "allowed_organisation_kinds": ["school"]}

    response = await put_policy(make.client, f"/venues/{venue_id}", rules)

    assert response.status_code == 200, response.text
    assert response.json()["own"] == {**UNSET, **rules}
    assert response.json()["effective"] == {**DEFAULTS, **rules}
    assert (await make.client.get(f"/venues/{venue_id}/policy")).json() == response.json()


async def test_spaces_override_their_venue_and_the_spaces_they_are_part_of_field_by_field(make, hall):
    venue_id, hall_space, (court, _) = hall
    await put_policy(make.client, f"/venues/{venue_id}", {"approval": "manual", "max_duration_min": 240})
    await put_policy(make.client, f"/spaces/{hall_space['id']}", {"max_duration_min": 120, "slot_step_min": 30})
    await put_policy(make.client, f"/spaces/{court['id']}", {"slot_step_min": 15, "checkin_required": True})

    court_policy = (await make.client.get(f"/spaces/{court['id']}/policy")).json()
    hall_policy = (await make.client.get(f"/spaces/{hall_space['id']}/policy")).json()

    assert court_policy["own"] == {**UNSET, "slot_step_min": 15, "checkin_required": True}
    assert court_policy["effective"] == {
        **DEFAULTS,
        "approval": "manual",  # the venue's
        "max_duration_min": 120,  # the hall's
        "slot_step_min": 15,  # its own
        "checkin_required": True,
    }
    assert hall_policy["effective"] == {**DEFAULTS, "approval": "manual", "max_duration_min": 120, "slot_step_min": 30}


async def test_a_put_replaces_every_rule_and_an_empty_one_inherits_everything_again(make, hall):
    venue_id, hall_space, _ = hall
    path = f"/spaces/{hall_space['id']}"
    await put_policy(make.client, f"/venues/{venue_id}", {"lead_time_min": 60})
    await put_policy(make.client, path, {"lead_time_min": 0, "max_duration_min": 60})

    await put_policy(make.client, path, {"slot_step_min": 30})
    assert await own_rules(make.client, path) == {**UNSET, "slot_step_min": 30}

    emptied = await put_policy(make.client, path, {})
    assert emptied.json()["own"] == UNSET
    assert emptied.json()["effective"] == {**DEFAULTS, "lead_time_min": 60}


async def test_allowed_organisations_must_exist(make, hall):
    venue_id, _, _ = hall
    school = await make.organisation(kind="school", name="临江小学")

    listed = await put_policy(make.client, f"/venues/{venue_id}", {"allowed_organisation_ids": [school["id"]]})
    unknown = await put_policy(make.client, f"/venues/{venue_id}", {"allowed_organisation_ids": [school["id"], 9999]})

    assert listed.json()["own"]["allowed_organisation_ids"] == [school["id"]]
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_request")
    assert unknown.json()["errors"][0]["field"] == "allowed_organisation_ids"
    assert "9999" in unknown.json()["detail"]
    assert (await own_rules(make.client, f"/venues/{venue_id}"))["allowed_organisation_ids"] == [school["id"]]


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"slot_step_min": 7}, "slot_step_min"),  # does not divide a day
        ({"slot_step_min": 0}, "slot_step_min"),
        ({"slot_step_min": 1441}, "slot_step_min"),
        ({"min_duration_min": 90, "max_duration_min": 60}, "max_duration_min"),
        ({"lead_time_min": -1}, "lead_time_min"),
        ({"horizon_days": 10**9}, "horizon_days"),
        ({"allowed_organisation_kinds": ["pirates"]}, "allowed_organisation_kinds"),
        ({"approval": "sometimes"}, "approval"),
        ({"max_bookings_per_weak": 3}, "max_bookings_per_weak"),  # misspelt rules are refused, not ignored
    ],
)
async def test_invalid_rules_are_refused_and_the_old_ones_kept(make, hall, rules, field):
    _, hall_space, _ = hall
    path = f"/spaces/{hall_space['id']}"
    await put_policy(make.client, path, {"min_duration_min": 30})

    response = await put_policy(make.client, path, rules)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), response.text
    assert field in {error["field"].split(".")[0] for error in response.json()["errors"]}
    assert await own_rules(make.client, path) == {**UNSET, "min_duration_min": 30}


async def test_only_the_places_managers_may_change_its_rules(make, hall, as_user, anonymous):
    venue_id, hall_space, _ = hall
    owner_id = (await make.client.get(f"/venues/{venue_id}")).json()["owner_id"]
    other = await make.organisation(kind="school", name="临江第二中学")
    manager = await as_user("venue_manager", organisation_id=owner_id)
    stranger = await as_user("venue_manager", organisation_id=other["id"])

    for path in (f"/venues/{venue_id}", f"/spaces/{hall_space['id']}"):
        refused = await put_policy(stranger, path, {"max_duration_min": 60})
        unsigned = await put_policy(anonymous, path, {"max_duration_min": 60})
        allowed = await put_policy(manager, path, {"max_duration_min": 90})

        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "unauthorized")
        assert allowed.status_code == 200, allowed.text
        # Policies are public rules: anyone may read them.
        assert (await own_rules(anonymous, path))["max_duration_min"] == 90


async def test_unknown_places_are_not_found(make, as_user):
    for path in ("/venues/9999", "/spaces/9999"):
        read = await make.client.get(f"{path}/policy")
        written = await put_policy(make.client, path, {"max_duration_min": 60})

        assert (read.status_code, read.json()["code"]) == (404, "not_found")
        assert (written.status_code, written.json()["code"]) == (404, "not_found")


# The service functions the booking rules are checked with


async def test_policy_for_merges_the_space_its_parents_and_its_venue(make, hall, engine):
    venue_id, hall_space, (court, _) = hall
    await put_policy(make.client, f"/venues/{venue_id}", {"horizon_days": 60, "max_duration_min": 240})
    await put_policy(make.client, f"/spaces/{hall_space['id']}", {"max_duration_min": 120})

    async with AsyncSession(engine) as session:
        policy = await policy_for(session, court["id"], venue_id)

    assert (policy.horizon_days, policy.max_duration_min, policy.slot_step_min) == (60, 120, None)


MONDAY = datetime(2027, 3, 1, 10, tzinfo=UTC)


def booking(space_id: int, organisation_id: int, state: str = "confirmed") -> Booking:
    return Booking(
        space_id=space_id,
        organisation_id=organisation_id,
        title="Badminton club",
        starts_at=MONDAY,
        ends_at=MONDAY + timedelta(hours=1),
        state=state,
        created_at=MONDAY,
        updated_at=MONDAY,
    )


def occurrence(booking: Booking, leaf_id: int, day: int, state: str = "confirmed") -> Occurrence:
    starts_at = MONDAY + timedelta(days=day)
    return Occurrence(
        booking_id=booking.id,
        space_id=leaf_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        blocked_start_at=starts_at,
        blocked_end_at=starts_at + timedelta(hours=1),
        state=state,
        original_starts_at=starts_at,
    )


async def test_organisation_sessions_counts_each_live_session_once(make, hall, engine):
    _, hall_space, courts = hall
    club, rival = (await make.organisation())["id"], (await make.organisation(name="羽毛球队"))["id"]
    whole_hall, on_a_court = booking(hall_space["id"], club), booking(courts[0]["id"], club)
    rivals = booking(hall_space["id"], rival)
    async with AsyncSession(engine) as session, session.begin():
        session.add_all([whole_hall, on_a_court, rivals])
        await session.flush()
        states = {0: "confirmed", 1: "pending", 2: "completed", 3: "cancelled", 4: "released", 8: "confirmed"}
        # Booking the whole hall holds every court: one row per court for each session.
        session.add_all(
            occurrence(whole_hall, court["id"], day, state) for court in courts for day, state in states.items()
        )
        session.add(occurrence(rivals, courts[0]["id"], 5))
        session.add(occurrence(on_a_court, courts[0]["id"], 6))  # booked for the court, not the hall

    async with AsyncSession(engine) as session:
        found = await organisation_sessions(
            session, space_id=hall_space["id"], organisation_id=club, start=MONDAY, end=MONDAY + timedelta(days=8)
        )

    assert found == [(MONDAY + timedelta(days=day), MONDAY + timedelta(days=day, hours=1)) for day in (0, 1, 2)]


async def test_a_moved_session_counts_once_at_its_new_time(make, hall, engine):
    _, hall_space, courts = hall
    club = (await make.organisation())["id"]
    series = booking(hall_space["id"], club)
    async with AsyncSession(engine) as session, session.begin():
        session.add(series)
        await session.flush()
        for court in courts:
            session.add(occurrence(series, court["id"], 0, "moved"))
            moved = occurrence(series, court["id"], 1)
            moved.original_starts_at = MONDAY
            session.add(moved)

    async with AsyncSession(engine) as session:
        found = await organisation_sessions(
            session, space_id=hall_space["id"], organisation_id=club, start=MONDAY, end=MONDAY + timedelta(days=7)
        )

    assert found == [(MONDAY + timedelta(days=1), MONDAY + timedelta(days=1, hours=1))]
