"""The RRULE subset a series may use, expanded in venue-local wall time.

Supported: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY (with ordinals such as 2TU or -1FR for
MONTHLY), COUNT or UNTIL (one of them is required), WKST. The first occurrence is always the
series' own start, as RFC 5545 says (dateutil would drop it when it does not match the rule).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from booking.errors import AmbiguousLocalTime, RecurrenceTooLong, UnsupportedRecurrence
from booking.rules.localtime import instant

MAX_OCCURRENCES = 500
MAX_HORIZON = timedelta(days=2 * 365)
FREQUENCIES = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY}
WEEKDAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
BYDAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")


@dataclass(frozen=True, slots=True)
class Rule:
    freq: str
    interval: int = 1
    byday: tuple[str, ...] = ()
    count: int | None = None
    until: str | None = None
    wkst: str = "MO"


def parse(text: str) -> Rule:
    parts: dict[str, str] = {}
    for item in text.strip().removeprefix("RRULE:").split(";"):
        name, sep, value = item.partition("=")
        if not sep or not value or name.upper() in parts:
            raise UnsupportedRecurrence(f"cannot read {item!r} in the rule", rrule=text)
        parts[name.upper()] = value.upper()
    unknown = set(parts) - {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"}
    if unknown:
        raise UnsupportedRecurrence(f"unsupported parts: {', '.join(sorted(unknown))}", rrule=text)
    freq = parts.get("FREQ")
    if freq not in FREQUENCIES:
        raise UnsupportedRecurrence("FREQ must be DAILY, WEEKLY or MONTHLY", rrule=text)
    byday = tuple(parts["BYDAY"].split(",")) if "BYDAY" in parts else ()
    for day in byday:
        match = BYDAY.match(day)
        if not match or (match.group(1) and freq != "MONTHLY"):
            raise UnsupportedRecurrence(f"BYDAY value {day!r} is not supported with FREQ={freq}", rrule=text)
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise UnsupportedRecurrence("give exactly one of COUNT and UNTIL", rrule=text)
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError as error:
        raise UnsupportedRecurrence("INTERVAL and COUNT must be whole numbers", rrule=text) from error
    if not 1 <= interval <= 12 or (count is not None and count < 1):
        raise UnsupportedRecurrence("INTERVAL must be 1–12 and COUNT at least 1", rrule=text)
    if count is not None and count > MAX_OCCURRENCES:
        raise RecurrenceTooLong(f"COUNT may be at most {MAX_OCCURRENCES}", limit=MAX_OCCURRENCES)
    wkst = parts.get("WKST", "MO")
    if wkst not in WEEKDAYS:
        raise UnsupportedRecurrence(f"WKST {wkst!r} is not a weekday", rrule=text)
    if "UNTIL" in parts:
        _until(parts["UNTIL"], ZoneInfo("UTC"))  # refuse a malformed UNTIL now, not at expansion
    return Rule(freq, interval, byday, count, parts.get("UNTIL"), wkst)


def _until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as naive local wall time: a UTC stamp (…Z), a local stamp, or a whole local date."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)
        if len(value) not in (15, 16):
            raise ValueError(value)
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(zone).replace(tzinfo=None)
        return datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as error:
        raise UnsupportedRecurrence(f"UNTIL {value!r} is not a date or date-time") from error


def _rule_for_dateutil(rule: Rule, first: datetime, zone: ZoneInfo) -> du.rrule:
    weekdays = []
    for day in rule.byday:
        ordinal, name = BYDAY.match(day).groups()
        weekdays.append(WEEKDAYS[name](int(ordinal)) if ordinal else WEEKDAYS[name])
    return du.rrule(
        FREQUENCIES[rule.freq],
        dtstart=first,
        interval=rule.interval,
        byweekday=weekdays or None,
        until=_until(rule.until, zone) if rule.until else None,
        wkst=WEEKDAYS[rule.wkst],
    )


def expand(
    rule: Rule, starts_at: datetime, ends_at: datetime, zone: ZoneInfo, *, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The series' (start, end) instants. Wall-clock times stay put across DST changes."""
    first = starts_at.astimezone(zone).replace(tzinfo=None)
    duration = ends_at.astimezone(zone).replace(tzinfo=None) - first
    wanted = rule.count or MAX_OCCURRENCES + 1
    walls = [first]
    for wall in _rule_for_dateutil(rule, first, zone):
        if len(walls) >= wanted:
            break
        if wall != first:
            walls.append(wall)
    if len(walls) > MAX_OCCURRENCES:
        raise RecurrenceTooLong(f"a series may have at most {MAX_OCCURRENCES} occurrences", limit=MAX_OCCURRENCES)
    horizon = now + MAX_HORIZON
    unclear: list[str] = []
    series = []
    for wall in walls:
        try:
            start, end = instant(wall, zone), instant(wall + duration, zone)
        except AmbiguousLocalTime:
            unclear.append(wall.isoformat(timespec="minutes"))
            continue
        if start > horizon:
            raise RecurrenceTooLong(
                f"a series may not run past {horizon.date().isoformat()} (two years ahead)",
                limit_days=MAX_HORIZON.days,
            )
        series.append((start, end))
    if unclear:
        raise AmbiguousLocalTime(
            "these local times are skipped or repeated by a daylight-saving change: " + ", ".join(unclear),
            local_times=unclear,
            timezone=zone.key,
        )
    return series
