"""Residents' profiles and agents, enrolment policies, applications, the lottery, the waitlist and
classes below their minimum, through the API on both databases. Every refusal changes nothing."""

import asyncio
import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text, update

from booking.models import Application, ClassBooking, EnrolmentPolicy, LearningEvent, OutboxMessage, Resident
from booking.rules import lottery
from tests.learning import add_resident, build_learning_world, enrol
from tests.test_cli import run_cli

TERM_START = date(2027, 3, 1)
COUNTED = ("applications", "learning_events", "outbox", "enrolment_policies", "residents", "resident_agents")


@pytest.fixture
async def world(make, as_user, engine, clock):
    return await build_learning_world(make, as_user, engine, clock)


async def counts(engine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {table: await connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in COUNTED}


async def refused(engine, response, status: int, code: str, before: dict[str, int]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert await counts(engine) == before


def window(clock, *, days: int = 7, **fields):
    return {
        "opens_at": (clock.now - timedelta(hours=1)).isoformat(),
        "closes_at": (clock.now + timedelta(days=days)).isoformat(),
        "seats": 3,
        **fields,
    }


async def open_enrolment(client, world, clock, **fields) -> dict:
    response = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, **fields))
    assert response.status_code == 200, response.text
    return response.json()


# ---- residents ---------------------------------------------------------------------------------------


async def test_a_resident_keeps_a_profile_without_their_id_number(as_user, world, engine):
    resident = await as_user("resident")
    body = {
        "display_name": "张桂兰",
        "home_region_id": world.community,
        "birth_year": 1952,
        "id_number": "41070219520304123x",
    }
    saved = await resident.put("/me/resident", json=body)

    assert saved.status_code == 200, saved.text
    profile = saved.json()
    assert profile["id_last4"] == "123X"
    assert "id_number" not in profile and "id_hash" not in profile
    async with engine.connect() as connection:
        row = (await connection.execute(select(Resident.id_salt, Resident.id_hash))).one()
    assert row.id_hash == hashlib.sha256(f"{row.id_salt}41070219520304123X".encode()).hexdigest()
    assert (await resident.get("/me/resident")).json() == profile


async def test_profiles_are_for_resident_accounts_and_bad_ones_are_refused(as_user, world, engine):
    organiser = await as_user("organiser", organisation_id=world.school)
    resident = await as_user("resident")
    before = await counts(engine)
    body = {"display_name": "张桂兰", "home_region_id": world.community, "birth_year": 1952}

    await refused(engine, await organiser.put("/me/resident", json=body), 403, "not_a_resident", before)
    await refused(engine, await resident.get("/me/resident"), 403, "not_a_resident", before)
    bad_id = {**body, "id_number": "12345"}
    await refused(engine, await resident.put("/me/resident", json=bad_id), 422, "invalid_request", before)
    no_region = {**body, "home_region_id": 99999}
    await refused(engine, await resident.put("/me/resident", json=no_region), 422, "invalid_request", before)
    bad_phone = {**body, "phone": "call me maybe"}
    await refused(engine, await resident.put("/me/resident", json=bad_phone), 422, "invalid_request", before)


async def test_counter_staff_register_a_resident_who_has_no_password_yet(as_user, world, engine):
    counter = await as_user("venue_manager", organisation_id=world.school)
    resident = await as_user("resident")
    body = {"username": "wang-laoshi-mother", "display_name": "王大娘", "home_region_id": world.community}
    registered = await counter.post("/residents", json={**body, "birth_year": 1948})

    assert registered.status_code == 201, registered.text
    assert registered.json()["display_name"] == "王大娘"
    before = await counts(engine)
    await refused(
        engine, await resident.post("/residents", json={**body, "birth_year": 1948}), 403, "forbidden", before
    )


# ---- applying ---------------------------------------------------------------------------------------


async def test_a_lottery_application_waits_for_the_draw_with_its_tier(client, world, engine, clock):
    await open_enrolment(client, world, clock)
    near = await add_resident(engine, clock.now, world.community, http=client)
    far = await add_resident(engine, clock.now, world.other_community, http=client, name="赵敏")

    mine = await near.http.post(f"/classes/{world.offer}/applications", json={})
    theirs = await far.http.post(f"/classes/{world.offer}/applications", json={})

    assert mine.status_code == 201, mine.text
    assert (mine.json()["state"], mine.json()["tier"], mine.json()["channel"]) == ("applied", 0, "self")
    assert theirs.json()["tier"] == 1  # not in the preferred region, new to the class
    assert (await near.http.get(f"/classes/{world.offer}/applications")).json() == mine.json()
    assert [a["id"] for a in (await near.http.get("/me/applications")).json()] == [mine.json()["id"]]


