"""Booking policies as pure rules: merge the layers that apply to a space, then check requests against them.

Nothing here reads the database or the clock: the services load the layers and the organisation's
existing sessions and pass ``now`` in. Sessions are half-open ``(starts_at, ends_at)`` pairs of
UTC-aware instants; rules about wall-clock time (slot steps, weeks, months) use the venue's zone.
Durations and quota minutes are elapsed time, so a session across a DST change counts what it lasts.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from booking.errors import PolicyViolation
from booking.models import Approval
from booking.rules.localtime import day_start

CHECKIN_OPENS_BEFORE_MIN = 15
CHECKIN_CLOSES_AFTER_MIN = 15

Span = tuple[datetime, datetime]  # (starts_at, ends_at) of one session


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """The rules that apply to one space; a None limit is no limit. Field names are ``RULE_FIELDS``."""

    approval: Approval = Approval.auto
    min_duration_min: int | None = None
    max_duration_min: int | None = None
    slot_step_min: int | None = None
    lead_time_min: int | None = None
    horizon_days: int | None = None
    cancellation_notice_min: int | None = None
    allowed_organisation_ids: tuple[int, ...] | None = None
    allowed_organisation_kinds: tuple[str, ...] | None = None
    max_bookings_per_week: int | None = None
    max_minutes_per_week: int | None = None
    max_bookings_per_month: int | None = None
    max_minutes_per_month: int | None = None
    checkin_required: bool = False
    checkin_opens_before_min: int | None = None
    checkin_closes_after_min: int | None = None

    @classmethod
    def merged(cls, layers: Iterable[Mapping[str, Any]]) -> "EffectivePolicy":
        """Layers nearest first (the space, the spaces it is part of, the venue): per field the first
        value that is set wins, so a space overrides its venue one rule at a time."""
        layers = list(layers)
        chosen: dict[str, Any] = {}
        for field in fields(cls):
            value = next((layer[field.name] for layer in layers if layer.get(field.name) is not None), None)
            if value is not None:
                chosen[field.name] = _frozen(field.name, value)
        return cls(**chosen)


def _frozen(name: str, value: Any) -> Any:
    """Lists become tuples (the policy is immutable); approval read back from a row becomes the enum."""
    if name == "approval":
        return Approval(value)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


# Checking requests


def check_sessions(
    policy: EffectivePolicy,
    sessions: Sequence[Span],
    zone: ZoneInfo,
    *,
    organisation_id: int,
    organisation_kind: str,
    now: datetime,
) -> None:
    """Raise ``PolicyViolation`` for the first rule a request breaks: who may book, then each rule
    about the sessions themselves, in the order of ``SESSION_RULES``."""
    check_organisation(policy, organisation_id, organisation_kind)
    for rule in SESSION_RULES:
        for starts_at, ends_at in sessions:
            rule(policy, starts_at, ends_at, zone, now)


def check_organisation(policy: EffectivePolicy, organisation_id: int, organisation_kind: str) -> None:
    ids, kinds = policy.allowed_organisation_ids, policy.allowed_organisation_kinds
    if ids is None and kinds is None:
        return
    if organisation_id in (ids or ()) or organisation_kind in (kinds or ()):
        return
    raise PolicyViolation(
        f"organisation {organisation_id} ({organisation_kind}) may not book this space",
        rule="allowed_organisations",
        limit={"organisation_ids": list(ids or ()), "organisation_kinds": list(kinds or ())},
    )


def _violation(rule: str, limit: int, starts_at: datetime, zone: ZoneInfo, problem: str) -> PolicyViolation:
    day = starts_at.astimezone(zone).date().isoformat()
    return PolicyViolation(f"the session on {day} {problem}", rule=rule, limit=limit, date=day)


def _check_min_duration(policy, starts_at, ends_at, zone, now) -> None:
    limit = policy.min_duration_min
    if limit is not None and ends_at - starts_at < timedelta(minutes=limit):
        problem = f"lasts {_minutes_text(ends_at - starts_at)} minutes; sessions last at least {limit}"
        raise _violation("min_duration_min", limit, starts_at, zone, problem)


def _check_max_duration(policy, starts_at, ends_at, zone, now) -> None:
    limit = policy.max_duration_min
    if limit is not None and ends_at - starts_at > timedelta(minutes=limit):
        problem = f"lasts {_minutes_text(ends_at - starts_at)} minutes; sessions last at most {limit}"
        raise _violation("max_duration_min", limit, starts_at, zone, problem)


def _check_slot_step(policy, starts_at, ends_at, zone, now) -> None:
    step = policy.slot_step_min
    if step is None:
        return
    for instant, what in ((starts_at, "starts"), (ends_at, "ends")):
        if not on_step(instant, step, zone):
            wall = instant.astimezone(zone).strftime("%H:%M:%S").removesuffix(":00")
            problem = f"{what} at {wall}; sessions start and end on multiples of {step} minutes from midnight"
            raise _violation("slot_step_min", step, starts_at, zone, problem)


def on_step(instant: datetime, step_min: int, zone: ZoneInfo) -> bool:
    """Whether the local wall-clock time is a whole multiple of the step after local midnight."""
    wall = instant.astimezone(zone)
    seconds = wall.hour * 3600 + wall.minute * 60 + wall.second
    return wall.microsecond == 0 and seconds % (step_min * 60) == 0


def _check_lead_time(policy, starts_at, ends_at, zone, now) -> None:
    limit = policy.lead_time_min
    if limit is not None and starts_at - now < timedelta(minutes=limit):
        problem = f"starts in {_minutes_text(starts_at - now)} minutes; book at least {limit} minutes ahead"
        raise _violation("lead_time_min", limit, starts_at, zone, problem)


def _check_horizon(policy, starts_at, ends_at, zone, now) -> None:
    limit = policy.horizon_days
    if limit is not None and starts_at - now > timedelta(days=limit):
        problem = f"is too far ahead; sessions start at most {limit} days from now"
        raise _violation("horizon_days", limit, starts_at, zone, problem)


SESSION_RULES = (_check_min_duration, _check_max_duration, _check_slot_step, _check_lead_time, _check_horizon)


def _minutes_text(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return str(int(minutes)) if minutes.is_integer() else f"{minutes:.1f}"


# Quotas per organisation, per local ISO week and calendar month

WEEK_QUOTAS = ("max_bookings_per_week", "max_minutes_per_week")
MONTH_QUOTAS = ("max_bookings_per_month", "max_minutes_per_month")


def week_of(instant: datetime, zone: ZoneInfo) -> str:
    """'2027-W03': the local ISO week (which may belong to the neighbouring year near New Year)."""
    year, week, _ = instant.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def month_of(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m")


def _week_bounds(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def _month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


PERIOD_BOUNDS = ((WEEK_QUOTAS, _week_bounds), (MONTH_QUOTAS, _month_bounds))


def _set(policy: EffectivePolicy, names: tuple[str, ...]) -> bool:
    return any(getattr(policy, name) is not None for name in names)


def quota_window(policy: EffectivePolicy, sessions: Sequence[Span], zone: ZoneInfo) -> Span | None:
    """The instants whose existing sessions ``check_quota`` needs: from the start of the first session's
    local week or month to the end of the last one's (both when both kinds of quota are set)."""
    periods = [bounds for names, bounds in PERIOD_BOUNDS if _set(policy, names)]
    if not periods or not sessions:
        return None
    first = min(starts_at for starts_at, _ in sessions).astimezone(zone).date()
    last = max(starts_at for starts_at, _ in sessions).astimezone(zone).date()
    start = min(bounds(first)[0] for bounds in periods)
    end = max(bounds(last)[1] for bounds in periods)
    return day_start(start, zone), day_start(end, zone)


