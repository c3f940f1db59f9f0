"""iCalendar subscription feeds and invitations: bookings and closures in, RFC 5545 bytes out.

Pure and deterministic: the same ``Feed`` renders to the same bytes (DTSTAMP and LAST-MODIFIED
come from the data, the calendar UID from the feed's URL), so a hash of the body is an ETag.

What every client is given (Google, Apple, Outlook, Thunderbird/ical.js, libical):

* times in the venue's zone with a TZID and one generated VTIMEZONE per zone (``vtimezone``);
* one RRULE per series, its UNTIL in UTC; no RDATE, no METHOD, no ORGANIZER/ATTENDEE;
* a moved session as an override (same UID, RECURRENCE-ID = where the rule put it);
* a cancelled session as an EXDATE (venue feeds: the slot is free) or as a STATUS:CANCELLED
  override (people's feeds: they see the cancellation); a never-booked rule instance as an EXDATE.

An invitation (``invitation``, the attachment of a mail: iMIP, RFC 6047) is one event of a
person's feed, with its UID and SEQUENCE, as an iTIP message (RFC 5546): METHOD:REQUEST carries
the event as it now is (new or moved); METHOD:CANCEL the whole event, or the cancelled sessions
of a series as overrides with their RECURRENCE-ID. It names the ORGANIZER and the ATTENDEE, so a
calendar app files it under the right event and updates it by itself.

Content lines are written here rather than through icalendar's ``Calendar.to_ical()``: that takes
longer for a 10,000-occurrence feed than the whole render may (see ``bench/feeds.py``), and
icalendar 7.3 also writes NAME and X-WR-CALNAME unescaped, omits VALUE=DURATION on
REFRESH-INTERVAL and writes a timedelta X-PUBLISHED-TTL as ``1:00:00``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import vDuration

from integrations.vtimezone import covering_years, vtimezone

PRODID = "-//venueshare//Booking feeds 1.0//EN"
ZONE_MARGIN = timedelta(days=31)  # VTIMEZONE coverage around the window
MAX_COUNT = 999  # Outlook's recurrence templates take at most three digits; longer rules get an UNTIL
FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})


class FeedError(ValueError):
    """The feed's data contradicts itself (a session outside its rule, a naive time, …)."""


class SessionState(StrEnum):
    confirmed = "confirmed"
    cancelled = "cancelled"


@dataclass(frozen=True, slots=True)
class Session:
    """One booked date of an event."""

    original_start: datetime  # UTC-aware: its place in the rule (RECURRENCE-ID); equals start unless moved
    start: datetime  # UTC-aware: where it is now
    end: datetime
    state: SessionState


