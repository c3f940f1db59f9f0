"""Independent calendar clients as test oracles: what they make of a rendered feed.

Both return the occurrences overlapping [start, end) as sorted (start, end, status) triples:
timed values as UTC ISO strings (``2026-03-03T19:00:00+00:00``), all-day values as
``YYYY-MM-DD``, status as written (``""`` when absent).

* ``icaljs_occurrences``: ical.js 2 (Thunderbird's engine) through ``icaljs_expand.mjs``; it uses
  the feed's own VTIMEZONEs, so it checks them too. ``./scripts/test`` installs it with npm.
* ``ical_occurrences``: Home Assistant's strict ``ical`` package (pydantic), its timeline.

``icaljs_itip`` reads an invitation (an iTIP message, which may hold overrides without their
master) with ical.js, component by component, through ``icaljs_components.mjs``.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from ical.calendar_stream import IcsCalendarStream

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "icaljs_expand.mjs"
NODE = os.environ.get("NODE", "node")

Occurrence = tuple[str, str, str]


class OracleError(RuntimeError):
    """A client could not run, or refused the feed."""


def icaljs_events(ics: bytes, start: datetime, end: datetime) -> list[dict]:
    """ical.js's occurrences as dicts: uid, rid, start, end, status, summary."""
    done = _icaljs([str(HARNESS), _iso(start), _iso(end)], ics)
    return [json.loads(line) for line in done.splitlines() if line.strip()]


def icaljs_itip(ics: bytes) -> dict:
    """ical.js's reading of an iTIP message: its method, and each VEVENT's uid, rid, start, end,
    status, sequence, organizer, attendee, summary and rrule."""
    return json.loads(_icaljs([str(HERE / "icaljs_components.mjs")], ics))


def _icaljs(arguments: list[str], ics: bytes) -> str:
    if not (HERE / "node_modules" / "ical.js" / "package.json").is_file():
        raise OracleError(f"ical.js is not installed: run `npm ci` in {HERE} (./scripts/test does)")
    try:
        done = subprocess.run(
            [NODE, *arguments],
            input=ics,
            capture_output=True,
            cwd=HERE,
            timeout=120,
            env={**os.environ, "TZ": "UTC"},
            check=False,
        )
    except FileNotFoundError as error:
        raise OracleError(f"node is not installed ({NODE!r}): ical.js needs Node.js 18 or later") from error
    if done.returncode != 0:
        raise OracleError(f"ical.js refused the feed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()


def icaljs_occurrences(ics: bytes, start: datetime, end: datetime) -> list[Occurrence]:
    return sorted(
        (_utc_iso(event["start"]), _utc_iso(event["end"]), event["status"] or "")
        for event in icaljs_events(ics, start, end)
    )


def ical_occurrences(ics: bytes, start: datetime, end: datetime) -> list[Occurrence]:
    """Home Assistant's ``ical``: parse strictly, expand the timeline over [start, end)."""
    try:
        calendar = IcsCalendarStream.calendar_from_ics(ics.decode())
    except Exception as error:
        raise OracleError(f"ical refused the feed: {error}") from error
    return sorted(
        (_value(item.start), _value(item.end), getattr(item.status, "value", item.status or ""))
        for item in calendar.timeline_tz(UTC).overlapping(start, end)
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _utc_iso(text: str) -> str:
    if len(text) == 10:
        return text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).isoformat()


def _value(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()
