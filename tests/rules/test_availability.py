from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.rules import hours
from booking.rules.availability import (
    OUTSIDE_OPENING_HOURS,
    SPACE_CLOSED,
    SpaceCalendar,
    availability,
    holiday_intervals,
    whole_days,
)
from booking.rules.intervals import Interval, clip, covers, overlaps, subtract, union

T0 = datetime(2027, 3, 12, tzinfo=UTC)
SPAN_MIN = 4 * 24 * 60
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = [ZoneInfo("UTC"), NEW_YORK, SHANGHAI, ZoneInfo("Europe/London")]
MON, TUE = 0, 1


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def span(start: int, end: int) -> Interval:
    return at(start), at(end)


def spans(*pairs: tuple[int, int]) -> list[Interval]:
    return [span(start, end) for start, end in pairs]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def minutes_of(intervals: list[Interval]) -> set[int]:
    return {
        minute
        for start, end in intervals
        for minute in range(int((start - T0) / timedelta(minutes=1)), int((end - T0) / timedelta(minutes=1)))
    }


def intersection(intervals: list[Interval], within: list[Interval]) -> list[Interval]:
    return union(piece for start, end in within for piece in clip(intervals, start, end))


intervals_st = st.lists(
    st.tuples(st.integers(-600, SPAN_MIN), st.integers(1, 12 * 60)).map(lambda p: span(p[0], p[0] + p[1])),
    max_size=8,
)


@st.composite
def windows_st(draw) -> list[hours.Window]:
    """Per weekday, quarter-hour cuts split the day into segments; each segment is open or not."""
    found = []
    for weekday in draw(st.sets(st.integers(0, 6), max_size=7)):
        cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=2, max_size=8)))
        for opens, closes in pairwise(cuts):
            if draw(st.booleans()):
                found.append(hours.Window(weekday, opens * 15, closes * 15))
    return hours.check(draw(st.permutations(found)))


@st.composite
def calendars_st(draw) -> SpaceCalendar:
    return SpaceCalendar(draw(st.sampled_from(ZONES)), draw(windows_st()), draw(intervals_st))


@st.composite
def ranges_st(draw) -> Interval:
    start = draw(st.integers(0, SPAN_MIN - 1))
    return span(start, draw(st.integers(start + 1, SPAN_MIN)))


def is_disjoint_and_sorted(intervals: list[Interval]) -> bool:
    return all(s < e for s, e in intervals) and all(a[1] < b[0] for a, b in pairwise(intervals))


@settings(max_examples=200, deadline=None)
@given(calendars_st(), intervals_st, ranges_st())
def test_free_and_busy_within_open_make_up_open(calendar, busy, window):
    opened, _, free = availability(calendar, busy, *window)
    assert union(free + intersection(busy, opened)) == opened


@settings(max_examples=200, deadline=None)
@given(calendars_st(), intervals_st, ranges_st())
def test_free_overlaps_no_busy_interval_and_no_closure(calendar, busy, window):
    _, _, free = availability(calendar, busy, *window)
    for free_start, free_end in free:
        assert not any(overlaps(free_start, free_end, *taken) for taken in busy)
        assert not any(overlaps(free_start, free_end, *closure) for closure in calendar.closures)


@settings(max_examples=200, deadline=None)
@given(calendars_st(), intervals_st, ranges_st())
def test_free_lies_within_open_which_lies_within_the_range(calendar, busy, window):
    opened, taken, free = availability(calendar, busy, *window)
    assert all(covers(opened, start, end) for start, end in free)
    assert all(covers([window], start, end) for start, end in opened + taken)
    assert all(is_disjoint_and_sorted(result) for result in (opened, taken, free))


@settings(max_examples=200, deadline=None)
@given(calendars_st(), intervals_st, ranges_st())
def test_busy_is_the_busy_intervals_clipped_to_the_range(calendar, busy, window):
    _, taken, _ = availability(calendar, busy, *window)
    assert minutes_of(taken) == minutes_of(busy) & minutes_of([window])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([ZoneInfo("UTC"), SHANGHAI]), windows_st(), intervals_st, ranges_st())
