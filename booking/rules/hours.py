"""Weekly opening hours in venue-local time, with validity ranges (term time vs vacation)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.errors import AmbiguousLocalTime, InvalidOpeningHours
from booking.rules.intervals import Interval, covers, union
from booking.rules.localtime import instant, local_days

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Window:
    """Open on ``weekday`` (0 = Monday) from ``opens_min`` to ``closes_min`` minutes after midnight,
    on dates from ``valid_from`` to ``valid_until`` inclusive (open-ended when None)."""

    weekday: int
    opens_min: int
    closes_min: int
    valid_from: date | None = None
    valid_until: date | None = None

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
        )


def _validity(window: Window) -> tuple[date, date]:
    return window.valid_from or date.min, window.valid_until or date.max


def ordering(window: Window) -> tuple:
    return window.weekday, window.opens_min, window.closes_min, _validity(window)


def _clash(a: Window, b: Window) -> bool:
    (a_from, a_until), (b_from, b_until) = _validity(a), _validity(b)
    return (
        a.weekday == b.weekday
        and a_from <= b_until
        and b_from <= a_until
        and a.opens_min < b.closes_min
        and b.opens_min < a.closes_min
    )


def check(windows: list[Window]) -> list[Window]:
    """Validate a set of windows; touching windows with the same validity are merged."""
    for index, window in enumerate(windows):
        problem = None
        if not 0 <= window.weekday <= 6:
            problem = "weekday must be 0 (Monday) to 6 (Sunday)"
        elif not 0 <= window.opens_min < window.closes_min <= MINUTES_PER_DAY:
            problem = "opens must be before closes, within the day (closes may be 24:00)"
        elif window.valid_from and window.valid_until and window.valid_from > window.valid_until:
            problem = "valid_from must not be after valid_until"
        if problem:
            raise InvalidOpeningHours(problem, index=index)
    ordered = sorted(windows, key=ordering)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if _clash(first, second):
                raise InvalidOpeningHours(
                    f"windows overlap on weekday {first.weekday}: "
                    f"{clock(first.opens_min)}–{clock(first.closes_min)} and "
                    f"{clock(second.opens_min)}–{clock(second.closes_min)}",
                    weekday=first.weekday,
                )
    merged: list[Window] = []
    for window in ordered:
        touching = next(
            (
                index
                for index, kept in enumerate(merged)
                if kept.weekday == window.weekday
                and _validity(kept) == _validity(window)
                and kept.closes_min == window.opens_min
            ),
            None,
        )
        if touching is None:
            merged.append(window)
        else:
            kept = merged[touching]
            merged[touching] = Window(
                kept.weekday, kept.opens_min, window.closes_min, kept.valid_from, kept.valid_until
            )
    return sorted(merged, key=ordering)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_clock(text: str) -> int:
    """'18:30' → 1110; '24:00' is the end of the day."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day (00:00–24:00)")
    return value


def _wall_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Lenient on purpose: a time inside a DST gap means the first valid minute after it; a
    repeated time means its first occurrence."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    for _ in range(MINUTES_PER_DAY):
        try:
            return instant(wall, zone)
        except AmbiguousLocalTime:
            if wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
                return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # repeated: the first one
            wall += timedelta(minutes=1)
    raise AmbiguousLocalTime(f"no valid local time near {wall.isoformat()} in {zone.key}")


def open_intervals(windows: list[Window], start: datetime, end: datetime, zone: ZoneInfo) -> list[Interval]:
    """The instants in [start, end) that fall inside some window."""
    found = [
        (_wall_instant(day, w.opens_min, zone), _wall_instant(day, w.closes_min, zone))
        for day in local_days(start - timedelta(days=1), end, zone)
        for w in windows
        if w.applies_on(day)
    ]
    return [(max(s, start), min(e, end)) for s, e in union(found) if s < end and start < e]


def fits(windows: list[Window], start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """No windows means no restriction: a space without hours is bookable at any time."""
    return not windows or covers(open_intervals(windows, start, end, zone), start, end)


@dataclass(frozen=True, slots=True)
class DayPiece:
    """The part of a range that falls on one local day, as minutes after local midnight."""

    day: date
    from_min: int
    to_min: int


def day_pieces(start: datetime, end: datetime, zone: ZoneInfo) -> list[DayPiece]:
    """Split [start, end) at local midnights; the last minute of a day is 1440 (24:00)."""
    pieces = []
    for day in local_days(start, end, zone):
        first, last = start.astimezone(zone), end.astimezone(zone)
        from_min = first.hour * 60 + first.minute if first.date() == day else 0
        to_min = last.hour * 60 + last.minute if last.date() == day else MINUTES_PER_DAY
        if to_min > from_min:
            pieces.append(DayPiece(day, from_min, to_min))
    return pieces
