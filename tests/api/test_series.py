"""Weekly series: expansion in local time, fail or skip, and managing single sessions."""

import pytest

from tests.factories import at

FIRST_START, FIRST_END = at(2, 19), at(2, 21)


def series(make, space_id, org_id, rrule, starts_at=FIRST_START, ends_at=FIRST_END, **more):
    return make.booking_body(space_id, org_id, starts_at, ends_at, recurrence={"rrule": rrule}, **more)


def local_starts(booking: dict) -> list[str]:
    return [o["starts_at"] for o in booking["occurrences"]]


async def test_weekly_series_on_two_weekdays(make, room, org):
    # 2027-03-02 is a Tuesday.
    response = await make.client.post(
        "/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=24")
    )

    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=24"}
    starts = local_starts(booking)
    assert len(starts) == 24
    assert starts[:3] == ["2027-03-02T11:00:00Z", "2027-03-04T11:00:00Z", "2027-03-09T11:00:00Z"]
    assert starts[-1] == "2027-05-20T11:00:00Z"  # the Thursday of the twelfth week
    assert all(o["original_starts_at"] == o["starts_at"] for o in booking["occurrences"])


async def test_series_in_new_york_keeps_local_time_across_both_dst_changes(make, org):
    venue = await make.venue(timezone="America/New_York")
    room = await make.space(venue_id=venue["id"])
    body = series(
        make,
        room["id"],
        org["id"],
        "FREQ=WEEKLY;UNTIL=20271120T000000Z",
        starts_at="2027-03-02T19:00:00-05:00",
        ends_at="2027-03-02T21:00:00-05:00",
    )

    booking = (await make.client.post("/bookings", json=body)).json()

    utc_hours = {o["starts_at"][11:13] for o in booking["occurrences"]}
    assert utc_hours == {"00", "23"}  # 19:00 EST = 00:00Z, 19:00 EDT = 23:00Z
    starts = set(local_starts(booking))
    # Tuesdays 19:00 local: EST before 14 March and after 7 November, EDT between.
    assert {"2027-03-10T00:00:00Z", "2027-03-16T23:00:00Z", "2027-11-02T23:00:00Z", "2027-11-10T00:00:00Z"} <= starts
    assert len(starts) == 38


async def test_a_series_time_skipped_by_dst_is_refused(make, org):
    venue = await make.venue(timezone="America/New_York")
    room = await make.space(venue_id=venue["id"])
    body = series(
        make,
        room["id"],
        org["id"],
        "FREQ=DAILY;COUNT=14",
        starts_at="2027-03-08T02:30:00-05:00",
        ends_at="2027-03-08T03:30:00-05:00",
    )

    response = await make.client.post("/bookings", json=body)

    assert (response.status_code, response.json()["code"]) == (422, "ambiguous_local_time")
    assert "2027-03-14T02:30" in response.json()["detail"]


async def test_fail_creates_nothing_and_lists_every_failing_date(make, room, org):
    taken_a = (await make.book(room["id"], org["id"], at(9, 20), at(9, 22))).json()
    taken_b = (await make.book(room["id"], org["id"], at(16, 18), at(16, 19, 30))).json()
    await make.client.post(
        "/closures",
        json={"venue_id": room["venue_id"], "start_date": "2027-03-23", "end_date": "2027-03-23", "reason": "holiday"},
    )

    response = await make.client.post("/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=6"))

    assert (response.status_code, response.json()["code"]) == (409, "booking_conflict")
    failures = response.json()["failures"]
    assert [(f["starts_at"], f["reason"]) for f in failures] == [
        ("2027-03-09T11:00:00Z", "booking_conflict"),
        ("2027-03-16T11:00:00Z", "booking_conflict"),
        ("2027-03-23T11:00:00Z", "space_closed"),
    ]
    assert [c["booking_id"] for c in failures[0]["conflicts"]] == [taken_a["id"]]
    assert [c["booking_id"] for c in response.json()["conflicts"]] == [taken_a["id"], taken_b["id"]]
    listed = (await make.client.get("/bookings")).json()
    assert listed["total"] == 2


