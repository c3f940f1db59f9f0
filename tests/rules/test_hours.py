from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.errors import InvalidOpeningHours
from booking.rules.hours import (
    DayPiece,
    Window,
    check,
    clock,
    day_pieces,
    fits,
    open_intervals,
    ordering,
    parse_clock,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
MON, TUE, FRI, SUN = 0, 1, 4, 6
TERM = (date(2027, 2, 20), date(2027, 7, 10))
VACATION = (date(2027, 7, 11), date(2027, 8, 31))


def window(weekday: int, opens: str, closes: str, validity: tuple[date | None, date | None] = (None, None)) -> Window:
    return Window(weekday, parse_clock(opens), parse_clock(closes), *validity)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def rejection(windows: list[Window]) -> InvalidOpeningHours:
    with pytest.raises(InvalidOpeningHours) as caught:
        check(windows)
    return caught.value


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("00:00", 0), ("07:05", 425), ("7:05", 425), ("18:30", 1110), ("23:59", 1439), ("24:00", 1440)],
)
def test_parse_clock_reads_hours_and_minutes(text, minutes):
    assert parse_clock(text) == minutes


@pytest.mark.parametrize(
    "text", ["7:5", "25:00", "24:01", "12:60", "", "12", "12:", ":30", "-1:00", "12:3a", "12:00:00", " 9:00"]
)
def test_parse_clock_rejects_anything_but_a_time_of_day(text):
    with pytest.raises(ValueError):
        parse_clock(text)


@pytest.mark.parametrize(("minutes", "text"), [(0, "00:00"), (65, "01:05"), (1110, "18:30"), (1440, "24:00")])
def test_clock_formats_minutes_as_hh_mm(minutes, text):
    assert clock(minutes) == text


@pytest.mark.parametrize("minutes", [0, 1, 59, 600, 1439, 1440])
def test_clock_and_parse_clock_round_trip(minutes):
    assert parse_clock(clock(minutes)) == minutes


def test_window_applies_only_on_its_weekday():
    monday = window(MON, "09:00", "17:00")
    assert monday.applies_on(date(2027, 3, 1))
    assert not monday.applies_on(date(2027, 3, 2))


def test_window_validity_is_inclusive_at_both_ends():
    term = window(MON, "18:00", "21:00", (date(2027, 3, 1), date(2027, 3, 15)))
    assert term.applies_on(date(2027, 3, 1))
    assert term.applies_on(date(2027, 3, 15))
    assert not term.applies_on(date(2027, 2, 22))
    assert not term.applies_on(date(2027, 3, 22))


def test_window_without_validity_applies_forever():
    always = window(MON, "09:00", "17:00")
    assert always.applies_on(date(1990, 1, 1))
    assert always.applies_on(date(2990, 1, 4))


@pytest.mark.parametrize("weekday", [-1, 7])
def test_check_rejects_weekday_out_of_range(weekday):
    error = rejection([window(MON, "09:00", "10:00"), Window(weekday, 540, 600)])
    assert "weekday" in error.detail
    assert error.extra == {"index": 1}


@pytest.mark.parametrize(("opens_min", "closes_min"), [(600, 600), (660, 600), (-1, 600), (0, 1441), (1440, 1500)])
def test_check_rejects_opens_not_before_closes_within_the_day(opens_min, closes_min):
    error = rejection([Window(TUE, opens_min, closes_min)])
    assert "opens must be before closes" in error.detail
    assert error.extra == {"index": 0}


def test_check_allows_closing_at_midnight():
    assert check([window(FRI, "20:00", "24:00")]) == [Window(FRI, 1200, 1440)]


def test_check_rejects_valid_from_after_valid_until():
    error = rejection([window(MON, "09:00", "10:00", (date(2027, 7, 11), date(2027, 7, 10)))])
    assert "valid_from" in error.detail
    assert error.extra == {"index": 0}


def test_check_allows_a_single_day_of_validity():
    day = date(2027, 3, 1)
    assert check([window(MON, "09:00", "10:00", (day, day))]) == [Window(MON, 540, 600, day, day)]


