"""Importing a school's calendar as closures: preview, collisions, re-import, refusals, permissions."""

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from booking.models import Closure
from booking.rules.permissions import SYSTEM
from booking.services.imports import Owner, import_closures
from tests.factories import at
from tests.integrations.test_ical_import import EXAMS, calendar, vevent

ICS = {"Content-Type": "text/calendar; charset=utf-8"}
UID = "exams-2027@linjiang.example"
TIMETABLE = calendar(
    vevent("labour-day", "SUMMARY:劳动节", "DTSTART;VALUE=DATE:20270501", "DTEND;VALUE=DATE:20270504"),
    vevent(
        "exam-week",
        "SUMMARY:期中考试",
        "DTSTART;TZID=Asia/Shanghai:20270302T080000",
        "DTEND;TZID=Asia/Shanghai:20270302T120000",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "EXDATE;TZID=Asia/Shanghai:20270309T080000",
    ),
    vevent(
        "exam-week",
        "SUMMARY:期中考试 (改期)",
        "RECURRENCE-ID;TZID=Asia/Shanghai:20270316T080000",
        "DTSTART;TZID=Asia/Shanghai:20270317T140000",
        "DTEND;TZID=Asia/Shanghai:20270317T170000",
    ),
)


async def closure_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(Closure))


@pytest.fixture
async def school(make):
    space = await make.space()
    group = await make.organisation()
    return space, group


async def upload(http: httpx.AsyncClient, venue_id: int, body: bytes, **query) -> httpx.Response:
    return await http.post(f"/venues/{venue_id}/closures/import", content=body, headers=ICS, params=query)


async def test_preview_reports_closures_and_the_bookings_they_cover_and_writes_nothing(client, make, school, engine):
    space, group = school
    booked = await make.book(space["id"], group["id"], at(2, 9), at(2, 10), title="Choir")
    assert booked.status_code == 201, booked.text
    await make.book(space["id"], group["id"], at(9, 9), at(9, 10), title="Not in the way")

    response = await upload(client, space["venue_id"], TIMETABLE, preview="true")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["preview"] is True
    assert report["source"] == "upload:临江一中 2027 春季"  # X-WR-CALNAME
    created = {item["source_uid"]: item for item in report["created"]}
    assert set(created) == {"labour-day", "exam-week#20270302T000000Z", "exam-week#20270316T000000Z"}
    assert all(item["id"] is None for item in report["created"])
    labour = created["labour-day"]
    assert (labour["start_date"], labour["end_date"]) == ("2027-05-01", "2027-05-03")
    assert (labour["starts_at"], labour["ends_at"]) == ("2027-04-30T16:00:00Z", "2027-05-03T16:00:00Z")
    moved = created["exam-week#20270316T000000Z"]
    assert (moved["starts_at"], moved["note"]) == ("2027-03-17T06:00:00Z", "期中考试 (改期)")
    first = created["exam-week#20270302T000000Z"]
    assert [hit["booking_id"] for hit in first["collisions"]] == [booked.json()["id"]]
    assert first["collisions"][0]["title"] == "Choir"
    assert await closure_count(engine) == 0


async def test_import_creates_closures_and_reimport_changes_nothing(client, school, engine):
    space, _ = school
    venue_id = space["venue_id"]

    first = await upload(client, venue_id, TIMETABLE, reason="exam")
    again = await upload(client, venue_id, TIMETABLE, reason="exam")

    assert first.status_code == 201, first.text
    assert all(isinstance(item["id"], int) and item["reason"] == "exam" for item in first.json()["created"])
    assert again.status_code == 201, again.text
    assert (again.json()["created"], again.json()["updated"], again.json()["removed"]) == ([], [], [])
    assert again.json()["unchanged"] == 3
    listed = (await client.get("/closures", params={"venue_id": venue_id})).json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(item["id"] for item in first.json()["created"])
    assert await closure_count(engine) == 3


