from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.errors import AmbiguousLocalTime, RecurrenceTooLong, UnsupportedRecurrence
from booking.rules.recurrence import MAX_HORIZON, MAX_OCCURRENCES, Rule, expand, parse

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)
EST, EDT = timedelta(hours=-5), timedelta(hours=-4)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


def series(
    text: str, start: datetime, minutes: int = 120, zone: ZoneInfo = NEW_YORK, now: datetime = NOW
) -> list[tuple[datetime, datetime]]:
    return expand(parse(text), start, start + timedelta(minutes=minutes), zone, now=now)


def local_starts(occurrences: list[tuple[datetime, datetime]], zone: ZoneInfo = NEW_YORK) -> list[datetime]:
    return [start.astimezone(zone).replace(tzinfo=None) for start, _ in occurrences]


def local_dates(occurrences: list[tuple[datetime, datetime]], zone: ZoneInfo = NEW_YORK) -> list[date]:
    return [wall.date() for wall in local_starts(occurrences, zone)]


def dates(*texts: str) -> list[date]:
    return [date.fromisoformat(text) for text in texts]


def refused(text: str) -> UnsupportedRecurrence:
    with pytest.raises(UnsupportedRecurrence) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("FREQ=DAILY;COUNT=5", Rule("DAILY", count=5)),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20270630", Rule("WEEKLY", 2, ("MO", "WE"), until="20270630")),
        ("FREQ=MONTHLY;BYDAY=2TU;COUNT=6", Rule("MONTHLY", byday=("2TU",), count=6)),
        ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=6", Rule("MONTHLY", byday=("-1FR",), count=6)),
        ("FREQ=MONTHLY;BYDAY=+1MO;COUNT=6", Rule("MONTHLY", byday=("+1MO",), count=6)),
        ("FREQ=WEEKLY;BYDAY=TU;WKST=SU;COUNT=3", Rule("WEEKLY", byday=("TU",), count=3, wkst="SU")),
        ("FREQ=DAILY;UNTIL=20270301T190000", Rule("DAILY", until="20270301T190000")),
        ("FREQ=DAILY;UNTIL=20270301T190000Z", Rule("DAILY", until="20270301T190000Z")),
        ("FREQ=WEEKLY;INTERVAL=12;COUNT=2", Rule("WEEKLY", 12, count=2)),
        (f"FREQ=DAILY;COUNT={MAX_OCCURRENCES}", Rule("DAILY", count=MAX_OCCURRENCES)),
    ],
)
def test_parse_reads_the_supported_subset(text, rule):
    assert parse(text) == rule


def test_parse_accepts_an_rrule_prefix_lower_case_and_any_order():
    assert parse(" RRULE:count=3;byday=mo;freq=weekly ") == Rule("WEEKLY", byday=("MO",), count=3)


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=HOURLY;COUNT=3",
        "FREQ=SECONDLY;COUNT=3",
        "FREQ=MINUTELY;COUNT=3",
        "FREQ=YEARLY;COUNT=3",
        "COUNT=3",
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=1;COUNT=3",
        "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=3",
        "FREQ=MONTHLY;BYMONTH=1;COUNT=3",
        "FREQ=WEEKLY;BYDAY=2TU;COUNT=3",
        "FREQ=DAILY;BYDAY=-1FR;COUNT=3",
        "FREQ=WEEKLY;BYDAY=XX;COUNT=3",
        "FREQ=WEEKLY;BYDAY=MO,,TU;COUNT=3",
        "FREQ=MONTHLY;BYDAY=100TU;COUNT=3",
        "FREQ=DAILY;COUNT=3;UNTIL=20270601",
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=0;COUNT=3",
        "FREQ=DAILY;INTERVAL=13;COUNT=3",
        "FREQ=DAILY;INTERVAL=-1;COUNT=3",
        "FREQ=DAILY;INTERVAL=two;COUNT=3",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;COUNT=-3",
        "FREQ=DAILY;COUNT=many",
        "FREQ=DAILY;FREQ=WEEKLY;COUNT=3",
        "FREQ=DAILY;;COUNT=3",
        "FREQ=DAILY;COUNT=",
        "FREQ;COUNT=3",
        "",
        "garbage",
        "every tuesday",
    ],
)
def test_parse_refuses_anything_outside_the_subset(text):
    error = refused(text)
    assert (error.status, error.code) == (422, "unsupported_recurrence")
    assert error.extra == {"rrule": text}


