"""A term of classes through the allocator, end to end: create, poll, lock, forbid, re-run, commit."""

import asyncio
import multiprocessing
import pickle
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.app import create_app
from booking.config import Settings
from booking.models import Allocation
from booking.services import allocations
from tests.conftest import start_lifespan, stop_lifespan

TERM = {"term_start": "2027-03-01", "term_end": "2027-04-25"}  # eight weeks, Monday to Sunday


async def created(response) -> dict:
    assert response.status_code in (201, 202), response.text
    return response.json()


async def finished(client, allocation_id: int, *, within_s: float = 90.0) -> dict:
    for _ in range(int(within_s / 0.1)):
        allocation = (await client.get(f"/allocations/{allocation_id}")).json()
        if allocation["status"] not in ("queued", "running"):
            return allocation
        await asyncio.sleep(0.1)
    raise AssertionError(f"allocation {allocation_id} still {allocation['status']}")


@pytest.fixture
async def district(make):
    client = make.client
    root = await make.region()
    town = await make.region(name="江滨街道", level="town", parent_id=root["id"])
    owner = await make.organisation(kind="community_school", region_id=town["id"])
    venue = await make.venue(region_id=town["id"], owner_id=owner["id"], latitude=30.2, longitude=120.2)
    await client.put(
        f"/venues/{venue['id']}/opening-hours",
        json=[{"weekday": d, "opens": "08:00", "closes": "22:00"} for d in range(7)],
    )
    studio = await make.space(venue_id=venue["id"], name="Studio", capacity=30, features=["step-free"])
    hall = await make.space(venue_id=venue["id"], name="Hall", kind="hall", capacity=100)
    await client.post(
        "/closures",
        json={"venue_id": venue["id"], "start_date": "2027-04-05", "end_date": "2027-04-05", "reason": "holiday"},
    )
    calligrapher = await created(
        await client.post(
            "/teachers",
            json={
                "name": "王老师",
                "skills": ["calligraphy"],
                "availability": [{"weekday": d, "opens": "09:00", "closes": "17:00"} for d in range(5)],
            },
        )
    )
    coach = await created(await client.post("/teachers", json={"name": "李教练", "skills": ["fitness"]}))
    common = {"organisation_id": owner["id"], **TERM, "preferred_region_ids": [town["id"]]}
    calligraphy = await created(
        await client.post(
            "/classes",
            json={
                **common,
                "title": "老年书法班",
                "sessions_per_week": 2,
                "session_minutes": 90,
                "learners": 20,
                "required_features": ["step-free"],
                "required_skill": "calligraphy",
                "allowed_windows": [{"weekday": d, "opens": "09:00", "closes": "16:00"} for d in range(5)],
            },
        )
    )
    fitness = await created(
        await client.post(
            "/classes",
            json={
                **common,
                "title": "晚间健身操",
                "session_minutes": 60,
                "learners": 50,
                "required_skill": "fitness",
                "allowed_windows": [{"weekday": d, "opens": "18:00", "closes": "21:00"} for d in range(7)],
            },
        )
    )
    too_big = await created(await client.post("/classes", json={**common, "title": "千人广场舞", "learners": 500}))
    return {
        "studio": studio,
        "hall": hall,
        "calligrapher": calligrapher,
        "coach": coach,
        "calligraphy": calligraphy,
        "fitness": fitness,
        "too_big": too_big,
    }