def test_open_minutes_are_the_window_minutes_minus_closures(zone, windows, closures, window):
    calendar = SpaceCalendar(zone, windows, closures)

    def in_hours(minute: int) -> bool:
        wall = at(minute).astimezone(zone)
        of_day = wall.hour * 60 + wall.minute
        return not windows or any(w.applies_on(wall.date()) and w.opens_min <= of_day < w.closes_min for w in windows)

    expected = {m for m in minutes_of([window]) if in_hours(m)} - minutes_of(closures)
    assert minutes_of(calendar.open_intervals(*window)) == expected


@settings(max_examples=200, deadline=None)
@given(calendars_st(), ranges_st())
def test_refusal_agrees_with_open_intervals(calendar, window):
    fully_open = covers(calendar.open_intervals(*window), *window)
    assert (calendar.refusal(*window) is None) == fully_open


def test_union_merges_overlapping_and_touching_intervals_and_sorts():
    assert union(spans((50, 60), (0, 10), (10, 20), (15, 30), (40, 45))) == spans((0, 30), (40, 45), (50, 60))


def test_union_drops_empty_intervals():
    assert union(spans((10, 10), (20, 15), (0, 5))) == spans((0, 5))


def test_union_of_nothing_is_empty():
    assert union([]) == []


def test_union_of_a_contained_interval_keeps_the_larger():
    assert union(spans((0, 100), (20, 30))) == spans((0, 100))


def test_subtract_cuts_holes_and_ends():
    assert subtract(spans((0, 100)), spans((10, 20), (90, 120), (-10, 5))) == spans((5, 10), (20, 90))


def test_subtract_leaves_touching_intervals_whole():
    assert subtract(spans((0, 10), (20, 30)), spans((10, 20))) == spans((0, 10), (20, 30))


def test_subtract_everything_leaves_nothing():
    assert subtract(spans((0, 10), (20, 30)), spans((-5, 35))) == []


def test_subtract_nothing_gives_the_union():
    assert subtract(spans((20, 30), (0, 10), (5, 15)), []) == spans((0, 15), (20, 30))


def test_clip_keeps_only_the_parts_inside_the_range():
    assert clip(spans((-10, 10), (20, 30), (50, 70), (80, 90)), at(0), at(60)) == spans((0, 10), (20, 30), (50, 60))


def test_clip_drops_intervals_touching_the_range():
    assert clip(spans((-10, 0), (60, 70)), at(0), at(60)) == []


def test_covers_needs_every_instant():
    assert covers(spans((0, 30), (30, 60)), at(10), at(50))
    assert covers(spans((0, 60)), at(0), at(60))
    assert not covers(spans((0, 30), (31, 60)), at(10), at(50))
    assert not covers(spans((0, 60)), at(0), at(61))
    assert not covers([], at(0), at(1))


def test_covers_an_empty_range_trivially():
    assert covers([], at(5), at(5))


def test_whole_days_in_shanghai_start_at_16_00_utc_the_day_before():
    assert whole_days(date(2027, 10, 1), date(2027, 10, 7), SHANGHAI) == (utc(2027, 9, 30, 16), utc(2027, 10, 7, 16))


def test_holiday_intervals_are_whole_local_days_in_shanghai():
    assert holiday_intervals([date(2027, 10, 1)], SHANGHAI) == [(utc(2027, 9, 30, 16), utc(2027, 10, 1, 16))]


def test_holiday_intervals_merge_consecutive_days():
    days = [date(2027, 10, 5), date(2027, 10, 1), date(2027, 10, 2)]
    assert holiday_intervals(days, SHANGHAI) == [
        (utc(2027, 9, 30, 16), utc(2027, 10, 2, 16)),
        (utc(2027, 10, 4, 16), utc(2027, 10, 5, 16)),
    ]