@pytest.mark.parametrize("ordinal", ["0", "+0", "-0"])
def test_parse_refuses_a_zeroth_weekday_of_the_month(ordinal):
    refused(f"FREQ=MONTHLY;BYDAY={ordinal}TU;COUNT=3")


def test_parse_names_the_unsupported_parts():
    assert "BYMONTHDAY, BYSETPOS" in refused("FREQ=MONTHLY;BYSETPOS=1;BYMONTHDAY=1;COUNT=3").detail


def test_parse_refuses_count_over_the_limit_as_too_long():
    with pytest.raises(RecurrenceTooLong) as caught:
        parse("FREQ=DAILY;COUNT=501")
    assert caught.value.extra == {"limit": MAX_OCCURRENCES}
    assert (caught.value.status, caught.value.code) == (422, "recurrence_too_long")


def test_daily_series_repeats_every_day_at_the_same_time():
    occurrences = series("FREQ=DAILY;COUNT=3", local(LONDON, 2027, 3, 1, 19), zone=LONDON)
    assert local_starts(occurrences, LONDON) == [datetime(2027, 3, day, 19) for day in (1, 2, 3)]


def test_each_occurrence_lasts_as_long_as_the_first():
    occurrences = series("FREQ=DAILY;COUNT=5", local(NEW_YORK, 2027, 3, 1, 19), minutes=90)
    assert all(end - start == timedelta(minutes=90) for start, end in occurrences)


def test_occurrences_are_utc_instants():
    occurrences = series("FREQ=DAILY;COUNT=2", local(SHANGHAI, 2027, 3, 1, 9), zone=SHANGHAI)
    assert occurrences == [
        (datetime(2027, 3, 1, 1, tzinfo=UTC), datetime(2027, 3, 1, 3, tzinfo=UTC)),
        (datetime(2027, 3, 2, 1, tzinfo=UTC), datetime(2027, 3, 2, 3, tzinfo=UTC)),
    ]


def test_interval_skips_periods():
    assert local_dates(series("FREQ=DAILY;INTERVAL=3;COUNT=4", local(NEW_YORK, 2027, 3, 1, 19))) == dates(
        "2027-03-01", "2027-03-04", "2027-03-07", "2027-03-10"
    )
    assert local_dates(series("FREQ=WEEKLY;INTERVAL=2;COUNT=3", local(NEW_YORK, 2027, 3, 1, 19))) == dates(
        "2027-03-01", "2027-03-15", "2027-03-29"
    )


def test_weekly_byday_gives_count_occurrences_starting_with_starts_at():
    start = local(NEW_YORK, 2027, 3, 1, 19)
    occurrences = series("FREQ=WEEKLY;BYDAY=TU,TH;COUNT=24", start)
    assert len(occurrences) == 24
    assert occurrences[0][0] == start
    assert {day.weekday() for day in local_dates(occurrences)[1:]} == {1, 3}
    assert local_dates(occurrences)[:4] == dates("2027-03-01", "2027-03-02", "2027-03-04", "2027-03-09")
    assert local_dates(occurrences)[-1] == date(2027, 5, 18)


def test_weekly_byday_starting_on_a_matching_day_does_not_repeat_it():
    start = local(NEW_YORK, 2027, 3, 2, 19)
    occurrences = series("FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4", start)
    assert local_dates(occurrences) == dates("2027-03-02", "2027-03-04", "2027-03-09", "2027-03-11")


def test_occurrences_are_strictly_increasing():
    occurrences = series("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=30", local(NEW_YORK, 2027, 3, 2, 19))
    starts = [start for start, _ in occurrences]
    assert starts == sorted(set(starts))


def test_monthly_by_nth_weekday():
    occurrences = series("FREQ=MONTHLY;BYDAY=2TU;COUNT=4", local(NEW_YORK, 2027, 2, 9, 19))
    assert local_dates(occurrences) == dates("2027-02-09", "2027-03-09", "2027-04-13", "2027-05-11")


def test_monthly_by_last_weekday():
    occurrences = series("FREQ=MONTHLY;BYDAY=-1FR;COUNT=4", local(NEW_YORK, 2027, 1, 29, 19))
    assert local_dates(occurrences) == dates("2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30")


def test_monthly_by_nth_weekday_counts_a_non_matching_start_first():
    occurrences = series("FREQ=MONTHLY;BYDAY=1MO;COUNT=3", local(NEW_YORK, 2027, 3, 3, 19))
    assert local_dates(occurrences) == dates("2027-03-03", "2027-04-05", "2027-05-03")


