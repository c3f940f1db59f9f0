"""Read an iCalendar file into closure-shaped events, within bounds an untrusted file cannot escape.

Pure: bytes in, frozen dataclasses out. Every refusal is a ``CalendarRejected`` with a stable
code. The bounds (see ``ImportLimits``): the size is checked before parsing, then the number of
components; recurrence rules must repeat at most daily (no FREQ below DAILY, at most one
BYHOUR/BYMINUTE/BYSECOND value), COUNT is capped, series are expanded only within
[now - past, now + future), at most ``max_occurrences`` instances in all, within a time budget.

All-day events (DATE values) become local whole days [first_day, end_day), the end exclusive as
in iCalendar; timed events become UTC instants. Floating times are read in the calendar's
X-WR-TIMEZONE, else in the zone the caller gives (the venue's). A TZID that is neither a known
zone nor defined by a VTIMEZONE in the file is refused. EXDATE and RECURRENCE-ID overrides are
applied; cancelled instances and TRANSP:TRANSPARENT events are reported as skipped.
"""

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
from recurring_ical_events.errors import BadRuleStringFormat, PeriodEndBeforeStart

ALLOWED_FREQ = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
SUB_DAILY_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")
SINGLE_PROPERTIES = ("UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RECURRENCE-ID", "STATUS", "TRANSP")
MAX_UID_LENGTH = 255
# The library compares all-day events as if they were in UTC: ask it for a little more than the
# window and decide each edge case in the venue's zone.
EDGE = timedelta(days=2)
BEGIN_LINE = re.compile(rb"^BEGIN:", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_bytes: int = 2_000_000
    max_components: int = 5_000
    max_count: int = 1_000
    max_occurrences: int = 10_000
    budget_s: float = 2.0
    past: timedelta = timedelta(days=365)
    future: timedelta = timedelta(days=2 * 365)
    # A recurring series may start at most this long before the window: expanding a daily rule
    # from year 1 takes seconds before its first instance in the window.
    series_lookback: timedelta = timedelta(days=50 * 365)


LIMITS = ImportLimits()


class CalendarRejected(ValueError):
    """The file cannot be imported; ``code`` says why (stable, snake_case)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One instance to import. ``key`` is the UID, plus ``#<original start>`` for an instance of a
    recurring event, so a re-import finds it again. Either instants or local days are set."""

    key: str
    summary: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    first_day: date | None = None
    end_day: date | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class SkippedEvent:
    key: str
    summary: str
    why: str  # "cancelled", "transparent" or "empty"


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    name: str  # X-WR-CALNAME or NAME, "" if neither
    prodid: str
    window: tuple[datetime, datetime]
    events: tuple[CalendarEvent, ...]
    skipped: tuple[SkippedEvent, ...]


def parse_calendar(data: bytes, *, now: datetime, zone: ZoneInfo, limits: ImportLimits = LIMITS) -> ParsedCalendar:
    """The events of ``data`` that overlap [now - past, now + future), or ``CalendarRejected``."""
    deadline = time.monotonic() + limits.budget_s
    calendar = _read(data, limits)
    floating = _floating_zone(calendar, zone)
    window = (now - limits.past, now + limits.future)
    for event in calendar.walk("VEVENT"):
        _check_event(event, window[0] - limits.series_lookback, limits)
    events, skipped = _expand(calendar, window, (floating, zone), deadline, limits)
    return ParsedCalendar(
        name=str(calendar.get("X-WR-CALNAME") or calendar.get("NAME") or "").strip(),
        prodid=str(calendar.get("PRODID") or "").strip(),
        window=window,
        events=tuple(events),
        skipped=tuple(skipped),
    )


def _read(data: bytes, limits: ImportLimits) -> icalendar.Calendar:
    if len(data) > limits.max_bytes:
        raise CalendarRejected("calendar_too_large", f"the calendar is larger than {limits.max_bytes} bytes")
    if len(BEGIN_LINE.findall(data)) > limits.max_components:
        raise CalendarRejected("calendar_too_complex", f"the calendar has more than {limits.max_components} components")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CalendarRejected("invalid_calendar", "the calendar is not UTF-8 text") from error
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise CalendarRejected("invalid_calendar", "the file is not an iCalendar file (no BEGIN:VCALENDAR)")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as error:
        raise CalendarRejected("invalid_calendar", f"the calendar cannot be read: {error}") from error
    if not isinstance(calendar, icalendar.Calendar):
        raise CalendarRejected("invalid_calendar", "the file does not hold one VCALENDAR")
    for component in calendar.walk():
        if component.errors:
            name, message = component.errors[0]
            raise CalendarRejected("invalid_calendar", f"{component.name} has a bad {name}: {message}")
    return calendar


def _floating_zone(calendar: icalendar.Calendar, default: ZoneInfo) -> ZoneInfo:
    name = str(calendar.get("X-WR-TIMEZONE") or "").strip()
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarRejected("unknown_timezone", f"X-WR-TIMEZONE {name!r} is not a known time zone") from error


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _check_event(event: icalendar.Event, earliest_series_start: datetime, limits: ImportLimits) -> None:
    uid = str(event.get("UID") or "").strip()
    if not uid or len(uid) > MAX_UID_LENGTH:
        raise CalendarRejected("invalid_calendar", f"every VEVENT needs a UID of 1 to {MAX_UID_LENGTH} characters")
    for name in SINGLE_PROPERTIES:
        if isinstance(event.get(name), list):
            raise CalendarRejected("invalid_calendar", f"event {uid} has more than one {name}")
    if event.get("DTSTART") is None:
        raise CalendarRejected("invalid_calendar", f"event {uid} has no DTSTART")
    if event.get("DTEND") is not None and event.get("DURATION") is not None:
        raise CalendarRejected("invalid_calendar", f"event {uid} has both DTEND and DURATION")
    if _ends_before_start(event):
        raise CalendarRejected("invalid_calendar", f"event {uid} ends before it starts")
    for name in DATE_PROPERTIES:
        for prop in _as_list(event.get(name) or []):
            tzid = prop.params.get("TZID")
            values = [item.dt for item in prop.dts] if hasattr(prop, "dts") else [prop.dt]
            values = [value[0] if isinstance(value, tuple) else value for value in values]
            if tzid and any(isinstance(value, datetime) and value.tzinfo is None for value in values):
                raise CalendarRejected("unknown_timezone", f"event {uid}: TZID {tzid!r} is not a known time zone")
    if event.get("EXRULE") is not None:
        raise CalendarRejected("unsupported_recurrence", f"event {uid}: EXRULE is not supported (use EXDATE)")
    rule = event.get("RRULE")
    if rule is not None:
        _check_rule(uid, rule, limits)
        start = event["DTSTART"].dt
        start = datetime.combine(start, datetime.min.time()) if not isinstance(start, datetime) else start
        if start.replace(tzinfo=start.tzinfo or UTC) < earliest_series_start:
            raise CalendarRejected("unsupported_recurrence", f"event {uid}: the series starts too long ago")


def _ends_before_start(event: icalendar.Event) -> bool:
    start = event["DTSTART"].dt
    if event.get("DURATION") is not None:
        return event["DURATION"].dt < timedelta(0)
    if event.get("DTEND") is None:
        return False
    end = event["DTEND"].dt
    comparable = type(start) is type(end) and (getattr(start, "tzinfo", None) is None) == (
        getattr(end, "tzinfo", None) is None
    )
    return comparable and end < start


def _check_rule(uid: str, rule, limits: ImportLimits) -> None:
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    if not freq:
        raise CalendarRejected("invalid_calendar", f"event {uid}: RRULE without FREQ")
    if freq not in ALLOWED_FREQ:
        raise CalendarRejected(
            "unsupported_recurrence", f"event {uid}: FREQ={freq} repeats more often than daily, which is not supported"
        )
    for part in SUB_DAILY_PARTS:
        if len(rule.get(part) or []) > 1:
            raise CalendarRejected(
                "unsupported_recurrence", f"event {uid}: several {part} values repeat more often than daily"
            )
    count = (rule.get("COUNT") or [None])[0]
    if count is not None and int(count) > limits.max_count:
        raise CalendarRejected(
            "recurrence_too_long", f"event {uid}: COUNT={count} is more than {limits.max_count} occurrences"
        )


def _expand(calendar, window, zones: tuple[ZoneInfo, ZoneInfo], deadline: float, limits: ImportLimits):
    """Instances overlapping the window; ``zones`` = (for floating times, the venue's for local days)."""
    floating, local = zones
    events: list[CalendarEvent] = []
    skipped: list[SkippedEvent] = []
    keys: set[str] = set()
    try:
        query = recurring_ical_events.of(calendar)
        for series in query.series:
            recurring = _is_recurring(series)
            for occurrence in series.between(window[0] - EDGE, window[1] + EDGE):
                _within_budget(deadline, len(events) + len(skipped), limits)
                component = occurrence.as_component(False)
                item = _instance(component, occurrence, recurring, floating)
                if not _overlaps(item, window, local):
                    continue
                if item.key in keys:
                    raise CalendarRejected("invalid_calendar", f"event {item.key} appears twice")
                keys.add(item.key)
                why = _skip_reason(component, item)
                if why:
                    skipped.append(SkippedEvent(item.key, item.summary, why))
                else:
                    events.append(item)
    except (BadRuleStringFormat, PeriodEndBeforeStart, icalendar.InvalidCalendar, ValueError, TypeError) as error:
        if isinstance(error, CalendarRejected):
            raise
        raise CalendarRejected("invalid_calendar", f"the calendar's events cannot be expanded: {error}") from error
    _within_budget(deadline, len(events) + len(skipped), limits)
    return events, skipped


def _within_budget(deadline: float, produced: int, limits: ImportLimits) -> None:
    if produced > limits.max_occurrences:
        raise CalendarRejected(
            "too_many_occurrences", f"the calendar has more than {limits.max_occurrences} occurrences in the window"
        )
    if time.monotonic() > deadline:
        raise CalendarRejected("calendar_too_complex", f"reading the calendar took longer than {limits.budget_s} s")


def _is_recurring(series) -> bool:
    core = series.recurrence.core if series.recurrence.has_core else None
    return bool(series.modifications) or (core is not None and bool(core.rrules or core.rdates))


def _instance(component, occurrence, recurring: bool, floating: ZoneInfo) -> CalendarEvent:
    uid = str(component["UID"]).strip()
    summary = str(component.get("SUMMARY") or "").strip()
    start, end = occurrence.start, occurrence.end
    key = uid
    if recurring:
        original = component.get("RECURRENCE-ID")
        key = f"{uid}#{_stamp(original.dt if original is not None else start, floating)}"
    if not isinstance(start, datetime):
        end = end if isinstance(end, date) and not isinstance(end, datetime) else start + timedelta(days=1)
        return CalendarEvent(key, summary, first_day=start, end_day=max(end, start + timedelta(days=1)))
    return CalendarEvent(key, summary, starts_at=_utc(start, floating), ends_at=_utc(end, floating))


def _overlaps(item: CalendarEvent, window: tuple[datetime, datetime], zone: ZoneInfo) -> bool:
    if item.first_day is None:
        start, end = item.starts_at, item.ends_at
    else:
        start = datetime.combine(item.first_day, time_of_day.min, tzinfo=zone)
        end = datetime.combine(item.end_day, time_of_day.min, tzinfo=zone)
    return start < window[1] and end > window[0]


def _utc(value: datetime, floating: ZoneInfo) -> datetime:
    return (value if value.tzinfo is not None else value.replace(tzinfo=floating)).astimezone(UTC)


def _stamp(value: date, floating: ZoneInfo) -> str:
    """The original start of an instance, as iCalendar writes it: a date, or a UTC date-time."""
    if isinstance(value, datetime):
        return _utc(value, floating).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _skip_reason(component, item: CalendarEvent) -> str | None:
    if str(component.get("STATUS") or "").upper() == "CANCELLED":
        return "cancelled"
    if str(component.get("TRANSP") or "").upper() == "TRANSPARENT":
        return "transparent"
    if item.starts_at is not None and item.ends_at <= item.starts_at:
        return "empty"
    return None