async def test_every_refusal_to_apply_has_its_code_and_writes_nothing(as_user, client, world, engine, clock):
    await open_enrolment(client, world, clock, min_age=60)
    young = await add_resident(engine, clock.now, world.community, http=client, birth_year=1990)
    person = await add_resident(engine, clock.now, world.community, http=client)
    no_profile = await as_user("resident")
    path = f"/classes/{world.offer}/applications"
    assert (await person.http.post(path, json={})).status_code == 201
    before = await counts(engine)

    await refused(engine, await person.http.post(path, json={}), 409, "already_applied", before)
    await refused(engine, await young.http.post(path, json={}), 403, "not_eligible", before)
    await refused(engine, await no_profile.post(path, json={}), 403, "not_a_resident", before)
    clock.now += timedelta(days=8)
    await refused(engine, await young.http.post(path, json={}), 409, "enrolment_closed", before)


async def test_the_window_bounds_applications_at_both_ends(client, world, engine, clock):
    opens = clock.now + timedelta(days=1)
    body = {"opens_at": opens.isoformat(), "closes_at": (opens + timedelta(days=3)).isoformat(), "seats": 3}
    assert (await client.put(f"/classes/{world.offer}/enrolment-policy", json=body)).status_code == 200
    person = await add_resident(engine, clock.now, world.community, http=client)
    path = f"/classes/{world.offer}/applications"
    before = await counts(engine)

    await refused(engine, await person.http.post(path, json={}), 409, "enrolment_closed", before)
    clock.now = opens
    assert (await person.http.post(path, json={})).status_code == 201
    clock.now = opens + timedelta(days=3)
    other = await add_resident(engine, clock.now, world.community, http=client, name="钱多多")
    before = await counts(engine)
    await refused(engine, await other.http.post(path, json={}), 409, "enrolment_closed", before)


async def test_the_term_limit_counts_seats_held_this_term(make, client, world, engine, clock):
    await open_enrolment(client, world, clock, mode="first_come", term_limit=1)
    person = await add_resident(engine, clock.now, world.community, http=client)
    second = (
        await client.post(
            "/classes",
            json={
                "title": "太极拳",
                "organisation_id": world.school,
                "term_start": "2027-03-01",
                "term_end": "2027-03-31",
            },
        )
    ).json()
    await enrol(engine, second["id"], person.user_id, clock.now, TERM_START)  # no policy needed for the count
    before = await counts(engine)

    response = await person.http.post(f"/classes/{world.offer}/applications", json={})
    await refused(engine, response, 409, "term_limit_reached", before)


async def test_first_come_enrols_at_once_and_never_oversells(client, world, engine, clock):
    await open_enrolment(client, world, clock, mode="first_come", seats=2)
    people = [await add_resident(engine, clock.now, world.community, http=client, name=f"居民{i}") for i in range(3)]
    path = f"/classes/{world.offer}/applications"
    first, second = [await person.http.post(path, json={}) for person in people[:2]]
    assert [first.json()["state"], second.json()["state"]] == ["enrolled", "enrolled"]
    assert [first.json()["rank"], second.json()["rank"]] == [1, 2]
    before = await counts(engine)

    await refused(engine, await people[2].http.post(path, json={}), 409, "class_full", before)
    assert (await people[0].http.delete(path)).json()["state"] == "withdrawn"
    assert (await people[2].http.post(path, json={})).json()["state"] == "enrolled"
    policy = (await client.get(f"/classes/{world.offer}/enrolment-policy")).json()
    assert (policy["enrolled"], policy["seats_left"]) == (2, 0)