def test_error_is_an_unprocessable_invalid_opening_hours_problem():
    error = rejection([Window(MON, 600, 540)])
    assert (error.status, error.code) == (422, "invalid_opening_hours")


def test_check_rejects_overlapping_windows_on_the_same_weekday():
    error = rejection([window(MON, "09:00", "12:00"), window(MON, "11:00", "13:00")])
    assert error.extra == {"weekday": MON}
    assert "09:00–12:00" in error.detail
    assert "11:00–13:00" in error.detail


def test_check_rejects_a_window_inside_another():
    rejection([window(MON, "09:00", "17:00"), window(MON, "12:00", "13:00")])


def test_check_rejects_identical_windows():
    rejection([window(MON, "09:00", "17:00"), window(MON, "09:00", "17:00")])


def test_check_rejects_overlap_when_validity_ranges_overlap():
    rejection(
        [
            window(MON, "09:00", "17:00", (date(2027, 1, 1), date(2027, 6, 30))),
            window(MON, "16:00", "18:00", (date(2027, 6, 30), date(2027, 12, 31))),
        ]
    )


def test_check_rejects_overlap_with_an_open_ended_window():
    rejection([window(MON, "09:00", "17:00", TERM), window(MON, "10:00", "11:00", (date(2027, 7, 1), None))])


def test_check_allows_overlapping_hours_when_validity_ranges_are_disjoint():
    term, vacation = window(MON, "09:00", "17:00", TERM), window(MON, "10:00", "12:00", VACATION)
    assert check([vacation, term]) == [term, vacation]


def test_check_allows_term_and_vacation_windows_on_the_same_weekday():
    term, vacation = window(MON, "18:00", "21:00", TERM), window(MON, "09:00", "17:00", VACATION)
    assert sorted(check([term, vacation]), key=ordering) == sorted([term, vacation], key=ordering)


def test_check_allows_the_same_hours_on_different_weekdays():
    windows = [window(day, "09:00", "17:00") for day in range(7)]
    assert check(windows) == windows


def test_check_allows_same_hours_with_disjoint_open_ended_validity():
    until_july = window(MON, "09:00", "17:00", (None, date(2027, 7, 10)))
    from_july = window(MON, "09:00", "17:00", (date(2027, 7, 11), None))
    assert sorted(check([until_july, from_july]), key=lambda w: w.valid_from or date.min) == [until_july, from_july]


def test_check_rejects_an_overlap_next_to_a_merged_pair():
    rejection(
        [
            window(MON, "09:00", "10:00", TERM),
            window(MON, "10:00", "10:30"),
            window(MON, "10:00", "11:00", TERM),
        ]
    )


VALIDITIES = [(None, None), TERM, VACATION, (None, date(2027, 7, 10)), (date(2027, 7, 11), None)]
MONDAYS = [date(2027, 1, 4), date(2027, 3, 1), date(2027, 7, 12), date(2027, 9, 6)]
SAMPLE_DAYS = [monday + timedelta(days=n) for monday in MONDAYS for n in (0, 1)]


@st.composite
def windows_st(draw) -> list[Window]:
    found = []
    for _ in range(draw(st.integers(0, 5))):
        opens = draw(st.integers(8, 11))
        closes = draw(st.integers(opens + 1, 12))
        found.append(Window(draw(st.integers(0, 1)), opens * 60, closes * 60, *draw(st.sampled_from(VALIDITIES))))
    return found


def open_minutes(windows: list[Window], day: date) -> set[int]:
    return {m for w in windows if w.applies_on(day) for m in range(w.opens_min, w.closes_min)}


def clash(a: Window, b: Window) -> bool:
    return (
        a.weekday == b.weekday
        and (a.valid_from or date.min) <= (b.valid_until or date.max)
        and (b.valid_from or date.min) <= (a.valid_until or date.max)
        and a.opens_min < b.closes_min
        and b.opens_min < a.closes_min
    )


def has_clash(windows: list[Window]) -> bool:
    return any(clash(a, b) for i, a in enumerate(windows) for b in windows[i + 1 :])