def quota_minutes(starts_at: datetime, ends_at: datetime) -> int:
    """Elapsed minutes; a started minute counts as a whole one."""
    return math.ceil((ends_at - starts_at).total_seconds() / 60)


def one_session(starts_at: datetime, ends_at: datetime) -> int:
    return 1


@dataclass(frozen=True, slots=True)
class _Quota:
    rule: str
    period_of: Callable[[datetime, ZoneInfo], str]
    measure: Callable[[datetime, datetime], int]  # how much of the quota one session uses
    unit: str


QUOTAS = (
    _Quota("max_bookings_per_week", week_of, one_session, "sessions"),
    _Quota("max_minutes_per_week", week_of, quota_minutes, "minutes"),
    _Quota("max_bookings_per_month", month_of, one_session, "sessions"),
    _Quota("max_minutes_per_month", month_of, quota_minutes, "minutes"),
)


def check_quota(policy: EffectivePolicy, new: Sequence[Span], existing: Sequence[Span], zone: ZoneInfo) -> None:
    """Raise ``PolicyViolation`` when, in a week or month where a new session falls, the organisation's
    sessions (existing and new) exceed a quota. Exactly at the quota is allowed. A session counts in
    the period of its local start."""
    for quota in QUOTAS:
        limit = getattr(policy, quota.rule)
        if limit is None:
            continue
        used: dict[str, int] = {}
        for starts_at, ends_at in [*existing, *new]:
            period = quota.period_of(starts_at, zone)
            used[period] = used.get(period, 0) + quota.measure(starts_at, ends_at)
        for period in sorted({quota.period_of(starts_at, zone) for starts_at, _ in new}):
            if used[period] > limit:
                raise PolicyViolation(
                    f"{period} would have {used[period]} {quota.unit} booked by this organisation; "
                    f"the limit is {limit}",
                    rule=quota.rule,
                    limit=limit,
                    period=period,
                    used=used[period],
                )


# After booking


def check_cancellation(policy: EffectivePolicy, starts_at: datetime, now: datetime) -> None:
    notice = policy.cancellation_notice_min
    if notice is not None and starts_at - now < timedelta(minutes=notice):
        raise PolicyViolation(
            f"the session starts in {_minutes_text(starts_at - now)} minutes; cancel at least {notice} minutes ahead",
            rule="cancellation_notice_min",
            limit=notice,
        )


def checkin_window(policy: EffectivePolicy, starts_at: datetime) -> Span | None:
    """When the organisation may check in; a session nobody checked in to by the end is released."""
    if not policy.checkin_required:
        return None
    before = policy.checkin_opens_before_min
    after = policy.checkin_closes_after_min
    return (
        starts_at - timedelta(minutes=CHECKIN_OPENS_BEFORE_MIN if before is None else before),
        starts_at + timedelta(minutes=CHECKIN_CLOSES_AFTER_MIN if after is None else after),
    )
