"""VTIMEZONE components generated from zoneinfo, in the shape every calendar client reads.

For a zone and a range of instants, the zone's transitions come from zoneinfo and become:

* no transition near the range: one STANDARD observance (fixed offset);
* transitions that repeat yearly (same month, weekday, week of the month and wall time): one
  RRULE-based STANDARD or DAYLIGHT observance per run of years, as Outlook expects;
* anything irregular (Morocco's Ramadan changes, one-off base-offset changes): one observance per
  (kind, offsets, name) with its first transition as DTSTART and one RDATE line per further
  transition. ical.js reads only the first value of a comma-separated RDATE, so never a list.

The result is checked against zoneinfo before use: if the yearly rules do not reproduce every
transition of the range exactly, the zone is written with RDATE lines alone. Offsets follow the
"rearguard" reading for negative DST (Europe/Dublin's winter GMT is STANDARD, summer IST is
DAYLIGHT). Components are cached per (zone, years covered).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
LOOKBACK = timedelta(days=400)  # a full yearly cycle before the range, so its start is inside a rule
STEP = timedelta(days=1)  # zoneinfo is sampled daily; no real zone changes twice within a day
STANDARD, DAYLIGHT = "STANDARD", "DAYLIGHT"


@dataclass(frozen=True, slots=True)
class _State:
    offset: timedelta
    dst: timedelta
    name: str


@dataclass(frozen=True, slots=True)
class _Transition:
    at: datetime  # UTC instant of the change
    before: _State
    after: _State
    kind: str

    @property
    def wall(self) -> datetime:
        """The local wall time of the change in the offset it ends (how VTIMEZONE's DTSTART reads)."""
        return (self.at + self.before.offset).replace(tzinfo=None)

    @property
    def signature(self) -> tuple[str, timedelta, timedelta, str]:
        return (self.kind, self.before.offset, self.after.offset, self.after.name)


@dataclass(frozen=True, slots=True)
class _Observance:
    kind: str
    start: datetime  # wall time, in the offset before the change
    offset_from: timedelta
    offset_to: timedelta
    name: str
    byday: str | None = None  # "2SU", "-1SU": a yearly rule in the month of ``start``
    until: datetime | None = None  # UTC instant of the rule's last change
    rdates: tuple[datetime, ...] = ()  # further wall times (one RDATE line each)


def covering_years(first: datetime, last: datetime) -> tuple[int, int]:
    """The whole calendar years [first year, last year] a range falls in: a stable cache key."""
    return first.astimezone(UTC).year, last.astimezone(UTC).year


@lru_cache(maxsize=256)
def vtimezone(zone_name: str, first_year: int, last_year: int) -> str:
    """The VTIMEZONE for ``zone_name`` valid from 1 January of ``first_year`` to the end of ``last_year`` (UTC),
    as content lines (CRLF-terminated)."""
    zone = ZoneInfo(zone_name)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    transitions = _transitions(zone, start - LOOKBACK, end)
    observances = _with_rules(transitions, end)
    if _changes(observances, end) != _changes(_with_rdates(transitions), end):
        observances = _with_rdates(transitions)
    if not transitions or transitions[0].at > start:
        state = _state(zone, start)
        wall = (start + state.offset).replace(tzinfo=None)
        first = _Observance(STANDARD, wall, state.offset, state.offset, state.name)
        if transitions:  # the zone starts changing inside the range: say what held before
            first = _Observance(_kind(state, transitions[0].after), wall, state.offset, state.offset, state.name)
        observances = [first, *observances]
    component = Timezone()
    component.add("TZID", zone_name)
    for observance in observances:
        component.add_component(_component(observance))
    return component.to_ical().decode()


def _state(zone: ZoneInfo, moment: datetime) -> _State:
    local = moment.astimezone(zone)
    return _State(local.utcoffset(), local.dst(), local.tzname())


def _transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    found: list[tuple[datetime, _State, _State]] = []
    moment, state = start, _state(zone, start)
    while moment < end:
        later = min(moment + STEP, end)
        later_state = _state(zone, later)
        if later_state != state:
            low, high = moment, later  # state(low) == state, state(high) != state: find the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(zone, middle) == state:
                    low = middle
                else:
                    high = middle
            found.append((high, state, _state(zone, high)))
            moment, state = high, _state(zone, high)
            continue
        moment, state = later, later_state
    return [_Transition(at, before, after, _kind(after, before)) for at, before, after in found]


def _kind(state: _State, neighbour: _State) -> str:
    """DAYLIGHT for the summer side of a DST pair, including zones whose tzdata DST is negative."""
    if state.dst > timedelta(0):
        return DAYLIGHT
    if neighbour.dst < timedelta(0) and state.dst == timedelta(0) and state.offset > neighbour.offset:
        return DAYLIGHT
    return STANDARD


def _bydays(day: date) -> set[str]:
    """The BYDAY values that name ``day`` within its month: "2SU", and "-1SU" if it is the last one."""
    weekday = WEEKDAYS[day.weekday()]
    names = {f"{(day.day - 1) // 7 + 1}{weekday}"}
    if day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
        names.add(f"-1{weekday}")
    return names


def _with_rules(transitions: list[_Transition], end: datetime) -> list[_Observance]:
    """Yearly RRULE observances for runs of regular transitions; RDATE observances for the rest."""
    runs: list[tuple[list[_Transition], set[str]]] = []
    open_runs: dict[tuple, tuple[list[_Transition], set[str]]] = {}
    for transition in transitions:
        wall = transition.wall
        key = (*transition.signature, wall.month, wall.time())
        current = open_runs.get(key)
        if current is not None:
            previous = current[0][-1].wall
            common = current[1] & _bydays(wall.date())
            if previous.year + 1 == wall.year and common:
                current[0].append(transition)
                current[1].intersection_update(common)
                continue
        current = ([transition], _bydays(wall.date()))
        open_runs[key] = current
        runs.append(current)
    observances: list[_Observance] = []
    irregular: list[_Transition] = []
    for members, bydays in runs:
        if len(members) < 2:
            irregular.extend(members)
            continue
        first, last = members[0], members[-1]
        byday = min(bydays, key=lambda name: (not name.startswith("-"), name))  # "-1SU" reads as tzdata's lastSun
        # Open-ended when no further change of this run's kind is due inside the range.
        needs_until = last.at + timedelta(days=366) < end
        observances.append(
            _Observance(
                first.kind,
                first.wall,
                first.before.offset,
                first.after.offset,
                first.after.name,
                byday=byday,
                until=last.at if needs_until else None,
            )
        )
    observances.extend(_with_rdates(irregular))
    return sorted(observances, key=lambda observance: observance.start)


def _with_rdates(transitions: list[_Transition]) -> list[_Observance]:
    """One observance per (kind, offsets, name): DTSTART plus one RDATE line per further change."""
    groups: dict[tuple, list[_Transition]] = {}
    for transition in transitions:
        groups.setdefault(transition.signature, []).append(transition)
    observances = [
        _Observance(
            members[0].kind,
            members[0].wall,
            members[0].before.offset,
            members[0].after.offset,
            members[0].after.name,
            rdates=tuple(member.wall for member in members[1:]),
        )
        for members in groups.values()
    ]
    return sorted(observances, key=lambda observance: observance.start)


def _changes(observances: list[_Observance], end: datetime) -> set[tuple[datetime, timedelta]]:
    """Every (UTC instant, new offset) the observances define before ``end``: what a client computes."""
    changes = set()
    for observance in observances:
        walls = [observance.start, *observance.rdates]
        if observance.byday:
            walls = list(_yearly(observance, end))
        for wall in walls:
            at = (wall - observance.offset_from).replace(tzinfo=UTC)
            if at < end:
                changes.add((at, observance.offset_to))
    return changes


def _yearly(observance: _Observance, end: datetime):
    ordinal, weekday = int(observance.byday[:-2]), WEEKDAYS.index(observance.byday[-2:])
    start = observance.start
    for year in range(start.year, end.year + 1):
        days = [
            day
            for day in range(1, calendar.monthrange(year, start.month)[1] + 1)
            if date(year, start.month, day).weekday() == weekday
        ]
        wall = datetime.combine(date(year, start.month, days[ordinal - 1 if ordinal > 0 else ordinal]), start.time())
        at = (wall - observance.offset_from).replace(tzinfo=UTC)
        if observance.until is not None and at > observance.until:
            return
        yield wall


def _component(observance: _Observance) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if observance.kind == DAYLIGHT else TimezoneStandard()
    component.add("DTSTART", observance.start)
    component.add("TZOFFSETFROM", observance.offset_from)
    component.add("TZOFFSETTO", observance.offset_to)
    component.add("TZNAME", observance.name)
    if observance.byday:
        rule = {"FREQ": "YEARLY", "BYMONTH": [observance.start.month], "BYDAY": [observance.byday]}
        if observance.until is not None:
            rule["UNTIL"] = observance.until
        component.add("RRULE", vRecur(rule))
    for wall in observance.rdates:
        component.add("RDATE", wall)
    return component
