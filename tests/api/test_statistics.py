"""Participation statistics: figures per region subtree and per venue, worked out by hand for a small
term, who may see them, and the CSV bytes.

The world (term 1–31 March 2027, seen on Wednesday 17 March at noon, Shanghai time):

- 东街社区 (community E): venue V1 with classroom A and activity room B. Class C1 (书法入门), Mondays
  19:00–20:30 from 1 March, five sessions: 1, 8, 15 March held (270 min). Class C4 offered nothing:
  its only booking is cancelled. Two plain bookings on A: Saturday 6 March 09:00–11:00 (checked in)
  and Saturday 20 March 09:00–10:00.
- 西街社区 (community W): venue V2 with one hall. Class C2 (国画), Tuesdays 18:30–20:30 from 2 March,
  five sessions, 9 March cancelled: 2 and 16 March held (240 min).
- Residents, ages in 2027: R1 15 (enrolled C1 and, a term earlier, C0), R2 37 (C1, C2), R3 77 (C2),
  R4 60 (C1; withdrew from C0 earlier), R5 18 (C2; withdrew from C1), R6 applied C1 and was cancelled
  from C2, R7 enrolled in C4 only and withdrew from C2, R8 waitlisted C2.
"""

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, update

from booking.models import Application, Attendance, ClassBooking, Occurrence
from tests.factories import Factory, at
from tests.learning import TERM, add_resident, build_learning_world, enrol, set_policy

