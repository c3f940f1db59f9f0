"""Venue-local wall-clock time ↔ UTC instants, refusing times a DST change skips or repeats."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.errors import AmbiguousLocalTime


def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in ``zone``; gaps and folds are errors."""
    early = wall.replace(tzinfo=zone, fold=0)
    late = wall.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        repeated = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
        what = "happens twice" if repeated else "does not exist"
        raise AmbiguousLocalTime(
            f"{wall.isoformat(timespec='minutes')} {what} in {zone.key} (daylight-saving change)",
            local_time=wall.isoformat(timespec="minutes"),
            timezone=zone.key,
        )
    return early.astimezone(UTC)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day (midnight, or the first valid minute after a gap)."""
    wall = datetime.combine(day, time())
    for minutes in range(0, 24 * 60, 15):
        try:
            return instant(wall + timedelta(minutes=minutes), zone)
        except AmbiguousLocalTime:
            continue
    raise AmbiguousLocalTime(f"{day} has no valid local midnight in {zone.key}")


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date touched by the half-open range [start, end)."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