async def test_plan_lock_forbid_rerun_commit(make, district):
    client = make.client
    queued = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 10, "seed": 1}))
    assert queued["status"] in ("queued", "running")

    done = await finished(client, queued["id"])

    assert done["status"] == "done", done
    result = done["result"]
    assert (result["placed"], result["total"]) == (2, 3)
    assert [u["class_id"] for u in result["unplaced"]] == [district["too_big"]["id"]]
    assert result["unplaced"][0]["reasons"][0] == "no_space_fits"
    plans = {c["class_id"]: c["sessions"] for c in result["classes"]}
    calligraphy = plans[district["calligraphy"]["id"]]
    assert len(calligraphy) == 2 and len({s["weekday"] for s in calligraphy}) == 2
    assert {s["space_id"] for s in calligraphy} == {district["studio"]["id"]}
    assert {s["teacher_id"] for s in calligraphy} == {district["calligrapher"]["id"]}
    assert all("09:00" <= s["start"] and s["end"] <= "16:00" for s in calligraphy)
    [fitness] = plans[district["fitness"]["id"]]
    assert fitness["space_id"] == district["hall"]["id"] and "18:00" <= fitness["start"] <= "20:00"
    for session in [*calligraphy, fitness]:  # 2027-04-05, a Monday, is closed
        expected = [{"date": "2027-04-05", "reason": "space_closed"}] if session["weekday"] == 0 else []
        assert session["skipped"] == expected

    forbidden_day = fitness["weekday"]
    rerun = await created(
        await client.post(
            "/allocations",
            json={
                **TERM,
                "time_limit_s": 10,
                "from_allocation_id": done["id"],
                "locks": [{"class_id": district["calligraphy"]["id"]}],
                "forbids": [{"class_id": district["fitness"]["id"], "weekday": forbidden_day}],
            },
        )
    )
    second = await finished(client, rerun["id"])
    assert second["status"] == "done" and second["parent_id"] == done["id"]
    replans = {c["class_id"]: c["sessions"] for c in second["result"]["classes"]}
    assert replans[district["calligraphy"]["id"]] == calligraphy
    assert replans[district["fitness"]["id"]][0]["weekday"] != forbidden_day

    committed = await client.post(f"/allocations/{second['id']}/commit")
    assert committed.status_code == 200, committed.text
    report = committed.json()["commit_report"]
    assert report["failed"] == []
    assert len(report["booked"]) == 3
    listed = (await client.get("/bookings", params={"space_id": district["studio"]["id"]})).json()
    assert listed["total"] == 2
    assert all(b["recurrence"]["rrule"] == "FREQ=WEEKLY;UNTIL=20270425" for b in listed["items"])
    assert all(len(b["occurrences"]) in (7, 8) for b in listed["items"])

    again = await client.post(f"/allocations/{second['id']}/commit")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state_transition")


async def test_committing_reports_what_was_taken_since_the_run(make, district):
    client = make.client
    done = await finished(
        client,
        (
            await created(
                await client.post(
                    "/allocations", json={**TERM, "time_limit_s": 10, "class_ids": [district["fitness"]["id"]]}
                )
            )
        )["id"],
    )
    [fitness] = done["result"]["classes"][0]["sessions"]
    # Someone books the hall on the first date of the planned session before staff commit.
    first_day = {0: "01", 1: "02", 2: "03", 3: "04", 4: "05", 5: "06", 6: "07"}[fitness["weekday"]]
    org = await make.organisation(name="Another group")
    taken = await make.book(
        district["hall"]["id"],
        org["id"],
        f"2027-03-{first_day}T{fitness['start']}:00+08:00",
        f"2027-03-{first_day}T{fitness['end']}:00+08:00",
    )
    assert taken.status_code == 201

    report = (await client.post(f"/allocations/{done['id']}/commit")).json()["commit_report"]

    [booked] = report["booked"]
    assert booked["skipped"][0]["reason"] == "booking_conflict"
    assert booked["skipped"][0]["conflicts"][0]["booking_id"] == taken.json()["id"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**TERM, "class_ids": [999]}, "invalid_request"),
        ({**TERM, "time_limit_s": 0}, "invalid_request"),
        ({"term_start": "2027-03-01", "term_end": "2027-01-01"}, "invalid_request"),
        ({**TERM, "locks": [{"class_id": 1}]}, "invalid_request"),
        ({**TERM, "from_allocation_id": 999}, "not_found"),
    ],
)
async def test_bad_allocation_requests(make, body, code):
    response = await make.client.post("/allocations", json=body)
    assert response.json()["code"] == code, response.text


async def test_cancel_and_state_rules(make, district):
    client = make.client
    queued = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 30}))
    cancelled = await client.post(f"/allocations/{queued['id']}/cancel")
    assert cancelled.status_code == 200
    final = await finished(client, queued["id"])
    assert final["status"] == "cancelled"
    assert (await client.post(f"/allocations/{queued['id']}/commit")).json()["code"] == "invalid_state_transition"
    assert (await client.post(f"/allocations/{queued['id']}/cancel")).json()["code"] == "invalid_state_transition"


