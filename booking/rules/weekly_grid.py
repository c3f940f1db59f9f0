"""A term seen as a weekly grid of time units (the allocator's view of time), built from calendars.

A unit is (weekday, index) with ``grid_minutes`` per index from local midnight. Week ``w`` of a
term is the seven days from ``term_start + 7w``; a weekday's date in that week may fall after the
term's end, in which case that week simply has no such day.
"""

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


def _inside(span: Interval, intervals: list[Interval]) -> bool:
    return any(s <= span[0] and span[1] <= e for s, e in intervals)


def _touches(span: Interval, intervals: list[Interval]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in intervals)


def space_grid(
    calendar: SpaceCalendar, busy: list[Interval], term_start: date, term_end: date, grid_minutes: int
) -> tuple[frozenset[Unit], dict[Unit, frozenset[int]], dict[tuple[Unit, int], str]]:
    """(open units, blocked weeks per open unit, why each blocked (unit, week) is blocked).

    A unit is open when it is usable in at least one week of the term; in the other weeks it is
    blocked because the space is outside its hours then, closed, or already booked.
    """
    per_day = 1440 // grid_minutes
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
            for index in range(per_day):
                span = _unit_span(day, index, grid_minutes, calendar.zone)
                if not _inside(span, opened):
                    reason = OUTSIDE_OPENING_HOURS
                elif _touches(span, closed):
                    reason = SPACE_CLOSED
                elif _touches(span, taken):
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
    return open_units, blocked, reasons
