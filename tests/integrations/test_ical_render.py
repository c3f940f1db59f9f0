"""The iCal renderer: its bytes, its time zones, and what real calendar clients make of them.

The clients are ical.js (Thunderbird's engine, run by Node) and Home Assistant's ``ical``; each
test computes what they should see from zoneinfo alone, independently of the renderer.
"""

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from booking.rules import recurrence
from integrations.ical import (
    DayBlock,
    Event,
    Feed,
    FeedError,
    Method,
    Person,
    Session,
    SessionState,
    invitation,
    render,
)
from integrations.vtimezone import vtimezone
from tests.clients.oracles import ical_occurrences, icaljs_events, icaljs_itip, icaljs_occurrences

CREATED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
UPDATED = datetime(2026, 1, 20, 17, 45, 12, tzinfo=UTC)
WIDE = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))  # client expansion window
# Four weeks before a DST change of each zone (Shanghai has none): a Tuesday at 19:00 local.
SERIES_STARTS = {
    "Asia/Shanghai": datetime(2026, 3, 10, 19),
    "America/New_York": datetime(2026, 2, 10, 19),  # DST from 8 March
    "Europe/Dublin": datetime(2026, 3, 3, 19),  # IST from 29 March (negative DST in tzdata)
    "Australia/Lord_Howe": datetime(2026, 3, 10, 19),  # +10:30 from 5 April (30-minute DST)
}
SKIPPED, MOVED, CANCELLED = 2, 4, 6  # rule instances: never booked, moved a day and an hour later, cancelled
WEEKS = 8


def utc(wall: datetime, zone: str) -> datetime:
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def make_event(zone: str = "Europe/Dublin", first: datetime = datetime(2026, 3, 3, 19), **overrides) -> Event:
    """A weekly two-hour series, every rule instance booked (sessions follow ``rrule`` if given)."""
    rrule = overrides.pop("rrule", f"FREQ=WEEKLY;COUNT={WEEKS}")
    starts = [utc(first + timedelta(weeks=week), zone) for week in range(WEEKS)]
    sessions = tuple(Session(start, start, start + timedelta(hours=2), SessionState.confirmed) for start in starts)
    values = {
        "uid": "series-1.class@feeds.example.org",
        "summary": "Choir practice",
        "timezone": zone,
        "starts_at": starts[0],
        "ends_at": starts[0] + timedelta(hours=2),
        "rrule": rrule,
        "sessions": sessions,
        "sequence": 3,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "location": "Main hall",
    } | overrides
    if values["rrule"] and "instances" not in values:
        values["instances"] = instances_of(values["rrule"], values["starts_at"], values["ends_at"], zone)
    return Event(**values)


def instances_of(rrule: str, starts_at: datetime, ends_at: datetime, zone: str) -> tuple[datetime, ...]:
    """The rule's instances as the engine expands them (the renderer is given them, as the service gives them)."""
    expanded = recurrence.expand(recurrence.parse(rrule), starts_at, ends_at, ZoneInfo(zone), now=starts_at)
    return tuple(start for start, _ in expanded)


def make_feed(*events: Event, **overrides) -> Feed:
    values = {
        "name": "Riverside Library, Hall A; upstairs",
        "description": "Bookings of Hall A",
        "source_url": "https://feeds.example.org/venues/12.ics",
        "window_start": datetime(2026, 1, 1, tzinfo=UTC),
        "window_end": datetime(2026, 12, 31, tzinfo=UTC),
        "events": events,
    }
    return Feed(**(values | overrides))


def with_changes(event: Event) -> Event:
    """The series with one date skipped, one moved (a day and an hour later) and one cancelled."""
    sessions = []
    for index, session in enumerate(event.sessions):
        if index == SKIPPED:
            continue
        if index == MOVED:
            shift = timedelta(days=1, hours=1)
            session = replace(session, start=session.start + shift, end=session.end + shift)
        if index == CANCELLED:
            session = replace(session, state=SessionState.cancelled)
        sessions.append(session)
    return replace(event, sessions=tuple(sessions))