async def test_a_run_left_running_by_a_dead_process_is_queued_again(db_url, clock, engine):
    async with engine.begin() as connection:
        stale_id = await connection.scalar(
            insert(Allocation)
            .values(
                term_start=clock.now.date(),
                term_end=clock.now.date() + timedelta(days=6),
                class_ids=[],
                status="running",
                time_limit_s=10,
                seed=0,
                weights={},
                locks=[],
                forbids=[],
                created_at=clock.now - timedelta(hours=1),
                started_at=clock.now - timedelta(hours=1),
                cancel_requested=False,
            )
            .returning(Allocation.id)
        )
    lifespan = await start_lifespan(create_app(Settings(database_url=db_url), clock=clock))
    try:
        for _ in range(300):
            async with engine.connect() as connection:
                status = await connection.scalar(select(Allocation.status).where(Allocation.id == stale_id))
            if status == "done":
                break
            await asyncio.sleep(0.1)
    finally:
        await stop_lifespan(*lifespan)
    assert status == "done"


async def test_list_runs_newest_first(make, district):
    first = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 5}))
    second = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 5}))
    await finished(make.client, second["id"])

    listed = (await make.client.get("/allocations")).json()
    done = (await make.client.get("/allocations", params={"status": "done"})).json()

    assert [a["id"] for a in listed["items"]] == [second["id"], first["id"]]
    assert {a["status"] for a in done["items"]} == {"done"}


async def test_a_class_is_placed_only_in_a_space_of_a_kind_it_accepts(make):
    client = make.client
    root = await make.region()
    home = await make.region(name="江滨街道", level="town", parent_id=root["id"])
    owner = await make.organisation(kind="community_school", region_id=home["id"])
    # At the learners' door only kinds the classes refuse; the kinds they accept are a few km away.
    near = await make.venue(region_id=home["id"], owner_id=owner["id"], latitude=30.20, longitude=120.20)
    far = await make.venue(
        name="临江区图书馆", region_id=root["id"], owner_id=owner["id"], latitude=30.23, longitude=120.20
    )
    for venue in (near, far):
        await client.put(
            f"/venues/{venue['id']}/opening-hours",
            json=[{"weekday": d, "opens": "08:00", "closes": "22:00"} for d in range(7)],
        )
    refused = [
        await make.space(venue_id=near["id"], name="Studio", kind="studio", capacity=40),
        await make.space(venue_id=near["id"], name="Hall", kind="hall", capacity=100),
    ]
    accepted = [
        await make.space(venue_id=far["id"], name="Classroom", kind="classroom", capacity=40),
        await make.space(venue_id=far["id"], name="Reading room", kind="reading_room", capacity=40),
    ]
    for name in ("王老师", "李老师"):
        await created(await client.post("/teachers", json={"name": name, "skills": ["english"]}))
    talk = {
        "organisation_id": owner["id"],
        **TERM,
        "learners": 20,
        "required_skill": "english",
        "preferred_region_ids": [home["id"]],
        # One weekly slot for both: they need two spaces at once.
        "allowed_windows": [{"weekday": 2, "opens": "19:00", "closes": "20:30"}],
        "allowed_kinds": ["reading_room", "classroom"],
    }
    corners = [await created(await client.post("/classes", json={**talk, "title": f"英语角{n}"})) for n in "AB"]
    cooking = await created(
        await client.post("/classes", json={**talk, "title": "家常菜", "allowed_kinds": ["kitchen", "workshop"]})
    )

    run = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 10}))
    done = await finished(client, run["id"])

    assert done["status"] == "done", done
    result = done["result"]
    assert [u["class_id"] for u in result["unplaced"]] == [cooking["id"]]
    assert result["unplaced"][0]["reasons"][0] == "no_space_fits"
    used = {s["space_id"] for c in result["classes"] for s in c["sessions"]}
    assert {c["class_id"] for c in result["classes"]} == {c["id"] for c in corners}
    assert used == {space["id"] for space in accepted}
    assert used.isdisjoint(space["id"] for space in refused)


async def test_a_term_reaches_the_solver_process_as_plain_values(make, district, engine):
    run = await created(await make.client.post("/allocations", json={**TERM, "time_limit_s": 10}))
    async with AsyncSession(engine) as session:
        term = await allocations.load_term(session, run["id"])

    copy = pickle.loads(pickle.dumps(term))

    assert copy == term
    assert {c.title for c in copy.classes} == {"老年书法班", "晚间健身操", "千人广场舞"}
    assert [t.skills for t in copy.teachers] == [["calligraphy"], ["fitness"]]
    assert copy.calendars[district["studio"]["id"]].closures  # the holiday on 2027-04-05
    with pytest.raises(AttributeError):
        copy.classes[0].learners = 1