URL = "/statistics/participation"
TERM_START = TERM["term_start"]
SEEN_AT = datetime.fromisoformat("2027-03-17T12:00:00+08:00")
WEEKLY_FIVE = {"rrule": "FREQ=WEEKLY;COUNT=5"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---- the world ----------------------------------------------------------------------------------


async def apply_as(engine, class_id: int, resident_id: int, state: str, term_start: str, now: datetime) -> None:
    """An application in any state, written straight to the database."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(Application).values(
                public_id=str(uuid.uuid4()),
                class_id=class_id,
                resident_id=resident_id,
                term_start=date.fromisoformat(term_start),
                state=state,
                channel="self",
                created_at=now,
                updated_at=now,
            )
        )


async def attend(engine, class_id: int, occurrence: dict, resident_id: int, status: str, minutes: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(Attendance).values(
                occurrence_id=occurrence["id"],
                class_id=class_id,
                resident_id=resident_id,
                session_date=datetime.fromisoformat(occurrence["starts_at"]).astimezone(SHANGHAI).date(),
                status=status,
                minutes=minutes,
                recorded_at=SEEN_AT,
            )
        )


async def class_series(make, engine, world, space_id: int, title: str, starts: str, ends: str, **extra) -> dict:
    """A class of the term and a booking series holding its weekly session."""
    offer = await make._create("/classes", {"title": title, "organisation_id": world.school, **TERM})
    series = await make._create(
        "/bookings", Factory.booking_body(space_id, world.school, starts, ends, title=title, **extra)
    )
    async with engine.begin() as connection:
        await connection.execute(
            insert(ClassBooking).values(booking_id=series["id"], class_id=offer["id"], teacher_id=world.teacher)
        )
    return {"id": offer["id"], "booking": series["id"], "occurrences": series["occurrences"]}


async def open_and_close(make, world, west_venue: int, west_space: int, room_b: int) -> None:
    """V1: Mon 18–21 and Sat 09–12 (Sat 13 March closed), room B its own Sun 10–12; V2: Tue and Thu
    18–21, its hall closed Thu 18 March 18–20."""
    http = make.client

    async def put(path: str, windows: list[tuple[int, str, str]]) -> None:
        body = [{"weekday": day, "opens": opens, "closes": closes} for day, opens, closes in windows]
        assert (await http.put(path, json=body)).status_code == 200

    await put(f"/venues/{world.venue}/opening-hours", [(0, "18:00", "21:00"), (5, "09:00", "12:00")])
    await put(f"/spaces/{room_b}/opening-hours", [(6, "10:00", "12:00")])
    await put(f"/venues/{west_venue}/opening-hours", [(1, "18:00", "21:00"), (3, "18:00", "21:00")])
    closures = [
        {"venue_id": world.venue, "start_date": "2027-03-13", "end_date": "2027-03-13", "reason": "maintenance"},
        {"space_id": west_space, "starts_at": at(18, 18), "ends_at": at(18, 20), "reason": "event"},
    ]
    for closure in closures:
        assert (await http.post("/closures", json=closure)).status_code == 201


@pytest.fixture
async def world(make, as_user, engine, clock):
    world = await build_learning_world(make, as_user, engine, clock)
    room_b = (await make.space(venue_id=world.venue, name="活动室", kind="activity_room", capacity=20))["id"]
    west = await make.venue(
        name="+西街社区学习点", kind="learning_point", region_id=world.other_community, owner_id=world.school
    )
    hall = (await make.space(venue_id=west["id"], name="多功能厅", kind="multipurpose_room", capacity=40))["id"]
    c1 = {"id": world.offer, "occurrences": world.occurrences}
    c2 = await class_series(make, engine, world, hall, "国画", at(2, 18, 30), at(2, 20, 30), recurrence=WEEKLY_FIVE)
    c4 = await class_series(make, engine, world, world.space, "太极", at(3, 9), at(3, 10))
    c0 = await make._create(
        "/classes",
        {"title": "书法入门", "organisation_id": world.school, "term_start": "2026-09-01", "term_end": "2026-12-31"},
    )
    assert (await make.client.post(f"/bookings/{c4['booking']}/cancel")).status_code == 200
    cancelled = c2["occurrences"][1]["id"]
    assert (await make.client.post(f"/bookings/{c2['booking']}/occurrences/{cancelled}/cancel")).status_code == 200
    checked = await make._create("/bookings", Factory.booking_body(world.space, world.school, at(6, 9), at(6, 11)))
    await make._create("/bookings", Factory.booking_body(world.space, world.school, at(20, 9), at(20, 10)))
    await open_and_close(make, world, west["id"], hall, room_b)
    for class_id, seats in ((c1["id"], 20), (c2["id"], 15), (c4["id"], 10)):
        await set_policy(engine, class_id, clock.now, seats=seats, mode="first_come", closes_at=SEEN_AT)

    people = await residents(engine, clock.now, world, make)
    await applications(engine, clock.now, people, c0=c0["id"], c1=c1["id"], c2=c2["id"], c4=c4["id"])
    await attendance(engine, people, c1, c2)
    async with engine.begin() as connection:  # checked in: the plain Saturday booking, and C1's first session
        ids = [checked["occurrences"][0]["id"], c1["occurrences"][0]["id"]]
        await connection.execute(update(Occurrence).where(Occurrence.id.in_(ids)).values(checked_in_at=SEEN_AT))
    clock.now = SEEN_AT
    return {"learning": world, "west_venue": west["id"], "c1": c1, "c2": c2}


async def residents(engine, now, world, make) -> dict[str, int]:
    born = {"R1": 2012, "R2": 1990, "R3": 1950, "R4": 1967, "R5": 2009, "R6": 1960, "R7": 1985, "R8": 2000}
    people = {}
    for name, year in born.items():
        person = await add_resident(
            engine, now, world.community, http=make.client, name=name, birth_year=year, id_number=None
        )
        people[name] = person.user_id
    return people


async def applications(engine, now, people: dict[str, int], *, c0: int, c1: int, c2: int, c4: int) -> None:
    term = date.fromisoformat(TERM_START)
    for name, class_id in (("R1", c1), ("R2", c1), ("R4", c1), ("R2", c2), ("R3", c2), ("R5", c2), ("R7", c4)):
        await enrol(engine, class_id, people[name], now, term)
    await enrol(engine, c0, people["R1"], now, date(2026, 9, 1))
    await apply_as(engine, c0, people["R4"], "withdrawn", "2026-09-01", now)
    for name, class_id, state in (
        ("R5", c1, "withdrawn"),
        ("R6", c1, "applied"),
        ("R6", c2, "cancelled"),
        ("R7", c2, "withdrawn"),
        ("R8", c2, "waitlisted"),
    ):
        await apply_as(engine, class_id, people[name], state, TERM_START, now)


async def attendance(engine, people: dict[str, int], c1: dict, c2: dict) -> None:
    """C1: R1 90+60+0, R2 90+0+45, R6 (not enrolled) 90 → 285 of 3×270; C2: R2 120, R3 120, R5 100 on
    2 March, everyone absent on 16 March → 340 of 3×240."""
    first, second, third = c1["occurrences"][:3]
    rows = [
        (c1, first, "R1", "present", 90),
        (c1, second, "R1", "late", 60),
        (c1, third, "R1", "absent", 0),
        (c1, first, "R2", "present", 90),
        (c1, second, "R2", "absent", 0),
        (c1, third, "R2", "left_early", 45),
        (c1, first, "R6", "present", 90),
        (c2, c2["occurrences"][0], "R2", "present", 120),
        (c2, c2["occurrences"][0], "R3", "present", 120),
        (c2, c2["occurrences"][0], "R5", "late", 100),
        (c2, c2["occurrences"][2], "R2", "absent", 0),
        (c2, c2["occurrences"][2], "R3", "absent", 0),
    ]
    for offer, occurrence, name, status, minutes in rows:
        await attend(engine, offer["id"], occurrence, people[name], status, minutes)


# ---- the expected figures -----------------------------------------------------------------------


def region(region_id, name, level, parent_id, **figures) -> dict:
    return {"region_id": region_id, "name": name, "level": level, "parent_id": parent_id, **figures}


def figures(classes, seats, applicants, enrolled, rate, hours, bands, first_time) -> dict:
    under_18, adults, seniors = bands
    return {
        "classes_offered": classes,
        "seats": seats,
        "applicants": applicants,
        "enrolled": enrolled,
        "attendance_rate": rate,
        "hours_delivered": hours,
        "learners_under_18": under_18,
        "learners_18_to_59": adults,
        "learners_60_plus": seniors,
        "first_time_learners": first_time,
    }


# E: R1, R2, R4 enrolled, R6 applied; 285 / 810. W: R2, R3, R5 enrolled, R6 and R8 too; 340 / 720.
EAST = figures(1, 20, 4, 3, 0.3519, 4.5, (1, 1, 1), 2)
WEST = figures(1, 15, 5, 3, 0.4722, 4.0, (0, 2, 1), 3)
BOTH = figures(2, 35, 7, 6, 0.4085, 8.5, (1, 2, 2), 4)  # 625 / 1530


def expected_regions(w) -> list[dict]:
    return [
        region(w.district, "新乡市红旗区", "district", None, **BOTH),
        region(w.town, "向阳街道", "town", w.district, **BOTH),
        region(w.community, "东街社区", "community", w.town, **EAST),
        region(w.other_community, "西街社区", "community", w.town, **WEST),
    ]


def expected_venues(world) -> list[dict]:
    w = world["learning"]
    # V1 open: A 15 + 12 − 3 (Sat 13), B 8 on Sundays; booked: C1 5×1.5, Saturdays 2 + 1; used: C1's
    # three held sessions (someone not absent) and the checked-in Saturday.
    east = {"venue_id": w.venue, "name": "东街社区学校", "region_id": w.community}
    west = {"venue_id": world["west_venue"], "name": "+西街社区学习点", "region_id": w.other_community}
    return [
        {**east, "open_hours": 32.0, "booked_hours": 10.5, "used_hours": 6.5},
        {**west, "open_hours": 25.0, "booked_hours": 8.0, "used_hours": 2.0},
    ]


# ---- the figures --------------------------------------------------------------------------------


async def test_whole_district_figures_per_region_and_venue(world, client):
    response = await client.get(URL, params={"term_start": TERM_START})

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["region_id"], report["term_start"], report["term_end"]) == (None, "2027-03-01", "2027-03-31")
    assert report["as_of"] == "2027-03-17T04:00:00Z"
    assert report["regions"] == expected_regions(world["learning"])
    assert report["venues"] == expected_venues(world)


async def test_a_region_reports_its_subtree_only(world, as_user):
    w = world["learning"]
    town_admin = await as_user("district_admin", region_id=w.town)

    response = await town_admin.get(URL, params={"term_start": TERM_START, "region_id": w.community})

    assert response.status_code == 200, response.text
    assert response.json()["regions"] == [region(w.community, "东街社区", "community", w.town, **EAST)]
    assert response.json()["venues"] == expected_venues(world)[:1]


async def test_a_session_over_a_divisible_space_counts_once(make, as_user, engine, clock, client):
    w = await build_learning_world(make, as_user, engine, clock)
    hall, _courts = await make.hall(venue_id=w.venue)
    await make._create("/bookings", Factory.booking_body(hall["id"], w.school, at(6, 9), at(6, 11)))
    clock.now = SEEN_AT

    venues = (await client.get(URL, params={"term_start": TERM_START})).json()["venues"]

    assert [(v["venue_id"], v["booked_hours"], v["used_hours"]) for v in venues] == [(w.venue, 9.5, 0.0)]


async def test_a_term_no_class_starts_is_not_found(world, client):
    response = await client.get(URL, params={"term_start": "2027-04-01"})

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_an_unknown_region_is_not_found(world, client):
    response = await client.get(URL, params={"term_start": TERM_START, "region_id": 999_999})

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


# ---- who may see them ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [URL, URL + ".csv"])
async def test_the_anonymous_are_asked_to_sign_in(world, anonymous, path):
    response = await anonymous.get(path, params={"term_start": TERM_START})

    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("path", [URL, URL + ".csv"])
@pytest.mark.parametrize(
    ("role", "scope", "asked"),
    [
        ("district_admin", "other_community", "community"),  # a sibling's administrator
        ("district_admin", "community", "town"),  # the administrator of a part asking for the whole
        ("district_admin", "town", None),  # not the whole district's administrator
        ("venue_manager", None, "community"),  # staff of the school that owns the venue
        ("resident", None, "community"),
    ],
)
async def test_others_are_refused(world, as_user, path, role, scope, asked):
    w = world["learning"]
    caller = (
        await as_user(role, region_id=getattr(w, scope))
        if role == "district_admin"
        else await as_user(role, organisation_id=w.school if role == "venue_manager" else None)
    )
    params = {"term_start": TERM_START} | ({"region_id": getattr(w, asked)} if asked else {})

    response = await caller.get(path, params=params)

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


# ---- CSV ----------------------------------------------------------------------------------------


async def test_csv_bytes(world, as_user):
    w = world["learning"]
    west_admin = await as_user("district_admin", region_id=w.other_community)

    response = await west_admin.get(URL + ".csv", params={"term_start": TERM_START, "region_id": w.other_community})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="participation-2027-03-01-{w.other_community}.csv"'
    )
    header = (
        "kind,id,name,level,in_region_id,classes_offered,seats,applicants,enrolled,attendance_rate,"
        "hours_delivered,learners_under_18,learners_18_to_59,learners_60_plus,first_time_learners,"
        "open_hours,booked_hours,used_hours"
    )
    expected = (
        "\ufeff"
        + header
        + "\r\n"
        + f"region,{w.other_community},西街社区,community,{w.town},1,15,5,3,0.4722,4.00,0,2,1,3,,,\r\n"
        + f"venue,{world['west_venue']},'+西街社区学习点,,{w.other_community},,,,,,,,,,,25.00,8.00,2.00\r\n"
    )
    assert response.content == expected.encode("utf-8")


async def test_csv_has_the_json_figures(world, client):
    as_json = (await client.get(URL, params={"term_start": TERM_START})).json()
    lines = (await client.get(URL + ".csv", params={"term_start": TERM_START})).content.decode("utf-8-sig")

    rows = lines.split("\r\n")
    assert rows[-1] == ""  # every row ends with CRLF
    kinds = [row.split(",")[0] for row in rows[1:-1]]
    assert kinds == ["region"] * len(as_json["regions"]) + ["venue"] * len(as_json["venues"])
    assert rows[1].startswith(
        f"region,{as_json['regions'][0]['region_id']},新乡市红旗区,district,,2,35,7,6,0.4085,8.50"
    )


async def test_term_start_is_required(client):
    response = await client.get(URL)

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