def expected_changed_series(zone: str, first: datetime, show_cancelled: bool) -> list[tuple[str, str, str]]:
    """What every client must show for ``with_changes``, from zoneinfo and the wall clock alone."""
    expected = []
    for week in range(WEEKS):
        wall = first + timedelta(weeks=week)
        if week == SKIPPED or (week == CANCELLED and not show_cancelled):
            continue
        if week == MOVED:
            wall += timedelta(days=1, hours=1)
        status = "CANCELLED" if week == CANCELLED else "CONFIRMED"
        expected.append((iso(utc(wall, zone)), iso(utc(wall + timedelta(hours=2), zone)), status))
    return sorted(expected)


def lines(body: bytes) -> list[str]:
    """Unfolded content lines."""
    return body.decode().replace("\r\n ", "").split("\r\n")[:-1]


def unescape(text: str) -> str:
    """RFC 5545 TEXT unescaping (§3.3.11)."""
    return re.sub(r"\\([\\;,nN])", lambda match: "\n" if match[1] in "nN" else match[1], text)


def components(body: bytes, name: str) -> list:
    return [component for component in Calendar.from_ical(body).walk(name)]


# --- what the clients see ----------------------------------------------------------------------


@pytest.mark.parametrize("show_cancelled", [True, False], ids=["people", "venue"])
@pytest.mark.parametrize("zone", sorted(SERIES_STARTS))
def test_every_client_sees_the_changed_series_as_zoneinfo_says(zone, show_cancelled):
    first = SERIES_STARTS[zone]
    body = render(make_feed(with_changes(make_event(zone, first)), show_cancelled=show_cancelled))
    expected = expected_changed_series(zone, first, show_cancelled)

    assert icaljs_occurrences(body, *WIDE) == expected
    assert ical_occurrences(body, *WIDE) == expected


@pytest.mark.parametrize("show_cancelled", [True, False], ids=["people", "venue"])
def test_a_moved_session_is_one_override_and_a_cancelled_one_an_exdate_or_a_cancelled_override(show_cancelled):
    zone, first = "America/New_York", SERIES_STARTS["America/New_York"]
    body = render(make_feed(with_changes(make_event(zone, first)), show_cancelled=show_cancelled))
    original = first + timedelta(weeks=MOVED)
    cancelled = first + timedelta(weeks=CANCELLED)
    skipped = first + timedelta(weeks=SKIPPED)

    events = components(body, "VEVENT")
    overrides = {event["RECURRENCE-ID"].dt.replace(tzinfo=None): event for event in events if "RECURRENCE-ID" in event}
    exdates = {value.dt.replace(tzinfo=None) for event in events for value in _exdates(event)}
    assert {event["UID"] for event in events} == {"series-1.class@feeds.example.org"}
    assert overrides[original]["DTSTART"].dt.replace(tzinfo=None) == original + timedelta(days=1, hours=1)
    assert str(overrides[original]["STATUS"]) == "CONFIRMED"
    if show_cancelled:
        assert (set(overrides), exdates) == ({original, cancelled}, {skipped})
        assert str(overrides[cancelled]["STATUS"]) == "CANCELLED"
    else:
        assert (set(overrides), exdates) == ({original}, {skipped, cancelled})
    starts = [start for start, _, _ in icaljs_occurrences(body, *WIDE)]
    assert iso(utc(original, zone)) not in starts


def _exdates(event) -> list:
    values = event.get("EXDATE", [])
    return [date for exdate in (values if isinstance(values, list) else [values]) for date in exdate.dts]