async def test_skip_creates_the_rest_and_reports_the_skipped_dates(make, room, org):
    taken = (await make.book(room["id"], org["id"], at(9, 20), at(9, 22))).json()
    await make.client.put(
        f"/spaces/{room['id']}/opening-hours",
        json=[{"weekday": 1, "opens": "18:00", "closes": "22:00", "valid_until": "2027-03-20"}],
    )

    response = await make.client.post(
        "/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=4", on_conflict="skip")
    )

    assert response.status_code == 201, response.text
    booking = response.json()
    assert local_starts(booking) == ["2027-03-02T11:00:00Z", "2027-03-16T11:00:00Z"]
    assert [(s["starts_at"], s["reason"]) for s in booking["skipped"]] == [
        ("2027-03-09T11:00:00Z", "booking_conflict"),
        ("2027-03-23T11:00:00Z", "outside_opening_hours"),
    ]
    assert booking["skipped"][0]["conflicts"][0]["booking_id"] == taken["id"]
    assert (await make.client.get(f"/bookings/{booking['id']}")).json()["skipped"] == []


async def test_skip_as_a_query_parameter(make, room, org):
    await make.book(room["id"], org["id"], at(9, 20), at(9, 22))

    response = await make.client.post(
        "/bookings", params={"on_conflict": "skip"}, json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=2")
    )

    assert response.status_code == 201
    assert len(response.json()["skipped"]) == 1


async def test_weekly_series_across_a_public_holiday(make, org):
    venue = await make.venue(closes_on_public_holidays=True)
    room = await make.space(venue_id=venue["id"])
    body = series(
        make,
        room["id"],
        org["id"],
        "FREQ=WEEKLY;COUNT=3",
        starts_at="2027-09-24T19:00:00+08:00",
        ends_at="2027-09-24T21:00:00+08:00",
        on_conflict="skip",
    )

    booking = (await make.client.post("/bookings", json=body)).json()

    assert [s["starts_at"] for s in booking["skipped"]] == ["2027-10-01T11:00:00Z"]  # National Day
    assert [s["reason"] for s in booking["skipped"]] == ["space_closed"]
    assert len(booking["occurrences"]) == 2


async def test_when_every_date_fails_skip_creates_nothing(make, room, org):
    await make.client.post(
        "/closures",
        json={"space_id": room["id"], "start_date": "2027-03-01", "end_date": "2027-03-31", "reason": "maintenance"},
    )

    response = await make.client.post(
        "/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=3", on_conflict="skip")
    )

    assert (response.status_code, response.json()["code"]) == (422, "space_closed")
    assert (await make.client.get("/bookings")).json()["total"] == 0


@pytest.mark.parametrize(
    ("rrule", "code"),
    [
        ("FREQ=HOURLY;COUNT=3", "unsupported_recurrence"),
        ("FREQ=SECONDLY;COUNT=3", "unsupported_recurrence"),
        ("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=3", "unsupported_recurrence"),
        ("FREQ=WEEKLY", "unsupported_recurrence"),
        ("FREQ=WEEKLY;COUNT=501", "recurrence_too_long"),
        ("FREQ=DAILY;UNTIL=20290601", "recurrence_too_long"),
        ("FREQ=MONTHLY;COUNT=30", "recurrence_too_long"),
    ],
)
async def test_rules_outside_the_subset_or_the_limits(make, room, org, rrule, code):
    response = await make.client.post("/bookings", json=series(make, room["id"], org["id"], rrule))

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert (await make.client.get("/bookings")).json()["total"] == 0


async def test_a_series_with_one_moved_and_one_cancelled_session(make, room, org):
    booking = (
        await make.client.post("/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=4"))
    ).json()
    second, third = booking["occurrences"][1], booking["occurrences"][2]

    moved = await make.client.post(
        f"/bookings/{booking['id']}/occurrences/{second['id']}/move",
        json={"starts_at": at(10, 18), "ends_at": at(10, 20)},
    )
    assert moved.status_code == 200, moved.text
    cancelled = await make.client.post(f"/bookings/{booking['id']}/occurrences/{third['id']}/cancel")
    assert cancelled.status_code == 200

    sessions = {(o["original_starts_at"], o["state"]): o for o in cancelled.json()["occurrences"]}
    assert sessions[("2027-03-09T11:00:00Z", "moved")]["starts_at"] == "2027-03-09T11:00:00Z"
    assert sessions[("2027-03-09T11:00:00Z", "confirmed")]["starts_at"] == "2027-03-10T10:00:00Z"
    assert sessions[("2027-03-16T11:00:00Z", "cancelled")]
    assert cancelled.json()["state"] == "confirmed"
    # The old time of the moved session and the cancelled date are free again.
    assert (await make.book(room["id"], org["id"], at(9, 19), at(9, 21))).status_code == 201
    assert (await make.book(room["id"], org["id"], at(16, 19), at(16, 21))).status_code == 201
    # The new time is taken.
    assert (await make.book(room["id"], org["id"], at(10, 19), at(10, 20))).json()["code"] == "booking_conflict"


