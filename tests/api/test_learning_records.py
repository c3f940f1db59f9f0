"""Learning records from the attendance ledger: the resident's own record, the credit bank's CSV,
the Open Badges 3.0 credential (validated against 1EdTech's schema, offline), and the sessions of
enrolled classes in a resident's private calendar feed (read by real calendar parsers)."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft201909Validator, FormatChecker
from referencing import Registry
from referencing.exceptions import NoSuchResource
from sqlalchemy import select, update

from booking.models import Organisation, Resident
from booking.services.learning_records import CSV_COLUMNS
from tests.clients.oracles import ical_occurrences, icaljs_occurrences
from tests.factories import at
from tests.learning import add_resident, build_learning_world, enrol, set_policy

TERM_START = date(2027, 3, 1)
START = datetime.fromisoformat("2027-03-01T19:00:00+08:00").astimezone(UTC)  # the first of five Mondays
DAYS = ("2027-03-01", "2027-03-08", "2027-03-15", "2027-03-22", "2027-03-29")
ID_NUMBER = "410702195503041234"
SCHEMA = Path(__file__).resolve().parent.parent / "data" / "openbadges" / "ob_v3p0_achievementcredential_schema.json"
PRESENT, ABSENT = {"status": "present"}, {"status": "absent"}
# Per resident, the five sessions: 李秀英 misses the last, 张建华 comes twice (once 30 minutes late),
# 王淑芬 comes to all.
ROLLS = (
    [PRESENT, PRESENT, PRESENT, PRESENT, ABSENT],
    [PRESENT, {"status": "late", "minutes": 30}, ABSENT, ABSENT, ABSENT],
    [PRESENT] * 5,
)
FEED_WINDOW = (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))


@pytest.fixture
async def world(make, as_user, engine, clock):
    """Three enrolled residents: 李秀英 (with an ID number) and 王淑芬 (without) will complete the
    class, 张建华 will not. The school's scheme: 4 hours a credit, 1.5 points an hour."""
    world = await build_learning_world(make, as_user, engine, clock)
    await set_policy(engine, world.offer, clock.now)
    people = [
        ("李秀英", ID_NUMBER),
        ("张建华", "410702195812120017"),
        ("王淑芬", None),
    ]
    for name, id_number in people:
        person = await add_resident(
            engine, clock.now, world.community, http=make.client, name=name, id_number=id_number
        )
        await enrol(engine, world.offer, person.user_id, clock.now, TERM_START)
        world.residents.append(person)
    async with engine.begin() as connection:
        await connection.execute(
            update(Organisation).where(Organisation.id == world.school).values(hours_per_credit=4, points_per_hour=1.5)
        )
    return world


async def take_rolls(world, clock, sessions: int) -> None:
    """The teacher's roll for the first ``sessions`` sessions, ten minutes into each (see ``ROLLS``)."""
    for index in range(sessions):
        clock.now = START + timedelta(weeks=index, minutes=10)
        marks = [
            {"resident_id": person.user_id, **rolls[index]}
            for person, rolls in zip(world.residents, ROLLS, strict=True)
        ]
        response = await world.teacher_http.put(f"/classes/{world.offer}/sessions/{DAYS[index]}/attendance", json=marks)
        assert response.status_code == 200, response.text


async def my_record(person) -> dict:
    response = await person.http.get("/me/learning-record")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resident_id"] == person.public_id
    (record,) = body["records"]
    return record


