"""Reading .ics files into closure-shaped events: zones, all-day days, series, and every bound."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.ical_import import CalendarEvent, CalendarRejected, ImportLimits, parse_calendar

NOW = datetime(2027, 1, 10, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(("BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *lines, "END:VEVENT"))


def calendar(*events: str, header: tuple[str, ...] = ("X-WR-CALNAME:临江一中 2027 春季",)) -> bytes:
    lines = ("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Linjiang No.1//Timetable//ZH", *header, *events)
    return ("\r\n".join((*lines, "END:VCALENDAR")) + "\r\n").encode()


def parse(data: bytes, limits: ImportLimits | None = None, zone: ZoneInfo = SHANGHAI):
    return parse_calendar(data, now=NOW, zone=zone, **({"limits": limits} if limits else {}))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# A weekly exam series on Mondays, 09:00-11:00 in New York, across the March DST change; the
# 2027-03-08 sitting is cancelled by EXDATE and the 2027-03-22 one moved to Tuesday 14:00.
EXAMS = calendar(
    vevent(
        "exams-2027@linjiang.example",
        "SUMMARY:Mock exams",
        "DTSTART;TZID=America/New_York:20270301T090000",
        "DTEND;TZID=America/New_York:20270301T110000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5",
        "EXDATE;TZID=America/New_York:20270308T090000",
    ),
    vevent(
        "exams-2027@linjiang.example",
        "SUMMARY:Mock exams (moved)",
        "RECURRENCE-ID;TZID=America/New_York:20270322T090000",
        "DTSTART;TZID=America/New_York:20270323T140000",
        "DTEND;TZID=America/New_York:20270323T160000",
    ),
)


def test_all_day_events_are_local_days_with_an_exclusive_end():
    parsed = parse(
        calendar(
            vevent("labour-day", "SUMMARY:劳动节", "DTSTART;VALUE=DATE:20270501", "DTEND;VALUE=DATE:20270504"),
            vevent("sports-day", "SUMMARY:运动会", "DTSTART;VALUE=DATE:20270415"),
        )
    )

    assert parsed.name == "临江一中 2027 春季"
    assert sorted(parsed.events, key=lambda event: event.key) == [
        CalendarEvent("labour-day", "劳动节", first_day=date(2027, 5, 1), end_day=date(2027, 5, 4)),
        CalendarEvent("sports-day", "运动会", first_day=date(2027, 4, 15), end_day=date(2027, 4, 16)),
    ]


def test_timed_events_become_utc_instants():
    parsed = parse(
        calendar(
            vevent(
                "open-day",
                "SUMMARY:Open day",
                "DTSTART;TZID=Asia/Shanghai:20270320T080000",
                "DTEND;TZID=Asia/Shanghai:20270320T120000",
            ),
            vevent("inspection", "DTSTART:20270321T020000Z", "DURATION:PT3H"),
        )
    )

    events = {event.key: event for event in parsed.events}
    assert (events["open-day"].starts_at, events["open-day"].ends_at) == (
        utc("2027-03-20T00:00:00+00:00"),
        utc("2027-03-20T04:00:00+00:00"),
    )
    assert (events["inspection"].starts_at, events["inspection"].ends_at) == (
        utc("2027-03-21T02:00:00+00:00"),
        utc("2027-03-21T05:00:00+00:00"),
    )


def test_a_weekly_series_follows_dst_skips_its_exdate_and_moves_its_override():
    events = {event.key: event for event in parse(EXAMS).events}

    uid = "exams-2027@linjiang.example"
    assert {key: (event.starts_at, event.summary) for key, event in events.items()} == {
        f"{uid}#20270301T140000Z": (utc("2027-03-01T09:00:00-05:00"), "Mock exams"),
        # New York switches to EDT on 2027-03-14: still 09:00 local, an hour earlier in UTC.
        f"{uid}#20270315T130000Z": (utc("2027-03-15T09:00:00-04:00"), "Mock exams"),
        f"{uid}#20270322T130000Z": (utc("2027-03-23T14:00:00-04:00"), "Mock exams (moved)"),
        f"{uid}#20270329T130000Z": (utc("2027-03-29T09:00:00-04:00"), "Mock exams"),
    }
    assert all(event.ends_at - event.starts_at == timedelta(hours=2) for event in events.values())


def test_cancelled_instances_and_transparent_events_are_skipped_not_imported():
    parsed = parse(
        calendar(
            vevent(
                "club",
                "SUMMARY:Chess club",
                "DTSTART;TZID=Asia/Shanghai:20270302T160000",
                "DTEND;TZID=Asia/Shanghai:20270302T170000",
                "RRULE:FREQ=WEEKLY;COUNT=2",
            ),
            vevent(
                "club",
                "SUMMARY:Chess club",
                "RECURRENCE-ID;TZID=Asia/Shanghai:20270309T160000",
                "DTSTART;TZID=Asia/Shanghai:20270309T160000",
                "DTEND;TZID=Asia/Shanghai:20270309T170000",
                "STATUS:CANCELLED",
            ),
            vevent("gone", "SUMMARY:Called off", "DTSTART;VALUE=DATE:20270410", "STATUS:CANCELLED"),
            vevent("note", "SUMMARY:Reminder", "DTSTART;VALUE=DATE:20270411", "TRANSP:TRANSPARENT"),
        )
    )

    assert [event.key for event in parsed.events] == ["club#20270302T080000Z"]
    assert sorted((item.key, item.why) for item in parsed.skipped) == [
        ("club#20270309T080000Z", "cancelled"),
        ("gone", "cancelled"),
        ("note", "transparent"),
    ]


def test_floating_times_are_read_in_the_calendar_zone_else_the_venue_zone():
    event = vevent("float", "DTSTART:20270320T080000", "DTEND:20270320T090000")

    in_venue_zone = parse(calendar(event)).events[0]
    in_calendar_zone = parse(calendar(event, header=("X-WR-TIMEZONE:Europe/Berlin",))).events[0]

    assert in_venue_zone.starts_at == utc("2027-03-20T08:00:00+08:00")
    assert in_calendar_zone.starts_at == utc("2027-03-20T08:00:00+01:00")


def test_only_the_window_from_a_year_back_to_two_years_ahead_is_read():
    parsed = parse(
        calendar(
            vevent("old", "DTSTART;VALUE=DATE:20250101"),
            vevent("far", "DTSTART;VALUE=DATE:20300101"),
            vevent("daily", "DTSTART;VALUE=DATE:20200101", "RRULE:FREQ=DAILY"),
        )
    )

    assert parsed.window == (NOW - timedelta(days=365), NOW + timedelta(days=730))
    assert {event.key.split("#")[0] for event in parsed.events} == {"daily"}
    days = sorted(event.first_day for event in parsed.events)
    # Shanghai days that overlap [2026-01-10T00:00Z, 2029-01-09T00:00Z): 2029-01-09 begins at 16:00Z the day before.
    assert (days[0], days[-1], len(days)) == (date(2026, 1, 10), date(2029, 1, 9), 365 + 365 + 366)


def test_a_vtimezone_in_the_file_defines_its_tzid():
    parsed = parse(
        calendar(
            "\r\n".join(
                (
                    "BEGIN:VTIMEZONE",
                    "TZID:China Standard Time (school)",
                    "BEGIN:STANDARD",
                    "DTSTART:19700101T000000",
                    "TZOFFSETFROM:+0800",
                    "TZOFFSETTO:+0800",
                    "END:STANDARD",
                    "END:VTIMEZONE",
                )
            ),
            vevent("custom", "DTSTART;TZID=China Standard Time (school):20270320T080000", "DURATION:PT1H"),
        )
    )

    assert parsed.events[0].starts_at == utc("2027-03-20T08:00:00+08:00")


ONE_DAY = vevent("one", "DTSTART;VALUE=DATE:20270401")


@pytest.mark.parametrize(
    ("data", "limits", "code"),
    [
        pytest.param(b"this is not a calendar", None, "invalid_calendar", id="not ical"),
        pytest.param(b"\xff\xfeBEGIN:VCALENDAR", None, "invalid_calendar", id="not utf-8"),
        pytest.param(calendar(vevent("x", "DTSTART:garbage")), None, "invalid_calendar", id="bad value"),
        pytest.param(calendar("BEGIN:VEVENT\r\nDTSTART:20270401T000000Z\r\nEND:VEVENT"), None, "invalid_calendar",
                     id="no uid"),
        pytest.param(calendar(vevent("x", "DTSTART:20270401T000000Z", "DTEND:20270301T000000Z")), None,
                     "invalid_calendar", id="ends before it starts"),
        pytest.param(calendar(ONE_DAY), ImportLimits(max_bytes=100), "calendar_too_large", id="too large"),
        pytest.param(calendar(ONE_DAY, ONE_DAY.replace("one", "two")), ImportLimits(max_components=2),
                     "calendar_too_complex", id="too many components"),
        pytest.param(calendar(ONE_DAY), ImportLimits(budget_s=0), "calendar_too_complex", id="time budget"),
        pytest.param(calendar(vevent("x", "DTSTART;VALUE=DATE:20270101", "RRULE:FREQ=DAILY")),
                     ImportLimits(max_occurrences=100), "too_many_occurrences", id="too many occurrences"),
        *(
            pytest.param(calendar(vevent("x", "DTSTART:20270401T000000Z", f"RRULE:FREQ={freq}")), None,
                         "unsupported_recurrence", id=freq)
            for freq in ("SECONDLY", "MINUTELY", "HOURLY")
        ),
        pytest.param(calendar(vevent("x", "DTSTART:20270401T000000Z", "RRULE:FREQ=DAILY;BYHOUR=8,9,10")), None,
                     "unsupported_recurrence", id="several a day"),
        pytest.param(calendar(vevent("x", "DTSTART:20270401T000000Z", "RRULE:FREQ=DAILY", "EXRULE:FREQ=WEEKLY")),
                     None, "unsupported_recurrence", id="exrule"),
        pytest.param(calendar(vevent("x", "DTSTART:00010101T000000Z", "RRULE:FREQ=DAILY")), None,
                     "unsupported_recurrence", id="series from year 1"),
        pytest.param(calendar(vevent("x", "DTSTART:20270401T000000Z", "RRULE:FREQ=DAILY;COUNT=100000")), None,
                     "recurrence_too_long", id="COUNT=100000"),
        pytest.param(calendar(vevent("x", "DTSTART;TZID=Mars/Olympus_Mons:20270401T090000")), None,
                     "unknown_timezone", id="unknown TZID"),
        pytest.param(calendar(ONE_DAY, header=("X-WR-TIMEZONE:Mars/Olympus_Mons",)), None, "unknown_timezone",
                     id="unknown X-WR-TIMEZONE"),
    ],
)  # fmt: skip
def test_refused_calendars_name_the_reason(data: bytes, limits: ImportLimits | None, code: str):
    with pytest.raises(CalendarRejected) as refused:
        parse(data, limits)

    assert refused.value.code == code


def test_count_at_the_limit_is_accepted():
    data = calendar(vevent("x", "DTSTART;VALUE=DATE:20260201", "RRULE:FREQ=DAILY;COUNT=1000"))

    assert len(parse(data).events) == 1000
