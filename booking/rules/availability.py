"""What a space's calendar allows: opening hours minus closures, and why a slot is refused."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from booking.rules import hours
from booking.rules.intervals import Interval, clip, overlaps, subtract, union
from booking.rules.localtime import day_start

OUTSIDE_OPENING_HOURS = "outside_opening_hours"
SPACE_CLOSED = "space_closed"


@dataclass(frozen=True, slots=True)
class SpaceCalendar:
    """Everything needed to judge a slot of one space, with no database behind it.

    ``windows`` empty means the space keeps no hours: open at any time. ``closures`` holds
    every closed interval that concerns the space (its own, its venue's, its parts' and its
    parents', public holidays).
    """

    zone: ZoneInfo
    windows: list[hours.Window] = field(default_factory=list)
    closures: list[Interval] = field(default_factory=list)

    def refusal(self, start: datetime, end: datetime) -> str | None:
        if any(overlaps(start, end, c_start, c_end) for c_start, c_end in self.closures):
            return SPACE_CLOSED
        if not hours.fits(self.windows, start, end, self.zone):
            return OUTSIDE_OPENING_HOURS
        return None

    def open_intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """When the space is open within [start, end): hours minus closures."""
        opened = hours.open_intervals(self.windows, start, end, self.zone) if self.windows else [(start, end)]
        return subtract(opened, clip(self.closures, start, end))


def whole_days(first: date, last: date, zone: ZoneInfo) -> Interval:
    """Local days ``first``..``last`` inclusive as one interval of instants."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


def holiday_intervals(days: list[date], zone: ZoneInfo) -> list[Interval]:
    return union(whole_days(day, day, zone) for day in days)


def availability(
    calendar: SpaceCalendar, busy: list[Interval], start: datetime, end: datetime
) -> tuple[list[Interval], list[Interval], list[Interval]]:
    """(open, busy, free) within [start, end); free = open − busy."""
    opened = calendar.open_intervals(start, end)
    taken = clip(busy, start, end)
    return opened, taken, subtract(opened, taken)