def test_monthly_on_the_31st_skips_shorter_months():
    occurrences = series("FREQ=MONTHLY;COUNT=3", local(NEW_YORK, 2027, 1, 31, 19))
    assert local_dates(occurrences) == dates("2027-01-31", "2027-03-31", "2027-05-31")


def test_week_start_changes_which_days_an_every_other_week_rule_picks():
    start = local(NEW_YORK, 1997, 8, 5, 9)
    now = datetime(1997, 1, 1, tzinfo=UTC)
    monday_weeks = series("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", start, now=now)
    sunday_weeks = series("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", start, now=now)
    assert local_dates(monday_weeks) == dates("1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24")
    assert local_dates(sunday_weeks) == dates("1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31")


def test_until_as_a_date_includes_that_whole_local_day():
    occurrences = series("FREQ=DAILY;UNTIL=20270305", local(NEW_YORK, 2027, 3, 1, 23, 30))
    assert local_dates(occurrences) == dates("2027-03-01", "2027-03-02", "2027-03-03", "2027-03-04", "2027-03-05")


@pytest.mark.parametrize(("until", "last_day"), [("20270305T190000", 5), ("20270305T185959", 4)])
def test_until_as_a_local_date_time_is_inclusive(until, last_day):
    occurrences = series(f"FREQ=DAILY;UNTIL={until}", local(NEW_YORK, 2027, 3, 1, 19))
    assert local_dates(occurrences)[-1] == date(2027, 3, last_day)


@pytest.mark.parametrize(("until", "last_day"), [("20270306T000000Z", 5), ("20270305T235959Z", 4)])
def test_until_in_utc_is_compared_as_an_instant(until, last_day):
    occurrences = series(f"FREQ=DAILY;UNTIL={until}", local(NEW_YORK, 2027, 3, 1, 19))
    assert local_dates(occurrences)[-1] == date(2027, 3, last_day)


def test_until_before_the_start_leaves_only_the_start():
    start = local(NEW_YORK, 2027, 3, 1, 19)
    assert series("FREQ=DAILY;UNTIL=20270201", start) == [(start, start + timedelta(hours=2))]


@pytest.mark.parametrize("until", ["2027", "20271340", "2027-03-05", "ABCDEFGH", "20270305T190000+01"])
def test_until_that_is_not_a_date_is_unsupported(until):
    with pytest.raises(UnsupportedRecurrence):
        parse(f"FREQ=DAILY;UNTIL={until}")


def test_count_at_the_limit_is_allowed():
    assert len(series(f"FREQ=DAILY;COUNT={MAX_OCCURRENCES}", local(NEW_YORK, 2027, 1, 2, 19))) == MAX_OCCURRENCES


def test_until_allowing_exactly_the_limit_is_allowed():
    start = local(NEW_YORK, 2027, 1, 2, 19)
    last = (start + timedelta(days=MAX_OCCURRENCES - 1)).date()
    assert len(series(f"FREQ=DAILY;UNTIL={last:%Y%m%d}", start)) == MAX_OCCURRENCES


def test_until_making_too_many_occurrences_is_too_long():
    with pytest.raises(RecurrenceTooLong) as caught:
        series("FREQ=DAILY;UNTIL=20300101", local(NEW_YORK, 2027, 1, 2, 19))
    assert caught.value.extra == {"limit": MAX_OCCURRENCES}


def test_until_one_past_the_limit_is_too_long():
    start = local(NEW_YORK, 2027, 1, 2, 19)
    last = (start + timedelta(days=MAX_OCCURRENCES)).date()
    with pytest.raises(RecurrenceTooLong):
        series(f"FREQ=DAILY;UNTIL={last:%Y%m%d}", start)


def test_occurrences_past_two_years_from_now_are_too_long():
    with pytest.raises(RecurrenceTooLong) as caught:
        series("FREQ=MONTHLY;COUNT=30", NOW)
    assert caught.value.extra == {"limit_days": MAX_HORIZON.days}
    assert "2028-12-31" in caught.value.detail


def test_occurrences_within_two_years_from_now_are_allowed():
    assert len(series("FREQ=MONTHLY;COUNT=24", NOW)) == 24