async def test_an_agent_and_the_counter_apply_for_a_resident_and_the_channel_is_recorded(
    as_user, client, world, engine, clock
):
    await open_enrolment(client, world, clock)
    mother = await add_resident(engine, clock.now, world.community, http=client)
    daughter = await as_user("resident")
    daughter_name = (await daughter.get("/auth/me")).json()["username"]
    counter = await as_user("venue_manager", organisation_id=world.school)
    stranger = await as_user("organiser", organisation_id=world.school)
    path = f"/classes/{world.offer}/applications"
    before = await counts(engine)

    # Not named as an agent yet: the resident does not exist for them.
    response = await daughter.post(path, json={"resident_id": mother.public_id})
    await refused(engine, response, 404, "not_found", before)
    assert (await mother.http.post("/me/agents", json={"username": daughter_name})).status_code == 201
    by_agent = await daughter.post(path, json={"resident_id": mother.public_id})
    assert by_agent.status_code == 201 and by_agent.json()["channel"] == "agent"
    withdrawn = await counter.delete(path, params={"resident_id": mother.public_id})
    assert withdrawn.json()["state"] == "withdrawn"
    before = await counts(engine)
    await refused(engine, await stranger.post(path, json={"resident_id": mother.public_id}), 404, "not_found", before)
    by_counter = await counter.post(path, json={"resident_id": mother.public_id})
    assert by_counter.json()["channel"] == "counter"
    async with engine.connect() as connection:
        trail = await connection.execute(select(LearningEvent.kind, LearningEvent.channel).order_by(LearningEvent.id))
        assert [tuple(row) for row in trail if row[0] != "policy_set"] == [
            ("applied", "agent"),
            ("withdrawn", "counter"),
            ("applied", "counter"),
        ]


# ---- the draw ---------------------------------------------------------------------------------------


async def apply_all(world, people) -> list[dict]:
    return [(await p.http.post(f"/classes/{world.offer}/applications", json={})).json() for p in people]


async def test_the_published_draw_is_the_seeded_order_and_cannot_be_repeated(client, world, engine, clock):
    policy = await open_enrolment(client, world, clock, seats=2)
    assert policy["seed"] is None and len(policy["seed_commitment"]) == 64
    near = [await add_resident(engine, clock.now, world.community, http=client, name=f"东{i}") for i in range(2)]
    far = [await add_resident(engine, clock.now, world.other_community, http=client, name=f"西{i}") for i in range(3)]
    applications = await apply_all(world, near + far)
    before_close = (await client.get(f"/classes/{world.offer}/draw")).json()
    assert before_close["seed"] is None and before_close["ranked"] == []
    early = await client.post(f"/classes/{world.offer}/draw")
    assert early.status_code == 409

    clock.now += timedelta(days=8)
    drawn = await client.post(f"/classes/{world.offer}/draw")

    assert drawn.status_code == 200, drawn.text
    draw = drawn.json()
    assert lottery.commitment(draw["seed"]) == policy["seed_commitment"]
    entries = [lottery.Entry(a["id"], a["tier"]) for a in applications]
    assert [item["application"] for item in draw["ranked"]] == [
        e.public_id for e in lottery.order(draw["seed"], entries)
    ]
    assert [item["outcome"] for item in draw["ranked"]] == ["seat", "seat", "waitlist", "waitlist", "waitlist"]
    assert {item["application"] for item in draw["ranked"][:2]} == {a["id"] for a in applications[:2]}  # tier 0 first
    published = [
        lottery.Ranked(i["rank"], i["application"], i["tier"], lottery.Outcome(i["outcome"])) for i in draw["ranked"]
    ]
    assert lottery.verify(draw["seed"], policy["seed_commitment"], published, 2) == []
    assert (await client.get(f"/classes/{world.offer}/draw")).json() == draw
    again = await client.post(f"/classes/{world.offer}/draw")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state_transition"
    mine = (await far[0].http.get(f"/classes/{world.offer}/applications")).json()
    assert mine["state"] == "waitlisted" and mine["waitlist_position"] in (1, 2, 3)
    changed = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, seats=3))
    assert changed.status_code == 409  # the drawn result is final


# The server's own loop is SQLite's; on PostgreSQL the same sweep is a periodic job of the queue,
# once a minute by the wall clock (tests/test_background.py).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"sweep_every_s": 0.05}])
async def test_the_app_s_own_sweeper_draws_a_lottery_once_its_window_closed(client, world, engine, clock):
    policy = await open_enrolment(client, world, clock, seats=1)
    people = [await add_resident(engine, clock.now, world.community, http=client, name=f"南{i}") for i in range(2)]
    await apply_all(world, people)
    await asyncio.sleep(0.2)  # a few sweeps while the window is open draw nothing
    assert (await client.get(f"/classes/{world.offer}/draw")).json()["seed"] is None

    clock.now += timedelta(days=8)
    for _ in range(600):  # every 0.05 s: up to 30 s on a loaded machine
        draw = (await client.get(f"/classes/{world.offer}/draw")).json()
        if draw["seed"] is not None:
            break
        await asyncio.sleep(0.05)

    assert lottery.commitment(draw["seed"]) == policy["seed_commitment"]
    assert [item["outcome"] for item in draw["ranked"]] == ["seat", "waitlist"]