@settings(max_examples=200, deadline=None)
@given(windows_st())
def test_check_refuses_exactly_the_clashing_sets_and_keeps_the_open_minutes(windows):
    try:
        checked = check(windows)
    except InvalidOpeningHours:
        assert has_clash(windows)
        return
    assert not has_clash(windows)
    assert not has_clash(checked)
    assert all(open_minutes(checked, day) == open_minutes(windows, day) for day in SAMPLE_DAYS)


def test_check_returns_windows_sorted():
    windows = [window(TUE, "09:00", "10:00"), window(MON, "14:00", "15:00"), window(MON, "09:00", "10:00")]
    assert check(windows) == sorted(windows, key=ordering)


def test_check_merges_touching_windows_with_the_same_validity():
    assert check([window(MON, "12:00", "17:00"), window(MON, "09:00", "12:00")]) == [window(MON, "09:00", "17:00")]


def test_check_merges_a_chain_of_touching_windows():
    pieces = [
        window(MON, "11:00", "12:00", TERM),
        window(MON, "09:00", "10:00", TERM),
        window(MON, "10:00", "11:00", TERM),
    ]
    assert check(pieces) == [window(MON, "09:00", "12:00", TERM)]


def test_check_keeps_touching_windows_with_different_validity_apart():
    morning, afternoon = window(MON, "09:00", "12:00", TERM), window(MON, "12:00", "17:00", (date(2027, 3, 1), None))
    assert check([afternoon, morning]) == [morning, afternoon]


def test_check_keeps_gapped_windows_apart():
    morning, evening = window(MON, "09:00", "12:00"), window(MON, "18:00", "21:00")
    assert check([evening, morning]) == [morning, evening]


def test_check_does_not_merge_across_midnight():
    late, early = window(MON, "18:00", "24:00"), window(TUE, "00:00", "02:00")
    assert check([early, late]) == [late, early]


def test_check_of_nothing_is_nothing():
    assert check([]) == []


def test_open_intervals_are_clipped_to_the_range():
    windows = [window(MON, "09:00", "17:00")]
    found = open_intervals(windows, utc(2027, 3, 1, 12), utc(2027, 3, 8, 10), UTC)
    assert found == [(utc(2027, 3, 1, 12), utc(2027, 3, 1, 17)), (utc(2027, 3, 8, 9), utc(2027, 3, 8, 10))]


def test_open_intervals_are_in_utc_for_a_local_zone():
    found = open_intervals([window(MON, "09:00", "17:00")], utc(2027, 3, 1), utc(2027, 3, 2), SHANGHAI)
    assert found == [(utc(2027, 3, 1, 1), utc(2027, 3, 1, 9))]


def test_open_intervals_merge_windows_across_midnight():
    windows = [window(MON, "18:00", "24:00"), window(TUE, "00:00", "02:00")]
    found = open_intervals(windows, utc(2027, 3, 1), utc(2027, 3, 3), UTC)
    assert found == [(utc(2027, 3, 1, 18), utc(2027, 3, 2, 2))]


def test_open_intervals_include_a_window_from_the_day_before_the_range():
    found = open_intervals([window(MON, "18:00", "24:00")], utc(2027, 3, 1, 23), utc(2027, 3, 2, 1), UTC)
    assert found == [(utc(2027, 3, 1, 23), utc(2027, 3, 2))]


def test_open_intervals_follow_validity():
    windows = [window(MON, "18:00", "21:00", TERM), window(MON, "09:00", "17:00", VACATION)]
    found = open_intervals(windows, local(LONDON, 2027, 7, 5), local(LONDON, 2027, 7, 13), LONDON)
    assert found == [(utc(2027, 7, 5, 17), utc(2027, 7, 5, 20)), (utc(2027, 7, 12, 8), utc(2027, 7, 12, 16))]


def test_open_intervals_keep_local_hours_across_a_dst_change():
    windows = [window(MON, "09:00", "17:00")]
    found = open_intervals(windows, utc(2027, 3, 8), utc(2027, 3, 16), NEW_YORK)
    assert found == [(utc(2027, 3, 8, 14), utc(2027, 3, 8, 22)), (utc(2027, 3, 15, 13), utc(2027, 3, 15, 21))]