ZONES_TO_CHECK = ["Asia/Shanghai", "America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "Africa/Casablanca"]


@pytest.mark.parametrize("zone", ZONES_TO_CHECK)
def test_icaljs_puts_a_daily_series_where_zoneinfo_does_all_year(zone):
    first = datetime(2026, 1, 1, 12)
    days = 365 * 2
    walls = [first + timedelta(days=day) for day in range(days)]
    sessions = tuple(
        Session(utc(wall, zone), utc(wall, zone), utc(wall, zone) + timedelta(hours=1), SessionState.confirmed)
        for wall in walls
    )
    event = make_event(
        zone,
        first,
        rrule=f"FREQ=DAILY;COUNT={days}",
        sessions=sessions,
        ends_at=sessions[0].start + timedelta(hours=1),
        instances=tuple(session.start for session in sessions),  # longer than the engine books
    )
    feed = make_feed(
        event, window_start=datetime(2026, 1, 1, tzinfo=UTC), window_end=datetime(2027, 12, 31, tzinfo=UTC)
    )  # the window the feed was cut for, not the client's

    expected = [(iso(utc(wall, zone)), iso(utc(wall, zone) + timedelta(hours=1)), "CONFIRMED") for wall in walls]
    assert icaljs_occurrences(render(feed), *WIDE) == expected


def test_a_series_that_started_long_before_the_window_gets_a_zone_that_covers_its_start():
    zone, first = "America/New_York", datetime(2025, 1, 7, 19)  # the window is 2026 only
    body = render(make_feed(make_event(zone, first)))
    expected = [
        (iso(utc(wall, zone)), iso(utc(wall + timedelta(hours=2), zone)), "CONFIRMED")
        for wall in (first + timedelta(weeks=week) for week in range(WEEKS))
    ]
    assert icaljs_occurrences(body, *WIDE) == expected


@pytest.mark.parametrize(
    ("rrule", "last_local"),
    [
        ("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20260326", datetime(2026, 3, 26, 19)),  # a whole local date
        ("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20260326T190000", datetime(2026, 3, 26, 19)),  # a local stamp
        ("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20260326T185959", datetime(2026, 3, 24, 19)),
    ],
)
def test_until_is_written_in_utc_and_adds_no_instance(rrule, last_local):
    zone, first = "Europe/Dublin", datetime(2026, 3, 3, 19)
    walls = [first + timedelta(days=day) for day in range(30) if (first + timedelta(days=day)).weekday() in (1, 3)]
    walls = [wall for wall in walls if wall <= last_local]
    sessions = tuple(
        Session(utc(wall, zone), utc(wall, zone), utc(wall + timedelta(hours=2), zone), SessionState.confirmed)
        for wall in walls
    )
    body = render(make_feed(make_event(zone, first, rrule=rrule, sessions=sessions)))

    rules = [line for line in lines(body) if line.startswith("RRULE:") and "YEARLY" not in line]
    assert rules == [f"RRULE:FREQ=WEEKLY;UNTIL={utc(last_local, zone):%Y%m%dT%H%M%SZ};BYDAY=TU,TH"]
    expected = [(iso(utc(wall, zone)), iso(utc(wall + timedelta(hours=2), zone)), "CONFIRMED") for wall in walls]
    assert icaljs_occurrences(body, *WIDE) == expected
    assert ical_occurrences(body, *WIDE) == expected


def test_all_day_blocks_use_dates_with_an_exclusive_end_in_every_client():
    block = DayBlock(
        "closure-4.venue@feeds.example.org", "Closed: floor works", date(2026, 4, 30), date(2026, 5, 2), UPDATED
    )
    body = render(make_feed(days=(block,)))

    assert "DTSTART;VALUE=DATE:20260430" in lines(body)
    assert "DTEND;VALUE=DATE:20260503" in lines(body)
    expected = [("2026-04-30", "2026-05-03", "")]
    assert icaljs_occurrences(body, *WIDE) == expected
    assert ical_occurrences(body, *WIDE) == expected


def test_one_offs_are_shown_at_their_session_and_a_cancelled_one_only_in_peoples_feeds():
    start = utc(datetime(2026, 6, 2, 10), "Asia/Shanghai")
    session = Session(start, start + timedelta(hours=1), start + timedelta(hours=3), SessionState.confirmed)
    one_off = make_event("Asia/Shanghai", rrule=None, sessions=(session,), uid="one-off@feeds.example.org")
    cancelled = replace(one_off, uid="gone@feeds.example.org", cancelled=True)
    feed = make_feed(one_off, cancelled)

    moved = (iso(session.start), iso(session.end))
    assert icaljs_occurrences(render(feed), *WIDE) == sorted([(*moved, "CANCELLED"), (*moved, "CONFIRMED")])
    assert ical_occurrences(render(replace(feed, show_cancelled=False)), *WIDE) == [(*moved, "CONFIRMED")]
    assert "RRULE" not in render(feed).decode()


def test_a_cancelled_series_is_cancelled_everywhere_for_people_and_gone_for_venues():
    zone, first = "Europe/Dublin", SERIES_STARTS["Europe/Dublin"]
    event = replace(with_changes(make_event(zone, first)), cancelled=True, sequence=4)

    shown = icaljs_occurrences(render(make_feed(event)), *WIDE)
    assert {status for _, _, status in shown} == {"CANCELLED"}
    assert [start for start, _, _ in shown] == [start for start, _, _ in expected_changed_series(zone, first, True)]
    assert icaljs_occurrences(render(make_feed(event, show_cancelled=False)), *WIDE) == []


def test_text_with_separators_newlines_and_full_width_punctuation_round_trips_in_every_client():
    summary = "Maths, year 9; room \\ B\nsecond line 数学，第二课；"
    event = make_event(summary=summary, rrule="FREQ=WEEKLY;COUNT=1", sessions=make_event().sessions[:1])
    body = render(make_feed(event))

    assert "SUMMARY:Maths\\, year 9\\; room \\\\ B\\nsecond line 数学，第二课；" in lines(body)
    assert str(components(body, "VEVENT")[0]["SUMMARY"]) == summary
    assert [event["summary"] for event in icaljs_events(body, *WIDE)] == [summary]
    from ical.calendar_stream import IcsCalendarStream

    assert [item.summary for item in IcsCalendarStream.calendar_from_ics(body.decode()).events] == [summary]


# --- the bytes ---------------------------------------------------------------------------------


def busy_feed(**overrides) -> Feed:
    """Two zones, a changed series, a one-off, an all-day block, long multi-byte text."""
    long_text = "Répétition de la chorale — 合唱团排练，请准时到场；" * 6
    series = with_changes(make_event(description=long_text))
    start = utc(datetime(2026, 5, 5, 9), "America/New_York")
    one_off = make_event(
        "America/New_York",
        uid="talk-9.venue@feeds.example.org",
        rrule=None,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        sessions=(),
        summary=long_text,
    )
    block = DayBlock("closure-1.venue@feeds.example.org", "Closed", date(2026, 8, 1), date(2026, 8, 1), UPDATED)
    return make_feed(series, one_off, days=(block,), **overrides)


def test_lines_end_in_crlf_and_are_folded_at_75_octets_without_splitting_characters():
    body = render(busy_feed())
    assert body.endswith(b"\r\n")
    physical = body.split(b"\r\n")[:-1]
    assert any(line.startswith(b" ") for line in physical)  # the long text was folded
    for line in physical:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 75
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert not body.startswith(b"\xef\xbb\xbf")


def test_the_calendar_header():
    body = render(busy_feed(refresh=timedelta(minutes=30)))
    content = lines(body)
    header = content[: content.index("BEGIN:VTIMEZONE")]
    assert content.count("VERSION:2.0") == 1
    assert len([line for line in content if line.startswith("PRODID:")]) == 1
    assert not any(line.startswith(("METHOD", "ATTENDEE", "ORGANIZER")) for line in content)
    assert "NAME:Riverside Library\\, Hall A\\; upstairs" in header
    assert "X-WR-CALNAME:Riverside Library\\, Hall A\\; upstairs" in header
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT30M" in header
    assert "X-PUBLISHED-TTL:PT30M" in header
    assert "SOURCE;VALUE=URI:https://feeds.example.org/venues/12.ics" in header
    calendar = Calendar.from_ical(body)  # icalendar reads NAME and X- properties as raw text: unescape them
    names = {unescape(str(calendar[name])) for name in ("NAME", "X-WR-CALNAME")}
    assert names == {"Riverside Library, Hall A; upstairs"}


def test_the_calendar_uid_comes_from_the_feed_url():
    def uid(feed: Feed) -> str:
        return str(Calendar.from_ical(render(feed))["UID"])

    assert uid(busy_feed()) == uid(busy_feed(name="Renamed", events=()))
    assert uid(busy_feed()) != uid(busy_feed(source_url="https://feeds.example.org/venues/13.ics"))


def test_each_zone_has_one_vtimezone_before_the_first_event():
    body = render(busy_feed())
    content = lines(body)
    zones = [line for line in content if line.startswith("TZID:")]
    assert zones == ["TZID:America/New_York", "TZID:Europe/Dublin"]
    assert content.index("END:VTIMEZONE", content.index(zones[-1])) < content.index("BEGIN:VEVENT")
    assert Calendar.from_ical(body).get_missing_tzids() == set()


def test_no_floating_times_outside_vtimezones():
    content = lines(render(busy_feed()))
    outside = content[len(content) - content[::-1].index("END:VTIMEZONE") :]
    stamped = [line for line in outside if re.match(r"[A-Z-]+(;[^:]*)?:\d{8}T\d{6}", line)]
    assert len(stamped) > 10
    for line in stamped:
        name, value = line.split(":", 1)
        assert ";TZID=" in name or value.endswith("Z"), line
    for line in outside:
        if re.match(r"[A-Z-]+(;[^:]*)?:\d{8}$", line):
            assert "VALUE=DATE" in line, line


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Dublin", "Australia/Lord_Howe"])
def test_dst_zones_are_yearly_rules_with_one_standard_and_one_daylight(zone):
    text = vtimezone(zone, 2025, 2027)
    assert text.count("BEGIN:STANDARD") == text.count("BEGIN:DAYLIGHT") == 1
    assert text.count("RRULE:FREQ=YEARLY;") == 2
    assert "RDATE" not in text


def test_a_zone_without_dst_is_one_standard_observance():
    text = vtimezone("Asia/Shanghai", 2026, 2027)
    assert text.count("BEGIN:STANDARD") == 1
    assert "DAYLIGHT" not in text and "RRULE" not in text and "RDATE" not in text
    assert "TZOFFSETFROM:+0800" in text and "TZOFFSETTO:+0800" in text


def test_an_irregular_zone_falls_back_to_one_rdate_per_line():
    text = vtimezone("Africa/Casablanca", 2025, 2027)
    rdates = [line for line in text.split("\r\n") if line.startswith("RDATE")]
    assert rdates
    assert all("," not in line for line in rdates)


def test_every_vevent_has_identity_and_a_positive_length():
    for event in components(render(busy_feed()), "VEVENT"):
        assert event["UID"] and event["DTSTART"]
        assert event["DTSTAMP"].to_ical().endswith(b"Z")
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        if isinstance(start, datetime):
            assert end > start
        else:
            assert end >= start + timedelta(days=1)


def test_rendering_is_deterministic():
    feed = busy_feed()
    body = render(feed)
    assert render(feed) == body
    assert render(replace(feed, events=feed.events[::-1], days=feed.days[::-1])) == body
    vtimezone.cache_clear()
    assert render(feed) == body


def test_an_edit_keeps_the_uid_and_bumps_sequence_and_stamps():
    event = with_changes(make_event())
    later = UPDATED + timedelta(days=2)
    first, *rest = event.sessions
    moved = replace(first, start=first.start + timedelta(hours=1), end=first.end + timedelta(hours=1))
    edited = replace(event, sequence=event.sequence + 1, updated_at=later, sessions=(moved, *rest))
    before, after = components(render(make_feed(event)), "VEVENT"), components(render(make_feed(edited)), "VEVENT")
    assert {str(e["UID"]) for e in after} == {str(e["UID"]) for e in before}
    assert {e["SEQUENCE"] for e in before} == {3} and {e["SEQUENCE"] for e in after} == {4}
    assert {e["LAST-MODIFIED"].dt for e in after} == {e["DTSTAMP"].dt for e in after} == {later}
    assert Calendar.from_ical(render(make_feed(edited)))["LAST-MODIFIED"].dt == later


def test_overrides_are_instances_of_their_rule_and_not_excluded():
    body = render(make_feed(with_changes(make_event()), show_cancelled=True))
    events = components(body, "VEVENT")
    rule_ids = {event["rid"] for event in icaljs_events(body, *WIDE) if event["rid"]}
    overrides = [event["RECURRENCE-ID"].dt for event in events if "RECURRENCE-ID" in event]
    exdates = {value.dt for event in events for value in _exdates(event)}
    assert len(overrides) == 2
    for rid in overrides:
        assert iso(rid) in {iso(datetime.fromisoformat(value.replace("Z", "+00:00"))) for value in rule_ids}
        assert rid not in exdates


def test_a_session_outside_its_rule_is_refused():
    event = make_event()
    stray = event.sessions[0].start + timedelta(days=1)
    bad = replace(
        event, sessions=(*event.sessions, Session(stray, stray, stray + timedelta(hours=1), SessionState.confirmed))
    )
    with pytest.raises(FeedError, match="outside its rule"):
        render(make_feed(bad))


def test_naive_times_are_refused():
    with pytest.raises(FeedError, match="naive"):
        render(make_feed(make_event(updated_at=datetime(2026, 1, 1))))


def test_rules_are_what_outlook_can_map():
    # Longer than the engine books (500 sessions), so its instances are given here.
    days = tuple(utc(datetime(2026, 3, 3, 19) + timedelta(days=day), "Europe/Dublin") for day in range(1200))
    long_daily = make_event(rrule="FREQ=DAILY;COUNT=1200", sessions=(), instances=days)
    body = render(make_feed(with_changes(make_event()), long_daily))
    for event in components(body, "VEVENT"):
        assert not {"RDATE", "EXRULE"} & set(event)
        rules = event.get("RRULE")
        if rules is None:
            continue
        assert not isinstance(rules, list)
        assert rules["FREQ"][0] in {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
        assert rules.get("COUNT", [0])[0] <= 999
    assert "RANGE=" not in body.decode()
    daily = [line for line in lines(body) if line.startswith("RRULE:FREQ=DAILY")]
    last = utc(datetime(2026, 3, 3, 19) + timedelta(days=1199), "Europe/Dublin")
    assert daily == [f"RRULE:FREQ=DAILY;UNTIL={last:%Y%m%dT%H%M%SZ}"]


def test_every_parser_reads_the_feed_without_complaint():
    body = render(busy_feed())
    for component in Calendar.from_ical(body).walk():
        assert component.errors == [], component.name
    assert ical_occurrences(body, *WIDE)  # parses strictly (UNTIL in UTC, known zones)
    assert icaljs_occurrences(body, *WIDE)


# ---- invitations (iTIP over mail) ---------------------------------------------------------------

ORGANIZER = Person("Riverside Library; Hall A", "noreply@venues.example.org")
ATTENDEE = Person("Li, Ming", "li.ming@example.org")


def invited(**overrides) -> Event:
    return replace(make_event(**overrides), organizer=ORGANIZER, attendee=ATTENDEE)


def test_a_request_carries_the_event_as_it_now_is_with_organizer_and_attendee():
    event = invited()
    moved = event.sessions[MOVED]
    sessions = list(event.sessions)
    sessions[MOVED] = replace(moved, start=moved.start + timedelta(days=1), end=moved.end + timedelta(days=1))
    event = replace(event, sessions=tuple(sessions))

    ics = invitation(event, Method.request)

    read = icaljs_itip(ics)
    assert read["method"] == "REQUEST"
    assert {e["uid"] for e in read["events"]} == {event.uid}
    assert {(e["organizer"], e["attendee"]) for e in read["events"]} == {
        ("mailto:noreply@venues.example.org", "mailto:li.ming@example.org")
    }
    [override] = [e for e in read["events"] if e["rid"]]
    assert override["start"].replace("Z", "+00:00").replace(".000", "") == iso(moved.start + timedelta(days=1))
    assert b'ORGANIZER;CN="Riverside Library; Hall A":mailto:' in ics  # a separator in a name is quoted
    assert b'ATTENDEE;CN="Li, Ming";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE' in ics
    assert len(ical_occurrences(ics, *WIDE)) == WEEKS
    assert b"REFRESH-INTERVAL" not in ics and b"X-WR-CALNAME" not in ics  # a message, not a feed


def test_a_cancel_of_sessions_names_each_by_its_recurrence_id_in_the_venue_s_zone():
    event = invited(zone="America/New_York", first=SERIES_STARTS["America/New_York"])
    gone = [event.sessions[1].original_start, event.sessions[5].original_start]  # either side of DST

    read = icaljs_itip(invitation(event, Method.cancel, gone))

    assert read["method"] == "CANCEL"
    assert [(e["uid"], e["status"], e["sequence"]) for e in read["events"]] == [(event.uid, "CANCELLED", 3)] * 2
    assert [e["rid"] for e in read["events"]] == [m.strftime("%Y-%m-%dT%H:%M:%S.000Z") for m in gone]


def test_a_cancel_of_the_whole_event_is_one_component_without_recurrence_id():
    event = invited()

    read = icaljs_itip(invitation(event, Method.cancel))

    assert [(e["uid"], e["rid"], e["status"]) for e in read["events"]] == [(event.uid, None, "CANCELLED")]
    one_off = invited(rrule=None, instances=(), sessions=event.sessions[:1])
    assert [e["status"] for e in icaljs_itip(invitation(one_off, Method.cancel, [event.starts_at]))["events"]] == [
        "CANCELLED"
    ]


def test_an_invitation_names_its_organizer_and_attendee():
    with pytest.raises(FeedError, match="organizer and attendee"):
        invitation(make_event(), Method.request)