async def test_a_withdrawal_promotes_the_next_on_the_waitlist_and_tells_them(client, world, engine, clock):
    await open_enrolment(client, world, clock, seats=1)
    people = [await add_resident(engine, clock.now, world.community, http=client, name=f"人{i}") for i in range(3)]
    await apply_all(world, people)
    clock.now += timedelta(days=8)
    ranked = (await client.post(f"/classes/{world.offer}/draw")).json()["ranked"]
    by_id = {(await p.http.get(f"/classes/{world.offer}/applications")).json()["id"]: p for p in people}
    winner, next_one = by_id[ranked[0]["application"]], by_id[ranked[1]["application"]]

    left = await winner.http.delete(f"/classes/{world.offer}/applications")

    assert left.json()["state"] == "withdrawn"
    promoted = (await next_one.http.get(f"/classes/{world.offer}/applications")).json()
    assert promoted["state"] == "enrolled"
    async with engine.connect() as connection:
        topics = list(await connection.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)))
        assert topics[-1] == "enrolment.promoted"
        assert await connection.scalar(select(EnrolmentPolicy.enrolled)) == 1
    roster = (await client.get(f"/classes/{world.offer}/roster")).json()
    assert [entry["state"] for entry in roster] == ["withdrawn", "enrolled", "waitlisted"]
    assert roster[2]["waitlist_position"] == 1


async def test_a_class_below_its_minimum_is_flagged_and_cancelling_frees_its_spaces(client, world, engine, clock):
    await open_enrolment(client, world, clock, seats=10, min_learners=3)
    people = [await add_resident(engine, clock.now, world.community, http=client, name=f"人{i}") for i in range(2)]
    await apply_all(world, people)
    clock.now += timedelta(days=8)
    await client.post(f"/classes/{world.offer}/draw")
    policy = (await client.get(f"/classes/{world.offer}/enrolment-policy")).json()
    assert policy["below_minimum"] is True and policy["enrolled"] == 2

    decided = await client.post(f"/classes/{world.offer}/outcome", json={"decision": "cancelled"})

    assert decided.status_code == 200, decided.text
    assert decided.json()["outcome"] == "cancelled" and decided.json()["below_minimum"] is False
    series = (await client.get(f"/bookings/{world.booking}")).json()
    assert series["state"] == "cancelled"
    assert {(await p.http.get(f"/classes/{world.offer}/applications")).json()["state"] for p in people} == {"cancelled"}
    async with engine.connect() as connection:
        told = await connection.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic == "enrolment.cancelled")
        )
        assert told == 2
    again = await client.post(f"/classes/{world.offer}/outcome", json={"decision": "kept"})
    assert again.status_code == 409


async def test_policy_seats_stay_within_the_smallest_booked_space(client, world, engine, clock):
    before = await counts(engine)
    response = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, seats=31))
    await refused(engine, response, 422, "invalid_request", before)
    unbooked = (
        await client.post(
            "/classes",
            json={
                "title": "插花",
                "organisation_id": world.school,
                "term_start": "2027-03-01",
                "term_end": "2027-03-31",
            },
        )
    ).json()
    response = await client.put(f"/classes/{unbooked['id']}/enrolment-policy", json=window(clock))
    await refused(engine, response, 422, "invalid_request", before)


async def test_once_open_the_rules_of_the_window_are_fixed(client, world, engine, clock):
    await open_enrolment(client, world, clock)
    before = await counts(engine)
    response = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, mode="first_come"))
    await refused(engine, response, 409, "invalid_state_transition", before)
    shorter = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, days=2))
    await refused(engine, shorter, 409, "invalid_state_transition", before)
    longer = await client.put(f"/classes/{world.offer}/enrolment-policy", json=window(clock, days=9, seats=5))
    assert longer.status_code == 200 and longer.json()["seats"] == 5