def test_open_intervals_on_the_long_day_of_a_fall_back_change_last_25_hours():
    found = open_intervals([window(SUN, "00:00", "24:00")], utc(2027, 11, 7), utc(2027, 11, 9), NEW_YORK)
    assert found == [(utc(2027, 11, 7, 4), utc(2027, 11, 8, 5))]


def test_a_window_opening_inside_the_dst_gap_opens_at_the_first_valid_minute():
    found = open_intervals([window(SUN, "02:30", "05:00")], utc(2027, 3, 14), utc(2027, 3, 15), NEW_YORK)
    assert found == [(local(NEW_YORK, 2027, 3, 14, 3), local(NEW_YORK, 2027, 3, 14, 5))]


def test_no_windows_means_any_time_fits():
    assert fits([], utc(2027, 3, 1, 3), utc(2027, 3, 9, 4), NEW_YORK)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ((9, 0), (17, 0), True),
        ((10, 0), (11, 30), True),
        ((8, 59), (10, 0), False),
        ((16, 0), (17, 1), False),
        ((7, 0), (8, 0), False),
    ],
)
def test_fits_only_inside_a_window(start, end, expected):
    windows = [window(MON, "09:00", "17:00")]
    assert fits(windows, local(LONDON, 2027, 3, 1, *start), local(LONDON, 2027, 3, 1, *end), LONDON) is expected


def test_fits_not_across_a_gap_between_windows():
    windows = [window(MON, "09:00", "12:00"), window(MON, "13:00", "17:00")]
    assert not fits(windows, local(LONDON, 2027, 3, 1, 11), local(LONDON, 2027, 3, 1, 14), LONDON)


def test_fits_in_term_time_but_not_in_vacation():
    windows = check([window(MON, "18:00", "21:00", TERM), window(MON, "09:00", "17:00", VACATION)])
    in_term = (local(LONDON, 2027, 3, 1, 18, 30), local(LONDON, 2027, 3, 1, 20, 30))
    in_vacation = (local(LONDON, 2027, 7, 12, 18, 30), local(LONDON, 2027, 7, 12, 20, 30))
    assert fits(windows, *in_term, LONDON)
    assert not fits(windows, *in_vacation, LONDON)


def test_vacation_hours_fit_in_vacation_but_not_in_term():
    windows = check([window(MON, "18:00", "21:00", TERM), window(MON, "09:00", "17:00", VACATION)])
    assert fits(windows, local(LONDON, 2027, 7, 12, 10), local(LONDON, 2027, 7, 12, 12), LONDON)
    assert not fits(windows, local(LONDON, 2027, 3, 1, 10), local(LONDON, 2027, 3, 1, 12), LONDON)


def test_nothing_fits_outside_every_validity_range():
    windows = [window(MON, "18:00", "21:00", TERM), window(MON, "09:00", "17:00", VACATION)]
    assert not fits(windows, local(LONDON, 2027, 9, 6, 18, 30), local(LONDON, 2027, 9, 6, 20), LONDON)


def test_a_booking_ending_at_midnight_fits_a_window_closing_at_24_00():
    windows = [window(FRI, "20:00", "24:00")]
    assert fits(windows, local(LONDON, 2027, 3, 5, 22), local(LONDON, 2027, 3, 6), LONDON)
    assert not fits(windows, local(LONDON, 2027, 3, 5, 22), local(LONDON, 2027, 3, 6, 0, 15), LONDON)


def test_a_booking_across_midnight_fits_two_touching_windows():
    windows = check([window(MON, "18:00", "24:00"), window(TUE, "00:00", "02:00")])
    assert fits(windows, local(LONDON, 2027, 3, 1, 23), local(LONDON, 2027, 3, 2, 1), LONDON)
    assert not fits(windows, local(LONDON, 2027, 3, 1, 23), local(LONDON, 2027, 3, 2, 2, 30), LONDON)


def test_a_booking_across_midnight_needs_both_windows():
    start, end = local(LONDON, 2027, 3, 1, 23), local(LONDON, 2027, 3, 2, 1)
    assert not fits([window(MON, "18:00", "24:00")], start, end, LONDON)
    assert not fits([window(TUE, "00:00", "02:00")], start, end, LONDON)