def refused(response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


async def test_a_record_during_the_term_rates_the_sessions_held_so_far(world, clock):
    await take_rolls(world, clock, 2)
    li, zhang, _ = world.residents

    record = await my_record(zhang)

    assert (record["class_id"], record["class_title"], record["organisation_name"]) == (
        world.offer,
        "书法入门",
        "红旗区社区学院",
    )
    assert (record["term_start"], record["term_end"], record["venues"]) == (
        "2027-03-01",
        "2027-03-31",
        ["东街社区学校"],
    )
    assert (record["sessions_planned"], record["sessions_held"]) == (5, 2)
    assert (record["planned_hours"], record["attended_hours"], record["attended_minutes"]) == (7.5, 2.0, 120)
    assert record["attendance_rate"] == pytest.approx(120 / 180, abs=1e-4)
    assert (record["completed"], record["completed_on"]) == (False, None)
    assert (record["credits"], record["points"]) == (0.5, 3.0)  # 2 h / 4 down to a half; 2 h × 1.5
    assert record["scheme"] == {"hours_per_credit": 4.0, "points_per_hour": 1.5, "rounding": "down_to_half"}
    assert (await my_record(li))["attendance_rate"] == 1.0


async def test_completion_is_over_the_whole_term(world, clock):
    await take_rolls(world, clock, 5)
    li, zhang, wang = world.residents

    done = await my_record(li)
    short = await my_record(zhang)
    full = await my_record(wang)

    assert (done["attended_minutes"], done["planned_minutes"], done["completion_percent"]) == (360, 450, 80)
    assert (done["completed"], done["completed_on"], done["attendance_rate"]) == (True, "2027-03-22", 0.8)
    assert (done["credits"], done["points"]) == (1.5, 9.0)
    assert (short["completed"], short["attended_hours"]) == (False, 2.0)
    assert (full["completed"], full["completed_on"], full["credits"]) == (True, "2027-03-22", 1.5)  # 1.875 → 1.5


async def test_a_cancelled_session_is_not_planned(world, make):
    third = world.occurrences[2]["id"]
    assert (await make.client.post(f"/bookings/{world.booking}/occurrences/{third}/cancel")).status_code == 200

    record = await my_record(world.residents[0])

    assert (record["sessions_planned"], record["planned_minutes"], record["planned_hours"]) == (4, 360, 6.0)
    assert (record["sessions_held"], record["attendance_rate"]) == (0, None)


async def test_the_record_needs_a_resident_profile(world, as_user, make, engine, clock):
    no_profile = await as_user("organiser", organisation_id=world.school)
    anonymous = await as_user(None)
    newcomer = await add_resident(engine, clock.now, world.other_community, http=make.client, name="新学员")

    refused(await no_profile.get("/me/learning-record"), 403, "not_a_resident")
    refused(await anonymous.get("/me/learning-record"), 401, "unauthorized")
    assert (await newcomer.http.get("/me/learning-record")).json()["records"] == []


# ---- the credit bank's CSV -----------------------------------------------------------------------


def export_path(**query) -> str:
    return "/learning-records/export.csv?" + "&".join(f"{key}={value}" for key, value in query.items())


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_the_csv_export_is_one_row_per_completed_class(world, clock, as_user, engine):
    await take_rolls(world, clock, 5)
    li, _, wang = world.residents
    admin = await as_user("district_admin", region_id=world.town)

    response = await admin.get(export_path(region_id=world.town, term_start="2027-03-01"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body[3:].decode().split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[0].split(",")[:5] == ["记录编号", "学员编号", "姓名", "证件类型", "证件号后四位"]
    assert len(CSV_COLUMNS) == 25 and lines[-1] == "" and b"\n" not in body.replace(b"\r\n", b"")
    rows = {row["学员编号"]: row for row in rows_of(body)}
    assert set(rows) == {li.public_id, wang.public_id}  # 张建华 did not complete
    row = rows[li.public_id]
    assert (row["姓名"], row["证件类型"], row["证件号后四位"]) == ("李秀英", "居民身份证", "1234")
    assert (row["课程编号"], row["课程名称"], row["课程类别"]) == (str(world.offer), "书法入门", "书画")
    assert (row["办学单位"], row["学习地点"], row["学期"]) == (
        "红旗区社区学院",
        "东街社区学校",
        "2027-03-01至2027-03-31",
    )
    assert (row["开始日期"], row["结束日期"]) == ("2027-03-01", "2027-03-29")
    assert (row["课程学时"], row["实到学时"], row["出勤率"]) == ("7.5", "6", "80.0%")
    assert (row["考核结果"], row["折算比例"], row["学分"]) == ("合格", "4", "1.5")
    assert row["学分方案"].startswith("4学时折1学分")
    assert (row["认定单位"], row["认定人"], row["认定日期"], row["状态"]) == (
        "红旗区社区学院",
        "王建国",
        "2027-03-22",
        "有效",
    )
    assert row["记录编号"].startswith("urn:uuid:")
    assert (rows[wang.public_id]["证件类型"], rows[wang.public_id]["证件号后四位"]) == ("", "")
    async with engine.connect() as connection:
        salt, digest = (
            await connection.execute(select(Resident.id_salt, Resident.id_hash).where(Resident.user_id == li.user_id))
        ).one()
    text = body.decode("utf-8-sig")
    assert ID_NUMBER not in text and ID_NUMBER[:-4] not in text
    assert digest not in text and salt not in text


async def test_an_organisations_managers_export_the_same_rows(world, clock, as_user):
    await take_rolls(world, clock, 5)
    manager = await as_user("venue_manager", organisation_id=world.school)
    admin = await as_user("district_admin", region_id=world.town)

    by_organisation = await manager.get(export_path(organisation_id=world.school))
    by_region = await admin.get(export_path(region_id=world.district))
    another_term = await admin.get(export_path(region_id=world.town, term_start="2027-09-01"))

    assert by_organisation.status_code == 200
    assert by_region.status_code == 403  # the district is above the town this admin administers
    assert len(rows_of(by_organisation.content)) == 2
    assert rows_of(another_term.content) == [] and another_term.content.startswith(b"\xef\xbb\xbf")


async def test_free_text_that_a_spreadsheet_would_run_is_quoted(world, clock, make):
    await take_rolls(world, clock, 5)
    assert (await make.client.patch(f"/classes/{world.offer}", json={"title": "=HYPERLINK(1)"})).status_code == 200

    rows = rows_of((await make.client.get(export_path(organisation_id=world.school))).content)

    assert {row["课程名称"] for row in rows} == {"'=HYPERLINK(1)"}


async def test_only_staff_of_the_region_or_organisation_export(world, clock, as_user, make):
    await take_rolls(world, clock, 5)
    other_group = await make.organisation(name="另一个学习小组")
    organiser = await as_user("organiser", organisation_id=other_group["id"])
    community_admin = await as_user("district_admin", region_id=world.other_community)
    anonymous = await as_user(None)
    resident = world.residents[0].http

    for caller in (organiser, community_admin, resident):
        refused(await caller.get(export_path(organisation_id=world.school)), 403, "forbidden")
        refused(await caller.get(export_path(region_id=world.town)), 403, "forbidden")
    refused(await anonymous.get(export_path(organisation_id=world.school)), 401, "unauthorized")
    assert rows_of((await community_admin.get(export_path(region_id=world.other_community))).content) == []
    refused(
        await make.client.get(export_path(organisation_id=world.school, region_id=world.town)), 422, "invalid_request"
    )
    refused(await make.client.get("/learning-records/export.csv"), 422, "invalid_request")
    refused(await make.client.get(export_path(organisation_id=999999)), 404, "not_found")


# ---- Open Badges 3.0 -----------------------------------------------------------------------------


def refuse_to_fetch(uri: str):
    raise NoSuchResource(ref=uri)


def rfc3339(value: object) -> bool:
    """JSON Schema's date-time: a full date and time with its offset."""
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


def ob3_validator() -> Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    formats = FormatChecker()
    formats.checks("date-time")(rfc3339)
    return Draft201909Validator(schema, registry=Registry(retrieve=refuse_to_fetch), format_checker=formats)


def badge_path(person, world) -> str:
    return f"/learning-records/{person.public_id}/{world.offer}/badge.json"


async def test_a_completed_class_is_an_open_badge_that_validates(world, clock, engine):
    await take_rolls(world, clock, 5)
    li = world.residents[0]

    response = await li.http.get(badge_path(li, world))

    assert response.status_code == 200, response.text
    badge = response.json()
    validator = ob3_validator()
    assert sorted(error.message for error in validator.iter_errors(badge)) == []
    assert badge["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert badge["validFrom"] == "2027-03-22T12:30:00Z"  # the end of the session that completed it
    subject = badge["credentialSubject"]
    assert subject["id"] == f"urn:uuid:{li.public_id}"
    assert (subject["creditsEarned"], subject["achievement"]["name"]) == (1.5, "书法入门")
    assert badge["issuer"]["name"] == "红旗区社区学院"
    record = await my_record(li)
    assert badge["id"] == record["record_id"]
    async with engine.connect() as connection:
        digest = await connection.scalar(select(Resident.id_hash).where(Resident.user_id == li.user_id))
    assert digest not in response.text and "1234" not in response.text
    # The validator is not vacuous: it catches a missing issuer and a date without its offset.
    broken = {key: value for key, value in badge.items() if key != "issuer"} | {"validFrom": "2027-03-22T12:30:00"}
    assert {error.validator for error in validator.iter_errors(broken)} == {"required", "format"}


async def test_a_badge_is_for_the_resident_and_staff_only_and_only_when_completed(world, clock, as_user, make):
    await take_rolls(world, clock, 5)
    li, zhang, wang = world.residents
    manager = await as_user("venue_manager", organisation_id=world.school)
    admin = await as_user("district_admin", region_id=world.town)
    other_group = await make.organisation(name="另一个学习小组")
    organiser = await as_user("organiser", organisation_id=other_group["id"])
    anonymous = await as_user(None)

    assert (await manager.get(badge_path(li, world))).status_code == 200
    assert (await admin.get(badge_path(wang, world))).status_code == 200
    refused(await zhang.http.get(badge_path(zhang, world)), 404, "not_found")  # not completed
    refused(await wang.http.get(badge_path(li, world)), 404, "not_found")  # someone else's
    refused(await organiser.get(badge_path(li, world)), 404, "not_found")
    refused(await anonymous.get(badge_path(li, world)), 401, "unauthorized")
    refused(await li.http.get(f"/learning-records/{li.public_id}/999999/badge.json"), 404, "not_found")


# ---- the private feed ----------------------------------------------------------------------------


@pytest.fixture
async def feeds(transport):
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def utc(local: str) -> str:
    return datetime.fromisoformat(local).astimezone(UTC).isoformat()


async def private_feed(person, feeds) -> bytes:
    issued = await person.http.post("/feeds/private")
    assert issued.status_code == 201, issued.text
    response = await feeds.get(issued.json()["https"].removeprefix("http://testserver"))
    assert response.status_code == 200
    return response.content


async def test_a_residents_private_feed_carries_their_enrolled_classes(world, feeds, make, engine, clock):
    second, third = world.occurrences[1]["id"], world.occurrences[2]["id"]
    path = f"/bookings/{world.booking}/occurrences"
    moved = await make.client.post(f"{path}/{second}/move", json={"starts_at": at(9, 18), "ends_at": at(9, 19, 30)})
    assert moved.status_code == 200, moved.text
    assert (await make.client.post(f"{path}/{third}/cancel")).status_code == 200
    outsider = await add_resident(engine, clock.now, world.community, http=make.client, name="赵大爷")

    body = await private_feed(world.residents[0], feeds)

    held = [
        (at(1, 19), at(1, 20, 30)),
        (at(9, 18), at(9, 19, 30)),
        (at(22, 19), at(22, 20, 30)),
        (at(29, 19), at(29, 20, 30)),
    ]
    confirmed = [(utc(start), utc(end), "CONFIRMED") for start, end in held]
    cancelled = (utc(at(15, 19)), utc(at(15, 20, 30)), "CANCELLED")
    assert icaljs_occurrences(body, *FEED_WINDOW) == sorted([*confirmed, cancelled])
    assert [o for o in ical_occurrences(body, *FEED_WINDOW) if o[2] != "CANCELLED"] == confirmed
    assert "书法入门" in body.decode()
    assert icaljs_occurrences(await private_feed(outsider, feeds), *FEED_WINDOW) == []