def test_the_horizon_counts_from_now_not_from_the_start():
    start = local(NEW_YORK, 2028, 6, 1, 19)
    with pytest.raises(RecurrenceTooLong):
        series("FREQ=MONTHLY;COUNT=12", start)
    assert len(series("FREQ=MONTHLY;COUNT=12", start, now=datetime(2027, 6, 1, tzinfo=UTC))) == 12


def test_weekly_evening_series_keeps_local_time_across_both_dst_changes():
    occurrences = series("FREQ=WEEKLY;COUNT=38", local(NEW_YORK, 2027, 3, 1, 19))
    starts = [start.astimezone(NEW_YORK) for start, _ in occurrences]
    ends = [end.astimezone(NEW_YORK) for _, end in occurrences]
    assert local_dates(occurrences)[-1] == date(2027, 11, 15)
    assert {(start.hour, start.minute) for start in starts} == {(19, 0)}
    assert {(end.hour, end.minute) for end in ends} == {(21, 0)}
    offsets = {start.date(): start.utcoffset() for start in starts}
    assert offsets[date(2027, 3, 8)] == EST
    assert offsets[date(2027, 3, 15)] == EDT
    assert offsets[date(2027, 11, 1)] == EDT
    assert offsets[date(2027, 11, 8)] == EST


def test_weekly_evening_series_moves_in_utc_across_dst_changes():
    utc_hours = {
        start.astimezone(NEW_YORK).date(): start.hour
        for start, _ in series("FREQ=WEEKLY;COUNT=38", local(NEW_YORK, 2027, 3, 1, 19))
    }
    assert utc_hours[date(2027, 3, 8)] == 0
    assert utc_hours[date(2027, 3, 15)] == 23
    assert utc_hours[date(2027, 11, 1)] == 23
    assert utc_hours[date(2027, 11, 8)] == 0


def test_all_occurrences_are_aware_utc():
    occurrences = series("FREQ=WEEKLY;COUNT=5", local(NEW_YORK, 2027, 3, 1, 19))
    assert all(moment.utcoffset() == timedelta(0) for pair in occurrences for moment in pair)


def ambiguity(text: str, start: datetime, minutes: int = 60) -> AmbiguousLocalTime:
    with pytest.raises(AmbiguousLocalTime) as caught:
        series(text, start, minutes)
    return caught.value


def test_series_at_a_local_time_skipped_by_spring_forward_is_refused():
    error = ambiguity("FREQ=WEEKLY;COUNT=4", local(NEW_YORK, 2027, 3, 7, 2, 30))
    assert "2027-03-14" in error.detail
    assert error.extra == {"local_times": ["2027-03-14T02:30"], "timezone": "America/New_York"}
    assert (error.status, error.code) == (422, "ambiguous_local_time")


def test_series_at_a_local_time_repeated_by_fall_back_is_refused():
    error = ambiguity("FREQ=WEEKLY;COUNT=4", local(NEW_YORK, 2027, 10, 31, 1, 30))
    assert "2027-11-07" in error.detail
    assert error.extra["local_times"] == ["2027-11-07T01:30"]


def test_series_ending_inside_a_dst_gap_is_refused():
    error = ambiguity("FREQ=WEEKLY;COUNT=2", local(NEW_YORK, 2027, 3, 7, 1, 30), minutes=60)
    assert error.extra["local_times"] == ["2027-03-14T01:30"]


def test_every_ambiguous_local_time_is_named():
    error = ambiguity("FREQ=DAILY;UNTIL=20271231", local(NEW_YORK, 2027, 3, 1, 1, 30), minutes=15)
    assert error.extra["local_times"] == ["2027-11-07T01:30"]
    error = ambiguity("FREQ=WEEKLY;COUNT=40", local(NEW_YORK, 2027, 3, 7, 1, 15), minutes=60)
    assert error.extra["local_times"] == ["2027-03-14T01:15", "2027-11-07T01:15"]


def test_series_next_to_but_not_in_a_dst_change_is_fine():
    occurrences = series("FREQ=WEEKLY;COUNT=4", local(NEW_YORK, 2027, 3, 7, 3, 0), minutes=60)
    assert {wall.time().isoformat() for wall in local_starts(occurrences)} == {"03:00:00"}


def test_shanghai_has_no_dst_so_a_daily_series_never_is_ambiguous():
    occurrences = series("FREQ=DAILY;COUNT=500", local(SHANGHAI, 2027, 1, 1, 2, 30), zone=SHANGHAI)
    assert len(occurrences) == 500
    assert {(start.hour, start.minute) for start, _ in occurrences} == {(18, 30)}