async def test_an_edited_calendar_updates_and_removes_its_closures_only(client, school, engine):
    space, _ = school
    venue_id = space["venue_id"]
    created = (await upload(client, venue_id, TIMETABLE)).json()["created"]
    day = {"start_date": "2027-05-02", "end_date": "2027-05-02"}
    manual = await client.post("/closures", json={"venue_id": venue_id, **day, "reason": "other"})
    assert manual.status_code == 201
    edited = calendar(
        vevent("labour-day", "SUMMARY:劳动节", "DTSTART;VALUE=DATE:20270501", "DTEND;VALUE=DATE:20270506"),
        vevent("new-event", "SUMMARY:校庆", "DTSTART;VALUE=DATE:20270601"),
    )

    response = await upload(client, venue_id, edited)

    report = response.json()
    ids = {item["source_uid"]: item["id"] for item in created}
    assert [(item["source_uid"], item["id"], item["end_date"]) for item in report["updated"]] == [
        ("labour-day", ids["labour-day"], "2027-05-05")
    ]
    assert sorted(item["source_uid"] for item in report["removed"]) == [
        "exam-week#20270302T000000Z",
        "exam-week#20270316T000000Z",
    ]
    assert [item["source_uid"] for item in report["created"]] == ["new-event"]
    assert await closure_count(engine) == 3  # labour day, the new event and the manual closure


async def test_a_space_import_closes_that_space(client, school):
    space, _ = school

    response = await client.post(
        f"/spaces/{space['id']}/closures/import", content=EXAMS, headers=ICS, params={"source": "exams"}
    )

    assert response.status_code == 201, response.text
    closure = (await client.get(f"/closures/{response.json()['created'][0]['id']}")).json()
    assert (closure["space_id"], closure["venue_id"]) == (space["id"], None)
    # New York's 09:00 before and after its DST change.
    assert sorted(item["starts_at"] for item in response.json()["created"])[:2] == [
        "2027-03-01T14:00:00Z",
        "2027-03-15T13:00:00Z",
    ]


TWENTY_MB = b"BEGIN:VCALENDAR\r\n" + b"X-FILLER:" + b"x" * (20 * 1024 * 1024) + b"\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        pytest.param(ICS, b"BEGIN:VCALENDAR\r\nthis is not ical", 422, "invalid_calendar", id="malformed"),
        pytest.param({"Content-Type": "text/plain"}, TIMETABLE, 415, "unsupported_media_type", id="text/plain"),
        pytest.param(ICS, TWENTY_MB, 413, "calendar_too_large", id="20 MB"),
        pytest.param(ICS, TIMETABLE.replace(b"FREQ=WEEKLY", b"FREQ=SECONDLY"), 422, "unsupported_recurrence",
                     id="FREQ=SECONDLY"),
        pytest.param(ICS, TIMETABLE.replace(b"COUNT=3", b"COUNT=100000"), 422, "recurrence_too_long",
                     id="COUNT=100000"),
        pytest.param(ICS, TIMETABLE.replace(b"TZID=Asia/Shanghai", b"TZID=Asia/Atlantis"), 422, "unknown_timezone",
                     id="unknown TZID"),
        pytest.param({}, {"url": "http://127.0.0.1:8000/school.ics"}, 422, "url_not_allowed", id="loopback"),
        pytest.param({}, {"url": "https://10.0.0.1/school.ics"}, 422, "url_not_allowed", id="10/8"),
        pytest.param({}, {"url": "http://[::1]/school.ics"}, 422, "url_not_allowed", id="::1"),
        pytest.param({}, {"url": "file:///etc/passwd"}, 422, "url_not_allowed", id="file URL"),
        pytest.param({}, {"website": "https://example.org"}, 422, "invalid_request", id="no url"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_with_its_code_and_nothing_is_imported(
    client, school, engine, headers, body, status, code
):
    space, _ = school
    sent = {"json": body} if isinstance(body, dict) else {"content": body, "headers": headers}

    response = await client.post(f"/venues/{space['venue_id']}/closures/import", **sent)

    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert await closure_count(engine) == 0


async def test_another_schools_manager_is_refused(as_user, make, school, engine):
    space, _ = school
    other_school = await make.organisation(kind="school", name="临江第二中学")
    other_manager = await as_user("venue_manager", organisation_id=other_school["id"])

    response = await upload(other_manager, space["venue_id"], TIMETABLE)

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert await closure_count(engine) == 0


async def test_a_url_import_goes_through_the_fetcher_and_is_keyed_by_the_url(client, school, engine):
    space, _ = school
    url = "https://calendar.linjiang.example/school.ics"
    fetched: list[str] = []

    async def fake_fetch(requested: str) -> bytes:
        fetched.append(requested)
        return TIMETABLE

    now = datetime(2027, 1, 10, tzinfo=UTC)
    owner = Owner(venue_id=space["venue_id"], space_id=None)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
        report = await import_closures(session, SYSTEM, owner=owner, now=now, url=url, fetcher=fake_fetch)

    assert fetched == [url]
    assert report.source == url
    assert len(report.created) == 3
    rows = (await client.get("/closures", params={"venue_id": space["venue_id"]})).json()
    assert rows["total"] == 3