async def test_applications_in_the_database_match_the_answers(client, world, engine, clock):
    await open_enrolment(client, world, clock)
    person = await add_resident(engine, clock.now, world.community, http=client)
    answer = (await person.http.post(f"/classes/{world.offer}/applications", json={})).json()
    async with engine.connect() as connection:
        row = (await connection.execute(select(Application.public_id, Application.state))).one()
    assert tuple(row) == (answer["id"], "applied")


async def test_the_command_line_verifies_a_stored_draw_and_catches_a_changed_rank(client, world, engine, clock, db_url):
    await open_enrolment(client, world, clock, seats=2)
    people = [await add_resident(engine, clock.now, world.community, http=client, name=f"人{i}") for i in range(4)]
    await apply_all(world, people)
    clock.now += timedelta(days=8)
    assert (await client.post(f"/classes/{world.offer}/draw")).status_code == 200

    verified = await asyncio.to_thread(run_cli, "lottery", "verify", str(world.offer), database_url=db_url, cwd=".")
    assert verified.returncode == 0, verified.stderr
    assert "draw verified" in verified.stdout
    async with engine.begin() as connection:  # somebody moves themselves up the list
        await connection.execute(update(Application).where(Application.rank == 4).values(rank=0))
    tampered = await asyncio.to_thread(run_cli, "lottery", "verify", str(world.offer), database_url=db_url, cwd=".")
    assert tampered.returncode == 1
    assert "stored ranks differ" in tampered.stderr


async def test_a_small_draw_computed_by_hand_with_tiers_and_a_resident_at_the_limit(make, client, world, engine, clock):
    """Two seats; two neighbours (tier 0) and two from elsewhere (tier 1). One neighbour took a
    first-come seat elsewhere after applying and is at the term limit of one: skipped."""
    await open_enrolment(client, world, clock, seats=2, term_limit=1)
    other = (
        await client.post(
            "/classes",
            json={
                "title": "太极拳",
                "organisation_id": world.school,
                "term_start": "2027-03-01",
                "term_end": "2027-03-31",
            },
        )
    ).json()
    space = await make.space(venue_id=world.venue, name="活动室", kind="hall", capacity=30)
    series = await client.post(
        "/bookings",
        json={
            "space_id": space["id"],
            "organisation_id": world.school,
            "title": "太极拳",
            "starts_at": "2027-03-02T09:00:00+08:00",
            "ends_at": "2027-03-02T10:00:00+08:00",
        },
    )
    async with engine.begin() as connection:
        await connection.execute(
            ClassBooking.__table__.insert().values(
                booking_id=series.json()["id"], class_id=other["id"], teacher_id=world.teacher
            )
        )
    body = {**window(clock), "mode": "first_come", "term_limit": 1}
    assert (await client.put(f"/classes/{other['id']}/enrolment-policy", json=body)).status_code == 200
    near = [await add_resident(engine, clock.now, world.community, http=client, name=f"东{i}") for i in range(2)]
    far = [await add_resident(engine, clock.now, world.other_community, http=client, name=f"西{i}") for i in range(2)]
    ids = {
        p.user_id: (await p.http.post(f"/classes/{world.offer}/applications", json={})).json()["id"] for p in near + far
    }
    busy = near[0]
    assert (await busy.http.post(f"/classes/{other['id']}/applications", json={})).json()["state"] == "enrolled"
    clock.now += timedelta(days=8)

    draw = (await client.post(f"/classes/{world.offer}/draw")).json()

    def by_hand(people):
        return sorted(
            (ids[p.user_id] for p in people),
            key=lambda pid: hashlib.sha256(f"{draw['seed']}:{pid}".encode()).hexdigest(),
        )

    order = by_hand(near) + by_hand(far)
    outcome = {}
    seats = 2
    for pid in order:
        if seats and pid == ids[busy.user_id]:
            outcome[pid] = "at_limit"
        elif seats:
            outcome[pid], seats = "seat", seats - 1
        else:
            outcome[pid] = "waitlist"
    assert [(item["application"], item["outcome"]) for item in draw["ranked"]] == [(p, outcome[p]) for p in order]
    assert [item["tier"] for item in draw["ranked"]] == [0, 0, 1, 1]
    assert (await busy.http.get(f"/classes/{world.offer}/applications")).json()["state"] == "waitlisted"