async def test_moving_checks_like_a_new_booking(make, room, org):
    other_room = await make.space(venue_id=room["venue_id"], name="Room 2", capacity=5)
    booking = (
        await make.client.post("/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=2"))
    ).json()
    blocker = (await make.book(room["id"], org["id"], at(12, 9), at(12, 10))).json()
    first = booking["occurrences"][0]
    path = f"/bookings/{booking['id']}/occurrences/{first['id']}/move"

    taken = await make.client.post(path, json={"starts_at": at(12, 9), "ends_at": at(12, 11)})
    assert (taken.status_code, taken.json()["code"]) == (409, "booking_conflict")
    assert taken.json()["conflicts"][0]["booking_id"] == blocker["id"]
    small = await make.client.post(
        path, json={"starts_at": at(12, 12), "ends_at": at(12, 13), "space_id": other_room["id"]}
    )
    assert small.json()["code"] == "capacity_exceeded"
    # Nothing changed: the session still holds its slot.
    assert (await make.book(room["id"], org["id"], at(2, 19), at(2, 20))).json()["code"] == "booking_conflict"
    # Half an hour later, overlapping its own old time, is fine.
    assert (
        await make.client.post(path, json={"starts_at": at(2, 19, 30), "ends_at": at(2, 21, 30)})
    ).status_code == 200


async def test_cancel_this_and_all_following(make, room, org):
    booking = (
        await make.client.post("/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=5"))
    ).json()
    third = booking["occurrences"][2]

    response = await make.client.post(
        f"/bookings/{booking['id']}/occurrences/{third['id']}/cancel", params={"following": "true"}
    )

    assert [o["state"] for o in response.json()["occurrences"]] == ["confirmed"] * 2 + ["cancelled"] * 3
    first = booking["occurrences"][0]
    rest = await make.client.post(
        f"/bookings/{booking['id']}/occurrences/{first['id']}/cancel", params={"following": "true"}
    )
    assert rest.json()["state"] == "cancelled"


async def test_re_adding_a_skipped_date(make, room, org):
    blocker = (await make.book(room["id"], org["id"], at(9, 20), at(9, 22))).json()
    booking = (
        await make.client.post(
            "/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=3", on_conflict="skip")
        )
    ).json()
    path = f"/bookings/{booking['id']}/occurrences"

    still_taken = await make.client.post(path, json={"starts_at": at(9, 19)})
    assert still_taken.json()["code"] == "booking_conflict"
    await make.client.post(f"/bookings/{blocker['id']}/cancel")
    readded = await make.client.post(path, json={"starts_at": at(9, 19)})
    assert readded.status_code == 200, readded.text
    assert len(readded.json()["occurrences"]) == 3

    again = await make.client.post(path, json={"starts_at": at(9, 19)})
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state_transition")
    not_in_series = await make.client.post(path, json={"starts_at": at(10, 19)})
    assert (not_in_series.status_code, not_in_series.json()["code"]) == (422, "invalid_request")


async def test_a_divisible_hall_series_cancels_a_whole_session(make, org):
    hall, courts = await make.hall(courts=2)
    booking = (
        await make.client.post("/bookings", json=series(make, hall["id"], org["id"], "FREQ=WEEKLY;COUNT=2"))
    ).json()
    assert len(booking["occurrences"]) == 4
    one_court_row = booking["occurrences"][0]

    response = await make.client.post(f"/bookings/{booking['id']}/occurrences/{one_court_row['id']}/cancel")

    states = sorted((o["starts_at"], o["state"]) for o in response.json()["occurrences"])
    assert states == [
        ("2027-03-02T11:00:00Z", "cancelled"),
        ("2027-03-02T11:00:00Z", "cancelled"),
        ("2027-03-09T11:00:00Z", "confirmed"),
        ("2027-03-09T11:00:00Z", "confirmed"),
    ]
    assert (await make.book(courts[0]["id"], org["id"], at(2, 19), at(2, 21))).status_code == 201


async def test_session_errors(make, room, org):
    booking = (
        await make.client.post("/bookings", json=series(make, room["id"], org["id"], "FREQ=WEEKLY;COUNT=2"))
    ).json()
    other = (await make.book(room["id"], org["id"], at(20, 9), at(20, 10))).json()
    foreign = other["occurrences"][0]["id"]

    response = await make.client.post(f"/bookings/{booking['id']}/occurrences/{foreign}/cancel")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    first = booking["occurrences"][0]["id"]
    await make.client.post(f"/bookings/{booking['id']}/occurrences/{first}/cancel")
    twice = await make.client.post(f"/bookings/{booking['id']}/occurrences/{first}/cancel")
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_state_transition")