@pytest.mark.parametrize("settings_overrides", [{"solver_memory_mb": 64}])
async def test_a_solver_out_of_memory_fails_its_run_and_the_api_goes_on(make, district):
    client = make.client
    first = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 10}))

    failed = await finished(client, first["id"])

    assert failed["status"] == "failed" and failed["result"] is None
    assert "memory" in failed["error"] and "64 MB" in failed["error"], failed["error"]
    assert (await client.get("/classes")).status_code == 200
    second = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 10}))
    assert (await finished(client, second["id"]))["status"] == "failed"  # the runner goes on


@pytest.fixture
async def crowded_term(make):
    """Forty classes of two sessions a week for six spaces and eight teachers: far more than a
    minute's search can settle."""
    client = make.client
    town = await make.region(name="江滨街道", level="town", parent_id=(await make.region())["id"])
    owner = await make.organisation(kind="community_school", region_id=town["id"])
    for v in range(2):
        venue = await make.venue(region_id=town["id"], owner_id=owner["id"], latitude=30.2 + v / 50, longitude=120.2)
        for s in range(3):
            await make.space(venue_id=venue["id"], name=f"Room {s}", capacity=20 + 10 * s)
    skills = ["calligraphy", "fitness", "singing", "painting"]
    for t in range(8):
        await created(await client.post("/teachers", json={"name": f"老师{t}", "skills": skills[t % 4 :][:2]}))
    for c in range(40):
        body = {
            "organisation_id": owner["id"],
            **TERM,
            "title": f"班级{c}",
            "sessions_per_week": 2,
            "session_minutes": 90,
            "learners": 10 + c % 20,
            "required_skill": skills[c % 4],
            "preferred_region_ids": [town["id"]],
            "allowed_windows": [{"weekday": d, "opens": "09:00", "closes": "21:00"} for d in range(7)],
            "cohorts": [f"cohort{c % 5}"],
        }
        await created(await client.post("/classes", json=body))


async def test_cancelling_a_running_solve_ends_it_within_two_seconds(make, crowded_term):
    client = make.client
    run = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 60}))
    for _ in range(600):  # until the solver reports: its process has started and is searching
        running = (await client.get(f"/allocations/{run['id']}")).json()
        if running["status"] not in ("queued", "running") or "objective" in (running["progress"] or {}):
            break
        await asyncio.sleep(0.1)
    assert running["status"] == "running" and "objective" in running["progress"], running
    await asyncio.sleep(1.5)
    later = (await client.get(f"/allocations/{run['id']}")).json()["progress"]
    assert later["elapsed_s"] > running["progress"]["elapsed_s"]  # rewritten every second, new plan or not

    asked = time.monotonic()
    assert (await client.post(f"/allocations/{run['id']}/cancel")).status_code == 200
    while (final := (await client.get(f"/allocations/{run['id']}")).json())["status"] == "running":
        if time.monotonic() - asked > 10:  # 2 s on an idle machine; the bound leaves room for a busy one
            break
        await asyncio.sleep(0.05)
    took = time.monotonic() - asked

    assert final["status"] == "cancelled", f"{final['status']} {took:.2f} s after the cancel: {final}"
    if final["result"] is not None:  # the best plan found before the stop
        assert final["result"]["total"] == 40 and len(final["result"]["classes"]) == final["result"]["placed"]


async def test_shutting_down_stops_the_solver_process_and_leaves_no_run_running(make, crowded_term, transport):
    client = make.client
    run = await created(await client.post("/allocations", json={**TERM, "time_limit_s": 60}))
    for _ in range(600):  # progress is written once the solver process started
        if (await client.get(f"/allocations/{run['id']}")).json()["progress"] is not None:
            break
        await asyncio.sleep(0.1)
    assert multiprocessing.active_children(), "the run's solver process"

    transport.app.state.background.stop()  # what the app's shutdown does first
    for _ in range(100):
        final = (await client.get(f"/allocations/{run['id']}")).json()
        if final["status"] != "running":
            break
        await asyncio.sleep(0.1)

    # Stopped, it answers with its best plan so far; killed, its run goes back to the queue.
    assert final["status"] in ("done", "queued"), final
    assert multiprocessing.active_children() == []