@dataclass(frozen=True, slots=True)
class Person:
    """Someone an invitation names (a CAL-ADDRESS: their mail address)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Event:
    """One booking: a one-off or a daily/weekly/monthly series."""

    uid: str  # stable, opaque, scoped per feed family by the caller
    summary: str
    timezone: str  # IANA zone of the venue
    starts_at: datetime  # UTC: the rule's first instance (DTSTART)
    ends_at: datetime  # UTC: its end (the duration of every instance)
    rrule: str | None  # the engine's RRULE subset in venue-local wall time; None = one-off
    sessions: tuple[Session, ...]  # the booked dates; a rule instance without one is an EXDATE
    sequence: int
    created_at: datetime
    updated_at: datetime  # DTSTAMP and LAST-MODIFIED
    location: str = ""
    description: str = ""
    cancelled: bool = False  # the whole booking: STATUS:CANCELLED on the master
    # The UTC start of every instance of ``rrule``, as the engine expanded it when booking (the
    # caller's ``booking.rules.recurrence``: one implementation of the rule, not two).
    instances: tuple[datetime, ...] = ()
    organizer: Person | None = None  # invitations only: feeds name no one
    attendee: Person | None = None


@dataclass(frozen=True, slots=True)
class DayBlock:
    """An all-day block (a closure by whole local days)."""

    uid: str
    summary: str
    first_day: date
    last_day: date  # inclusive; rendered with an exclusive DTEND;VALUE=DATE
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    description: str
    source_url: str
    window_start: datetime  # VTIMEZONE coverage only: the caller chose the events
    window_end: datetime
    events: tuple[Event, ...] = ()
    days: tuple[DayBlock, ...] = ()
    show_cancelled: bool = True  # False (venue/space feeds): a cancelled session is an EXDATE
    refresh: timedelta = timedelta(hours=1)


def render(feed: Feed) -> bytes:
    """The feed as an iCalendar object (UTF-8, CRLF, folded at 75 octets)."""
    window = (_utc(feed.window_start) - ZONE_MARGIN, _utc(feed.window_end) + ZONE_MARGIN)
    spans: dict[str, tuple[datetime, datetime]] = {}  # per zone, what its VTIMEZONE must cover
    events: list[str] = []
    for event in sorted(feed.events, key=lambda event: (_utc(event.starts_at), event.uid)):
        starts = _starts(event)
        rendered = _event_components(event, starts, feed.show_cancelled)
        if not rendered:
            continue
        events += rendered
        _cover(spans, event, starts, window)
    days = [_day_block(block) for block in sorted(feed.days, key=lambda block: (block.first_day, block.uid))]
    return "".join([_header(feed), *_zones(spans), *events, *days, "END:VCALENDAR\r\n"]).encode()


class Method(StrEnum):
    request = "REQUEST"
    cancel = "CANCEL"


def invitation(event: Event, method: Method, cancelled: Sequence[datetime] = ()) -> bytes:
    """One event as an iTIP message. REQUEST: the event as it now is, its overrides included.
    CANCEL: the whole event; or, given ``cancelled`` (original starts of sessions of a series),
    just those sessions, each as an override with its RECURRENCE-ID."""
    if event.organizer is None or event.attendee is None:
        raise FeedError(f"event {event.uid}: an invitation names its organizer and attendee")
    starts = _starts(event)
    if method is Method.request or not cancelled or event.rrule is None:
        components = _event_components(event, starts, show_cancelled=True)
        if method is Method.cancel:  # the whole event: its master, cancelled
            components = [_vevent(event, event.starts_at, event.ends_at, _zone(event.timezone), cancelled=True)]
    else:
        components = _cancelled_sessions(event, cancelled)
    spans: dict[str, tuple[datetime, datetime]] = {}
    _cover(spans, event, starts, (starts[0], starts[0]))
    header = ["BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", _line("PRODID", PRODID), "CALSCALE:GREGORIAN\r\n"]
    header.append(_line("METHOD", method.value))
    return "".join([*header, *_zones(spans), *components, "END:VCALENDAR\r\n"]).encode()


def _cancelled_sessions(event: Event, cancelled: Sequence[datetime]) -> list[str]:
    zone = _zone(event.timezone)
    sessions = {_utc(session.original_start): session for session in event.sessions}
    duration = _utc(event.ends_at) - _utc(event.starts_at)
    components = []
    for original in sorted({_utc(moment) for moment in cancelled}):
        session = sessions.get(original)
        start, end = (session.start, session.end) if session is not None else (original, original + duration)
        rid = _local("RECURRENCE-ID", original, zone)
        components.append(_vevent(event, start, end, zone, cancelled=True, extra=[rid]))
    return components


def _starts(event: Event) -> tuple[datetime, ...]:
    return _instances(event) if event.rrule else (_utc(event.starts_at),)


def _cover(
    spans: dict[str, tuple[datetime, datetime]], event: Event, starts: tuple[datetime, ...], at_least: tuple
) -> None:
    """Widen what the VTIMEZONE of the event's zone must cover to every moment of the event."""
    duration = _utc(event.ends_at) - _utc(event.starts_at)
    moments = [starts[0], starts[-1] + duration]
    moments += [_utc(moment) for session in event.sessions for moment in (session.start, session.end)]
    first, last = spans.get(event.timezone, at_least)
    spans[event.timezone] = (min(first, *moments), max(last, *moments))


def _zones(spans: dict[str, tuple[datetime, datetime]]) -> list[str]:
    return [vtimezone(zone_name, *covering_years(*spans[zone_name])) for zone_name in sorted(spans)]


# --- content lines (RFC 5545 §3.1) ---------------------------------------------------------------

# TEXT may not hold control characters other than HTAB; line breaks are written as \n.
_CONTROLS = {code: None for code in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)}


