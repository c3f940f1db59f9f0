"""A term seen as a weekly grid of time units (the allocator's view of time), built from calendars.

A unit is (weekday, index) with ``grid_minutes`` per index from local midnight. Week ``w`` of a
term is the seven days from ``term_start + 7w``; a weekday's date in that week may fall after the
term's end, in which case that week simply has no such day.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.rules import hours
from booking.rules.availability import OUTSIDE_OPENING_HOURS, SPACE_CLOSED, SpaceCalendar
from booking.rules.intervals import Interval, union

Unit = tuple[int, int]
BOOKED = "booking_conflict"


def weeks_in(term_start: date, term_end: date) -> int:
    return (term_end - term_start).days // 7 + 1


def date_of(term_start: date, week: int, weekday: int) -> date:
    return term_start + timedelta(days=7 * week + (weekday - term_start.weekday()) % 7)


def units_of(windows: Iterable[tuple[int, int, int]], grid_minutes: int) -> frozenset[Unit]:
    """Units wholly inside (weekday, opens_min, closes_min) windows; no windows means every unit."""
    per_day = 1440 // grid_minutes
    windows = list(windows)
    if not windows:
        return frozenset((day, unit) for day in range(7) for unit in range(per_day))
    return frozenset(
        (day, unit)
        for day, opens, closes in windows
        for unit in range(per_day)
        if opens <= unit * grid_minutes and (unit + 1) * grid_minutes <= closes
    )


def _unit_span(day: date, unit: int, grid_minutes: int, zone: ZoneInfo) -> Interval:
    wall = datetime.combine(day, time()) + timedelta(minutes=unit * grid_minutes)
    start = wall.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
    return start, start + timedelta(minutes=grid_minutes)


def _unit_starts(day: date, grid_minutes: int, zone: ZoneInfo) -> list[datetime]:
    """The UTC start of each unit of a local day (a unit lasts ``grid_minutes``)."""
    per_day = 1440 // grid_minutes
    first = _unit_span(day, 0, grid_minutes, zone)[0]
    next_midnight = _unit_span(day + timedelta(days=1), 0, grid_minutes, zone)[0]
    if next_midnight - first == timedelta(days=1):  # no clock change that day: units follow each other
        step = timedelta(minutes=grid_minutes)
        return [first + index * step for index in range(per_day)]
    return [_unit_span(day, index, grid_minutes, zone)[0] for index in range(per_day)]


def _units_inside(starts: list[datetime], length: timedelta, intervals: list[Interval]) -> set[int]:
    """Indexes of the units lying wholly inside one of the intervals."""
    return {i for s, e in intervals for i in range(bisect_left(starts, s), bisect_right(starts, e - length))}


def _units_touching(starts: list[datetime], length: timedelta, intervals: list[Interval]) -> set[int]:
    """Indexes of the units sharing some instant with one of the intervals."""
    return {i for s, e in intervals for i in range(bisect_right(starts, s - length), bisect_left(starts, e))}


def space_grid(
    calendar: SpaceCalendar, busy: list[Interval], term_start: date, term_end: date, grid_minutes: int
) -> tuple[frozenset[Unit], dict[Unit, frozenset[int]], dict[tuple[Unit, int], str]]:
    """(open units, blocked weeks per open unit, why each blocked (open unit, week) is blocked).

    A unit is open when it is usable in at least one week of the term; in the other weeks it is
    blocked because the space is outside its hours then, closed, or already booked. Each day's
    hours, closures and bookings are turned into unit indexes by bisecting the day's unit starts.
    """
    length = timedelta(minutes=grid_minutes)
    free_weeks: dict[Unit, set[int]] = {}
    reasons: dict[tuple[Unit, int], str] = {}
    busy = union(busy)
    for week in range(weeks_in(term_start, term_end)):
        for weekday in range(7):
            day = date_of(term_start, week, weekday)
            if day > term_end:
                continue
            day_span = _unit_span(day, 0, 1440, calendar.zone)
            opened = (
                hours.open_intervals(calendar.windows, *day_span, calendar.zone) if calendar.windows else [day_span]
            )
            closed = [c for c in calendar.closures if c[0] < day_span[1] and day_span[0] < c[1]]
            taken = [b for b in busy if b[0] < day_span[1] and day_span[0] < b[1]]
            starts = _unit_starts(day, grid_minutes, calendar.zone)
            inside = _units_inside(starts, length, opened)
            shut = _units_touching(starts, length, closed) if closed else set()
            booked = _units_touching(starts, length, taken) if taken else set()
            for index in range(len(starts)):
                if index not in inside:
                    reason = OUTSIDE_OPENING_HOURS
                elif index in shut:
                    reason = SPACE_CLOSED
                elif index in booked:
                    reason = BOOKED
                else:
                    free_weeks.setdefault((weekday, index), set()).add(week)
                    continue
                reasons[(weekday, index), week] = reason
    weeks_with_day = {
        weekday: frozenset(
            w for w in range(weeks_in(term_start, term_end)) if date_of(term_start, w, weekday) <= term_end
        )
        for weekday in range(7)
    }
    open_units = frozenset(free_weeks)
    blocked = {
        unit: frozenset(weeks_with_day[unit[0]] - free)
        for unit, free in free_weeks.items()
        if weeks_with_day[unit[0]] - free
    }
    return open_units, blocked, {key: why for key, why in reasons.items() if key[0] in blocked}
