"""Attendance: the roll a class's teacher or its organisation's staff take for a session, its
seven-day correction window, and residents' self check-in with the session's code.

Every refusal is checked to write nothing: the rows of ``attendance`` and ``learning_events`` are
counted before and after (a wrong code is the one refusal that writes: its failed attempt)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from booking.models import Application, Attendance, LearningEvent, SessionCode
from tests.learning import add_resident, build_learning_world, enrol, set_policy

TERM_START = date(2027, 3, 1)
START = datetime.fromisoformat("2027-03-01T19:00:00+08:00").astimezone(UTC)  # the first of five Mondays
END = START + timedelta(minutes=90)
NAMES = ("李秀英", "张建华", "王淑芬")


@pytest.fixture
async def world(make, as_user, engine, clock):
    """The shared learning world with three enrolled residents; the clock in the first session."""
    world = await build_learning_world(make, as_user, engine, clock)
    await set_policy(engine, world.offer, clock.now)
    for name in NAMES:
        person = await add_resident(engine, clock.now, world.community, http=make.client, name=name)
        await enrol(engine, world.offer, person.user_id, clock.now, TERM_START)
        world.residents.append(person)
    clock.now = START + timedelta(minutes=10)
    return world


def roll_path(world, day: str = "2027-03-01") -> str:
    return f"/classes/{world.offer}/sessions/{day}/attendance"


def code_path(world, day: str = "2027-03-01") -> str:
    return f"/classes/{world.offer}/sessions/{day}/code"


async def counts(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(func.count()).select_from(Attendance)),
            await connection.scalar(select(func.count()).select_from(LearningEvent)),
        )


async def events(engine, kind: str) -> list[LearningEvent]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(LearningEvent).where(LearningEvent.kind == kind).order_by(LearningEvent.id)
        )
        return list(rows)


def refused(response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_teacher_takes_the_roll_and_corrects_it_with_an_audit_trail(world, engine, clock):
    first, second, third = world.residents
    marks = [
        {"resident_id": first.user_id, "status": "present"},
        {"resident_id": second.user_id, "status": "late", "minutes": 60},
        {"resident_id": third.user_id, "status": "absent"},
    ]

    taken = await world.teacher_http.put(roll_path(world), json=marks)

    assert taken.status_code == 200, taken.text
    body = taken.json()
    assert (body["session_date"], body["session_minutes"], body["state"]) == ("2027-03-01", 90, "confirmed")
    assert body["editable_until"] == "2027-03-08T12:30:00Z"
    by_id = {entry["resident_id"]: entry for entry in body["entries"]}
    assert (by_id[first.user_id]["status"], by_id[first.user_id]["minutes"]) == ("present", 90)
    assert (by_id[second.user_id]["status"], by_id[second.user_id]["minutes"]) == ("late", 60)
    assert (by_id[third.user_id]["status"], by_id[third.user_id]["minutes"]) == ("absent", 0)
    assert {entry["display_name"] for entry in body["entries"]} == set(NAMES)  # the teacher sees names
    assert await counts(engine) == (3, 3)
    audit = await events(engine, "attendance")
    assert {(e.resident_id, e.detail["from"], e.detail["to"]["minutes"]) for e in audit} == {
        (first.user_id, None, 90),
        (second.user_id, None, 60),
        (third.user_id, None, 0),
    }
    assert {(e.actor_user_id, e.channel) for e in audit} == {(world.teacher_user, "teacher")}

    clock.now += timedelta(days=2)
    corrected = await world.teacher_http.put(
        roll_path(world),
        json=[
            {"resident_id": second.user_id, "status": "left_early", "minutes": 45},
            {"resident_id": first.user_id, "status": "present", "minutes": 90},  # unchanged: not audited
        ],
    )

    assert corrected.status_code == 200, corrected.text
    assert await counts(engine) == (3, 4)
    change = (await events(engine, "attendance"))[-1]
    assert change.detail["from"] == {"status": "late", "minutes": 60}
    assert change.detail["to"] == {"status": "left_early", "minutes": 45}
    assert change.detail["session_date"] == "2027-03-01"
    read = await world.teacher_http.get(roll_path(world))
    assert read.status_code == 200
    assert read.json()["entries"] == corrected.json()["entries"]


async def test_the_organisations_staff_may_take_the_roll_and_nobody_else(world, engine, as_user, make, clock):
    first = world.residents[0]
    marks = [{"resident_id": first.user_id, "status": "present"}]
    manager = await as_user("venue_manager", organisation_id=world.school)
    admin = await as_user("district_admin", region_id=world.town)
    other_group = await make.organisation(name="另一个学习小组")
    organiser = await as_user("organiser", organisation_id=other_group["id"])
    other_teacher = await as_user("teacher", organisation_id=world.school)  # of the school, not of this class
    anonymous = await as_user(None)
    before = await counts(engine)

    for caller in (organiser, other_teacher, first.http):
        refused(await caller.put(roll_path(world), json=marks), 403, "forbidden")
        refused(await caller.get(roll_path(world)), 403, "forbidden")
        refused(await caller.get(code_path(world)), 403, "forbidden")
    refused(await anonymous.put(roll_path(world), json=marks), 401, "unauthorized")
    refused(await anonymous.get(roll_path(world)), 401, "unauthorized")
    assert await counts(engine) == before

    assert (await manager.put(roll_path(world), json=marks)).status_code == 200
    late = [{"resident_id": first.user_id, "status": "late", "minutes": 5}]
    assert (await admin.put(roll_path(world), json=late)).status_code == 200
    assert (await admin.get(roll_path(world))).json()["entries"][0]["display_name"] in NAMES
    assert await counts(engine) == (before[0] + 1, before[1] + 2)


@pytest.mark.parametrize(
    ("mark", "field"),
    [
        ({"status": "late"}, "0.minutes"),  # late needs its minutes
        ({"status": "left_early", "minutes": 91}, "0.minutes"),  # longer than the session
        ({"status": "present", "minutes": 60}, "0.minutes"),  # present is the whole session
        ({"status": "absent", "minutes": 5}, "0.minutes"),
        ({"status": "late", "minutes": -1}, None),
        ({"status": "asleep"}, None),
    ],
)
async def test_a_bad_line_refuses_the_whole_roll(world, engine, mark, field):
    first = world.residents[0]
    before = await counts(engine)

    response = await world.teacher_http.put(roll_path(world), json=[{"resident_id": first.user_id, **mark}])

    refused(response, 422, "invalid_request")
    if field is not None:
        assert response.json()["errors"][0]["field"] == field
    assert await counts(engine) == before


async def test_only_enrolled_residents_each_once(world, engine, make, clock):
    stranger = await add_resident(engine, clock.now, world.community, http=make.client, name="赵大爷")
    first = world.residents[0]
    good = {"resident_id": first.user_id, "status": "present"}
    before = await counts(engine)

    not_enrolled = await world.teacher_http.put(
        roll_path(world), json=[good, {"resident_id": stranger.user_id, "status": "present"}]
    )
    twice = await world.teacher_http.put(roll_path(world), json=[good, good])

    refused(not_enrolled, 422, "invalid_request")
    assert not_enrolled.json()["errors"][0]["field"] == "1.resident_id"
    refused(twice, 422, "invalid_request")
    assert await counts(engine) == before


async def test_attendance_locks_seven_days_after_the_session_ends(world, engine, clock):
    first = world.residents[0]
    clock.now = END + timedelta(days=7) - timedelta(seconds=1)
    last_chance = await world.teacher_http.put(
        roll_path(world), json=[{"resident_id": first.user_id, "status": "present"}]
    )
    assert last_chance.status_code == 200, last_chance.text
    before = await counts(engine)

    clock.now = END + timedelta(days=7)
    locked = await world.teacher_http.put(roll_path(world), json=[{"resident_id": first.user_id, "status": "absent"}])

    refused(locked, 409, "attendance_locked")
    assert await counts(engine) == before
    entries = (await world.teacher_http.get(roll_path(world))).json()["entries"]
    assert [e["status"] for e in entries if e["resident_id"] == first.user_id] == ["present"]


async def test_a_cancelled_or_future_session_takes_no_attendance(world, engine, make, clock):
    first = world.residents[0]
    third_session = world.occurrences[2]["id"]
    clock.now = START - timedelta(days=1)
    cancelled = await make.client.post(f"/bookings/{world.booking}/occurrences/{third_session}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    marks = [{"resident_id": first.user_id, "status": "present"}]
    before = await counts(engine)

    clock.now = START + timedelta(days=14, minutes=10)  # during the cancelled session's time
    refused(await world.teacher_http.put(roll_path(world, "2027-03-15"), json=marks), 409, "session_cancelled")
    refused(await world.teacher_http.get(code_path(world, "2027-03-15")), 409, "session_cancelled")
    refused(await world.teacher_http.put(roll_path(world, "2027-03-22"), json=marks), 409, "session_not_started")
    refused(await world.teacher_http.put(roll_path(world, "2027-03-16"), json=marks), 404, "not_found")
    assert (await world.teacher_http.get(roll_path(world, "2027-03-15"))).json()["state"] == "cancelled"
    assert await counts(engine) == before

    clock.now = START - timedelta(seconds=1)
    refused(await world.teacher_http.put(roll_path(world), json=marks), 409, "session_not_started")
    clock.now = START
    assert (await world.teacher_http.put(roll_path(world), json=marks)).status_code == 200


async def test_the_check_in_code_is_made_once_for_the_teacher_and_staff(world, engine, as_user):
    shown = await world.teacher_http.get(code_path(world))
    again = await world.teacher_http.get(code_path(world))
    manager = await as_user("venue_manager", organisation_id=world.school)
    staff_view = await manager.get(code_path(world))

    assert shown.status_code == 200, shown.text
    code = shown.json()["code"]
    assert len(code) == 6 and code.isdigit()
    assert again.json()["code"] == code and staff_view.json()["code"] == code
    assert (shown.json()["opens_at"], shown.json()["closes_at"]) == ("2027-03-01T10:45:00Z", "2027-03-01T11:30:00Z")
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(SessionCode)) == 1
    other = await world.teacher_http.get(code_path(world, "2027-03-08"))
    assert other.status_code == 200 and other.json()["session_date"] == "2027-03-08"


async def check_in(person, world, code: str):
    return await person.http.post(f"/classes/{world.offer}/check-in", json={"code": code})


async def test_check_in_opens_15_minutes_before_and_closes_30_minutes_after_the_start(world, engine, clock):
    first, second, third = world.residents
    code = (await world.teacher_http.get(code_path(world))).json()["code"]

    clock.now = START - timedelta(minutes=15, seconds=1)
    before = await counts(engine)
    refused(await check_in(first, world, code), 409, "checkin_closed")
    clock.now = START + timedelta(minutes=30)
    refused(await check_in(first, world, code), 409, "checkin_closed")
    assert await counts(engine) == before

    clock.now = START - timedelta(minutes=15)
    opening = await check_in(first, world, code)
    clock.now = START + timedelta(minutes=30) - timedelta(seconds=1)
    closing = await check_in(second, world, code)

    assert opening.status_code == 200, opening.text
    assert opening.json() == {
        "class_id": world.offer,
        "session_date": "2027-03-01",
        "status": "present",
        "minutes": 90,
        "channel": "self_checkin",
    }
    assert closing.status_code == 200
    assert await counts(engine) == (before[0] + 2, before[1] + 2)
    audit = await events(engine, "attendance")
    assert {(e.resident_id, e.channel, e.actor_user_id) for e in audit} == {
        (first.user_id, "self_checkin", first.user_id),
        (second.user_id, "self_checkin", second.user_id),
    }
    roll = (await world.teacher_http.get(roll_path(world))).json()["entries"]
    assert {e["resident_id"]: e["channel"] for e in roll} == {
        first.user_id: "self_checkin",
        second.user_id: "self_checkin",
        third.user_id: None,
    }


async def test_wrong_codes_count_and_five_close_check_in_for_that_resident(world, engine):
    first, second, _ = world.residents
    code = (await world.teacher_http.get(code_path(world))).json()["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    attendance_rows, event_rows = await counts(engine)

    for attempt in range(5):
        response = await check_in(first, world, wrong)
        refused(response, 422, "wrong_code")
        assert response.json()["attempts_left"] == 4 - attempt
    assert await counts(engine) == (attendance_rows, event_rows + 5)  # the failed attempts, nothing else
    assert len(await events(engine, "checkin_failed")) == 5

    refused(await check_in(first, world, code), 429, "too_many_attempts")
    assert await counts(engine) == (attendance_rows, event_rows + 5)
    assert (await check_in(second, world, code)).status_code == 200  # the limit is per resident


async def test_check_in_is_idempotent_and_never_overrides_the_roll(world, engine):
    first, second, _ = world.residents
    code = (await world.teacher_http.get(code_path(world))).json()["code"]
    late = [{"resident_id": second.user_id, "status": "late", "minutes": 20}]
    assert (await world.teacher_http.put(roll_path(world), json=late)).status_code == 200

    once = await check_in(first, world, code)
    after_once = await counts(engine)
    twice = await check_in(first, world, f" {code} ")
    marked_late = await check_in(second, world, code)

    assert once.status_code == twice.status_code == 200
    assert once.json() == twice.json()
    assert (marked_late.json()["status"], marked_late.json()["minutes"], marked_late.json()["channel"]) == (
        "late",
        20,
        "teacher",
    )
    assert await counts(engine) == after_once


async def test_only_an_enrolled_resident_checks_in(world, engine, make, as_user, clock):
    code = (await world.teacher_http.get(code_path(world))).json()["code"]
    stranger = await add_resident(engine, clock.now, world.community, http=make.client, name="赵大爷")
    no_profile = await as_user("organiser", organisation_id=world.school)
    anonymous = await as_user(None)
    path = f"/classes/{world.offer}/check-in"
    before = await counts(engine)

    refused(await stranger.http.post(path, json={"code": code}), 403, "forbidden")
    refused(await no_profile.post(path, json={"code": code}), 403, "not_a_resident")
    refused(await anonymous.post(path, json={"code": code}), 401, "unauthorized")
    refused(await stranger.http.post("/classes/999999/check-in", json={"code": code}), 404, "not_found")
    assert await counts(engine) == before


async def test_the_roll_keeps_a_resident_who_left_after_attending(world, engine):
    first, second, _ = world.residents
    marks = [{"resident_id": first.user_id, "status": "present"}]
    assert (await world.teacher_http.put(roll_path(world), json=marks)).status_code == 200
    async with engine.begin() as connection:
        await connection.execute(
            update(Application).where(Application.resident_id == first.user_id).values(state="withdrawn")
        )

    entries = {e["resident_id"]: e for e in (await world.teacher_http.get(roll_path(world))).json()["entries"]}

    assert (entries[first.user_id]["enrolled"], entries[first.user_id]["status"]) == (False, "present")
    assert (entries[second.user_id]["enrolled"], entries[second.user_id]["status"]) == (True, None)
    refused(await world.teacher_http.put(roll_path(world), json=marks), 422, "invalid_request")