def _line(name: str, value: str) -> str:
    """One content line, folded at 75 octets (never inside a UTF-8 sequence), ending in CRLF."""
    line = f"{name}:{value}"
    if (len(line) <= 75 and line.isascii()) or len(line.encode()) <= 75:
        return line + "\r\n"
    parts, current, size = [], [], 0
    for char in line:
        octets = len(char.encode())
        if size + octets > 75:
            parts.append("".join(current))
            current, size = [], 1  # a continuation line starts with one space
        current.append(char)
        size += octets
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def _text(value: str) -> str:
    """A TEXT value, escaped (§3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(value: str) -> str:
    """A parameter value, quoted when it holds a separator (§3.1)."""
    value = value.replace('"', "").translate(_CONTROLS)
    return f'"{value}"' if any(char in value for char in ",;:") else value


def _stamp(moment: datetime) -> str:
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def _local(name: str, moment: datetime, zone: ZoneInfo) -> str:
    return _line(f"{name};TZID={_param(zone.key)}", _utc(moment).astimezone(zone).strftime("%Y%m%dT%H%M%S"))


def _duration(value: timedelta) -> str:
    return vDuration(value).to_ical().decode()


# --- the calendar ------------------------------------------------------------------------------


def _header(feed: Feed) -> str:
    refresh = _duration(feed.refresh)
    lines = [
        "BEGIN:VCALENDAR\r\n",
        "VERSION:2.0\r\n",
        _line("PRODID", PRODID),
        "CALSCALE:GREGORIAN\r\n",
        _line("UID", str(uuid.uuid5(uuid.NAMESPACE_URL, feed.source_url))),
        _line("NAME", _text(feed.name)),
        _line("X-WR-CALNAME", _text(feed.name)),
    ]
    if feed.description:
        lines += [_line("DESCRIPTION", _text(feed.description)), _line("X-WR-CALDESC", _text(feed.description))]
    lines += [
        _line("SOURCE;VALUE=URI", feed.source_url),
        _line("URL;VALUE=URI", feed.source_url),
        _line("REFRESH-INTERVAL;VALUE=DURATION", refresh),
        _line("X-PUBLISHED-TTL", refresh),
    ]
    changes = [event.updated_at for event in feed.events] + [block.updated_at for block in feed.days]
    if changes:
        lines.append(_line("LAST-MODIFIED", _stamp(max(_utc(moment) for moment in changes))))
    return "".join(lines)


# --- events ------------------------------------------------------------------------------------


def _event_components(event: Event, starts: tuple[datetime, ...], show_cancelled: bool) -> list[str]:
    """The master (and its overrides) of an event whose rule instances start at ``starts``."""
    zone = _zone(event.timezone)
    if event.rrule is None:
        return _one_off(event, zone, show_cancelled)
    if event.cancelled and not show_cancelled:
        return []
    duration = _utc(event.ends_at) - _utc(event.starts_at)
    sessions = {_utc(session.original_start): session for session in event.sessions}
    orphans = sorted(set(sessions) - set(starts))
    if orphans:
        raise FeedError(f"event {event.uid}: sessions outside its rule at {', '.join(map(str, orphans))}")
    exdates, overrides = [], []
    for start in starts:
        session = sessions.get(start)
        if session is None or (session.state is SessionState.cancelled and not show_cancelled):
            exdates.append(_local("EXDATE", start, zone))
            continue
        moved = _utc(session.start) != start or _utc(session.end) != start + duration
        cancelled = event.cancelled or session.state is SessionState.cancelled
        if moved or cancelled != event.cancelled:
            rid = _local("RECURRENCE-ID", start, zone)
            overrides.append(_vevent(event, session.start, session.end, zone, cancelled=cancelled, extra=[rid]))
    rule = _line("RRULE", _rule(event.rrule, starts[-1]))
    master = _vevent(event, event.starts_at, event.ends_at, zone, cancelled=event.cancelled, extra=[rule, *exdates])
    return [master, *overrides]


def _one_off(event: Event, zone: ZoneInfo, show_cancelled: bool) -> list[str]:
    if len(event.sessions) > 1:
        raise FeedError(f"event {event.uid}: a one-off has at most one session")
    start, end, cancelled = event.starts_at, event.ends_at, event.cancelled
    if event.sessions:
        session = event.sessions[0]
        start, end = session.start, session.end
        cancelled = cancelled or session.state is SessionState.cancelled
    if cancelled and not show_cancelled:
        return []
    return [_vevent(event, start, end, zone, cancelled=cancelled)]


def _vevent(
    event: Event, start: datetime, end: datetime, zone: ZoneInfo, *, cancelled: bool, extra: Sequence[str] = ()
) -> str:
    if _utc(end) <= _utc(start):
        raise FeedError(f"event {event.uid}: ends at or before its start ({start.isoformat()})")
    lines = [
        "BEGIN:VEVENT\r\n",
        _line("UID", _text(event.uid)),
        _line("DTSTAMP", _stamp(event.updated_at)),
        _line("CREATED", _stamp(event.created_at)),
        _line("LAST-MODIFIED", _stamp(event.updated_at)),
        _line("SEQUENCE", str(event.sequence)),
        _line("SUMMARY", _text(event.summary)),
    ]
    if event.location:
        lines.append(_line("LOCATION", _text(event.location)))
    if event.description:
        lines.append(_line("DESCRIPTION", _text(event.description)))
    if event.organizer is not None:
        lines.append(_line(f"ORGANIZER;CN={_param(event.organizer.name)}", f"mailto:{event.organizer.address}"))
    if event.attendee is not None:
        who = f"ATTENDEE;CN={_param(event.attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE"
        lines.append(_line(who, f"mailto:{event.attendee.address}"))
    lines += [
        _local("DTSTART", start, zone),
        _local("DTEND", end, zone),
        *extra,
        "STATUS:CANCELLED\r\n" if cancelled else "STATUS:CONFIRMED\r\n",
        "END:VEVENT\r\n",
    ]
    return "".join(lines)


def _day_block(block: DayBlock) -> str:
    if block.last_day < block.first_day:
        raise FeedError(f"day block {block.uid}: last day before first day")
    return "".join(
        [
            "BEGIN:VEVENT\r\n",
            _line("UID", _text(block.uid)),
            _line("DTSTAMP", _stamp(block.updated_at)),
            _line("LAST-MODIFIED", _stamp(block.updated_at)),
            _line("SUMMARY", _text(block.summary)),
            _line("DTSTART;VALUE=DATE", block.first_day.strftime("%Y%m%d")),
            _line("DTEND;VALUE=DATE", (block.last_day + timedelta(days=1)).strftime("%Y%m%d")),
            "TRANSP:TRANSPARENT\r\n",
            "END:VEVENT\r\n",
        ]
    )


# --- the engine's RRULE subset -----------------------------------------------------------------


def _parts(rrule: str) -> dict[str, str]:
    parts = {}
    for item in rrule.strip().removeprefix("RRULE:").split(";"):
        name, _, value = item.partition("=")
        parts[name.strip().upper()] = value.strip().upper()
    if parts.get("FREQ") not in FREQUENCIES:
        raise FeedError(f"unsupported RRULE {rrule!r}")
    unknown = set(parts) - {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"}
    if unknown or ("COUNT" in parts) == ("UNTIL" in parts):
        raise FeedError(f"unsupported RRULE {rrule!r}: it needs COUNT or UNTIL and no {sorted(unknown)}")
    return parts


def _byday(parts: dict[str, str]) -> list[str]:
    return parts["BYDAY"].split(",") if "BYDAY" in parts else []


def _instances(event: Event) -> tuple[datetime, ...]:
    if not event.instances or _utc(event.instances[0]) != _utc(event.starts_at):
        raise FeedError(f"event {event.uid}: a series needs its instances, the first at starts_at")
    return tuple(_utc(moment) for moment in event.instances)


def _rule(rrule: str, last_start: datetime) -> str:
    """The rule as written to the feed: UNTIL becomes the last instance's start in UTC (RFC 5545 §3.3.10)."""
    parts = _parts(rrule)
    rule = [f"FREQ={parts['FREQ']}"]
    if "COUNT" in parts and int(parts["COUNT"]) <= MAX_COUNT:
        rule.append(f"COUNT={int(parts['COUNT'])}")
    else:
        rule.append(f"UNTIL={_stamp(last_start)}")
    if parts.get("INTERVAL", "1") != "1":
        rule.append(f"INTERVAL={int(parts['INTERVAL'])}")
    if "BYDAY" in parts:
        rule.append(f"BYDAY={','.join(_byday(parts))}")
    if "WKST" in parts:
        rule.append(f"WKST={parts['WKST']}")
    return ";".join(rule)


# --- helpers -----------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise FeedError(f"naive datetime {moment.isoformat()}: feeds take aware instants")
    return moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError) as error:
        raise FeedError(f"unknown time zone {name!r}") from error