def test_holiday_intervals_follow_dst_day_lengths():
    spring, autumn = holiday_intervals([date(2027, 3, 14), date(2027, 11, 7)], NEW_YORK)
    assert spring == (utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))
    assert autumn == (utc(2027, 11, 7, 4), utc(2027, 11, 8, 5))


def test_holiday_intervals_of_no_days_are_empty():
    assert holiday_intervals([], SHANGHAI) == []


def evening_calendar(closures: Iterable[Interval] = ()) -> SpaceCalendar:
    return SpaceCalendar(ZoneInfo("UTC"), hours.check([hours.Window(MON, 18 * 60, 21 * 60)]), list(closures))


def test_refusal_of_a_slot_inside_hours_is_none():
    assert evening_calendar().refusal(utc(2027, 3, 1, 18), utc(2027, 3, 1, 21)) is None


def test_refusal_of_a_slot_outside_hours():
    assert evening_calendar().refusal(utc(2027, 3, 1, 17), utc(2027, 3, 1, 19)) == OUTSIDE_OPENING_HOURS


def test_refusal_of_a_slot_during_a_closure():
    calendar = evening_calendar([(utc(2027, 3, 1, 20), utc(2027, 3, 1, 22))])
    assert calendar.refusal(utc(2027, 3, 1, 18), utc(2027, 3, 1, 21)) == SPACE_CLOSED


def test_refusal_reports_space_closed_before_outside_opening_hours():
    calendar = evening_calendar([(utc(2027, 3, 2), utc(2027, 3, 3))])
    assert calendar.refusal(utc(2027, 3, 2, 9), utc(2027, 3, 2, 10)) == SPACE_CLOSED


def test_refusal_ignores_a_closure_touching_the_slot():
    calendar = evening_calendar([(utc(2027, 3, 1, 12), utc(2027, 3, 1, 18)), (utc(2027, 3, 1, 21), utc(2027, 3, 2))])
    assert calendar.refusal(utc(2027, 3, 1, 18), utc(2027, 3, 1, 21)) is None


def test_a_space_without_hours_is_open_unless_closed():
    calendar = SpaceCalendar(SHANGHAI, closures=holiday_intervals([date(2027, 10, 1)], SHANGHAI))
    assert calendar.refusal(utc(2027, 9, 30, 3), utc(2027, 9, 30, 15)) is None
    assert calendar.refusal(utc(2027, 9, 30, 15), utc(2027, 9, 30, 17)) == SPACE_CLOSED
    assert calendar.open_intervals(utc(2027, 9, 30), utc(2027, 10, 3)) == [
        (utc(2027, 9, 30), utc(2027, 9, 30, 16)),
        (utc(2027, 10, 1, 16), utc(2027, 10, 3)),
    ]


def test_open_intervals_are_hours_minus_closures():
    calendar = evening_calendar([(utc(2027, 3, 1, 19), utc(2027, 3, 1, 20))])
    assert calendar.open_intervals(utc(2027, 3, 1), utc(2027, 3, 9)) == [
        (utc(2027, 3, 1, 18), utc(2027, 3, 1, 19)),
        (utc(2027, 3, 1, 20), utc(2027, 3, 1, 21)),
        (utc(2027, 3, 8, 18), utc(2027, 3, 8, 21)),
    ]


def test_availability_splits_open_into_busy_and_free():
    calendar = evening_calendar()
    busy = [(utc(2027, 3, 1, 17), utc(2027, 3, 1, 19)), (utc(2027, 3, 1, 20), utc(2027, 3, 1, 20, 30))]
    opened, taken, free = availability(calendar, busy, utc(2027, 3, 1, 18), utc(2027, 3, 2))
    assert opened == [(utc(2027, 3, 1, 18), utc(2027, 3, 1, 21))]
    assert taken == [(utc(2027, 3, 1, 18), utc(2027, 3, 1, 19)), (utc(2027, 3, 1, 20), utc(2027, 3, 1, 20, 30))]
    assert free == [(utc(2027, 3, 1, 19), utc(2027, 3, 1, 20)), (utc(2027, 3, 1, 20, 30), utc(2027, 3, 1, 21))]