@pytest.mark.parametrize("zone", [NEW_YORK, SHANGHAI])
def test_fits_judges_hours_in_the_venue_zone(zone):
    windows = [window(MON, "09:00", "17:00")]
    assert fits(windows, local(zone, 2027, 3, 1, 9), local(zone, 2027, 3, 1, 17), zone)
    assert not fits(windows, utc(2027, 3, 1, 9), utc(2027, 3, 1, 17), zone)


def test_fits_in_new_york_moves_in_utc_with_dst():
    windows = [window(MON, "09:00", "17:00")]
    assert fits(windows, utc(2027, 3, 8, 14), utc(2027, 3, 8, 22), NEW_YORK)
    assert fits(windows, utc(2027, 3, 15, 13), utc(2027, 3, 15, 21), NEW_YORK)
    assert not fits(windows, utc(2027, 3, 15, 14), utc(2027, 3, 15, 22), NEW_YORK)


def test_fits_in_shanghai_where_monday_morning_is_sunday_evening_utc():
    windows = [window(MON, "06:00", "08:00")]
    assert fits(windows, utc(2027, 2, 28, 22), utc(2027, 3, 1), SHANGHAI)


def test_day_pieces_of_a_range_within_one_day():
    pieces = day_pieces(local(LONDON, 2027, 3, 1, 9), local(LONDON, 2027, 3, 1, 17, 30), LONDON)
    assert pieces == [DayPiece(date(2027, 3, 1), 540, 1050)]


def test_day_pieces_split_at_local_midnight():
    pieces = day_pieces(local(SHANGHAI, 2027, 3, 1, 22), local(SHANGHAI, 2027, 3, 2, 2), SHANGHAI)
    assert pieces == [DayPiece(date(2027, 3, 1), 1320, 1440), DayPiece(date(2027, 3, 2), 0, 120)]


def test_day_pieces_split_at_local_not_utc_midnight():
    pieces = day_pieces(utc(2027, 3, 1, 14), utc(2027, 3, 1, 18), SHANGHAI)
    assert pieces == [DayPiece(date(2027, 3, 1), 1320, 1440), DayPiece(date(2027, 3, 2), 0, 120)]


def test_day_pieces_of_a_range_ending_at_midnight_end_at_24_00():
    pieces = day_pieces(local(LONDON, 2027, 3, 5, 20), local(LONDON, 2027, 3, 6), LONDON)
    assert pieces == [DayPiece(date(2027, 3, 5), 1200, 1440)]


def test_day_pieces_of_several_days_include_whole_middle_days():
    pieces = day_pieces(local(NEW_YORK, 2027, 3, 1, 18), local(NEW_YORK, 2027, 3, 4, 6), NEW_YORK)
    assert pieces == [
        DayPiece(date(2027, 3, 1), 1080, 1440),
        DayPiece(date(2027, 3, 2), 0, 1440),
        DayPiece(date(2027, 3, 3), 0, 1440),
        DayPiece(date(2027, 3, 4), 0, 360),
    ]


def test_day_pieces_use_wall_clock_minutes_across_a_dst_change():
    pieces = day_pieces(utc(2027, 3, 14, 3), utc(2027, 3, 14, 8), NEW_YORK)
    assert pieces == [DayPiece(date(2027, 3, 13), 1320, 1440), DayPiece(date(2027, 3, 14), 0, 240)]


def test_day_pieces_of_an_empty_range_are_empty():
    moment = local(LONDON, 2027, 3, 1, 9)
    assert day_pieces(moment, moment, LONDON) == []


def test_day_pieces_fit_exactly_the_windows_a_range_needs():
    windows = [window(MON, "18:00", "24:00"), window(TUE, "00:00", "02:00")]
    for piece in day_pieces(local(LONDON, 2027, 3, 1, 23), local(LONDON, 2027, 3, 2, 1), LONDON):
        assert any(
            w.applies_on(piece.day) and w.opens_min <= piece.from_min < piece.to_min <= w.closes_min for w in windows
        )
