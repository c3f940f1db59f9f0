"""Booking policy rules: every rule at its edge (exactly at the limit passes, one over fails)."""

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from booking.errors import PolicyViolation
from booking.models import RULE_FIELDS, Approval
from booking.rules.policies import (
    CHECKIN_CLOSES_AFTER_MIN,
    CHECKIN_OPENS_BEFORE_MIN,
    EffectivePolicy,
    check_cancellation,
    check_quota,
    check_sessions,
    checkin_window,
    quota_window,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2027, 1, 10, 0, 0, tzinfo=UTC)
NO_RULES = EffectivePolicy()


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    """A wall-clock time at the venue, as the UTC instant the rules receive."""
    return datetime(*parts, tzinfo=zone, fold=fold).astimezone(UTC)


def span(starts_at: datetime, minutes: int) -> tuple[datetime, datetime]:
    return starts_at, starts_at + timedelta(minutes=minutes)


def check(policy, *sessions, zone=SHANGHAI, organisation_id=1, organisation_kind="school", now=NOW) -> None:
    check_sessions(
        policy, sessions, zone, organisation_id=organisation_id, organisation_kind=organisation_kind, now=now
    )


def refusal(call, *args, **kwargs) -> PolicyViolation:
    with pytest.raises(PolicyViolation) as caught:
        call(*args, **kwargs)
    return caught.value


# Merging layers


def test_the_policy_has_one_field_per_stored_rule():
    assert tuple(field.name for field in fields(EffectivePolicy)) == RULE_FIELDS


def test_without_layers_nothing_is_limited_and_requests_are_confirmed_at_once():
    assert EffectivePolicy.merged([]) == NO_RULES
    assert (NO_RULES.approval, NO_RULES.checkin_required, NO_RULES.max_duration_min) == (Approval.auto, False, None)


def test_the_nearest_layer_that_sets_a_field_wins_field_by_field():
    court = {"max_duration_min": 60, "approval": None}
    hall = {"max_duration_min": 120, "slot_step_min": 30, "approval": "manual"}
    venue = {"max_duration_min": 240, "slot_step_min": 60, "horizon_days": 90, "checkin_required": True}

    policy = EffectivePolicy.merged([court, hall, venue])

    assert (policy.max_duration_min, policy.slot_step_min, policy.horizon_days) == (60, 30, 90)
    assert policy.approval is Approval.manual  # read back from a row as text
    assert policy.checkin_required is True


def test_a_false_or_zero_or_empty_list_is_set_and_overrides_the_venue():
    space = {"checkin_required": False, "lead_time_min": 0, "allowed_organisation_ids": []}
    venue = {"checkin_required": True, "lead_time_min": 60, "allowed_organisation_ids": [7]}

    policy = EffectivePolicy.merged([space, venue])

    assert (policy.checkin_required, policy.lead_time_min, policy.allowed_organisation_ids) == (False, 0, ())


def test_lists_are_frozen_and_unknown_keys_are_ignored():
    policy = EffectivePolicy.merged([{"id": 3, "space_id": 9, "allowed_organisation_kinds": ["school", "ngo"]}])

    assert policy.allowed_organisation_kinds == ("school", "ngo")
    assert hash(policy)  # immutable all the way down


layers = st.lists(st.fixed_dictionaries({}, optional={"min_duration_min": st.none() | st.integers(0, 500)}), max_size=4)


@given(layers)
def test_merging_picks_the_first_value_that_is_set(stack):
    expected = next((layer["min_duration_min"] for layer in stack if layer.get("min_duration_min") is not None), None)
    assert EffectivePolicy.merged(stack).min_duration_min == expected


# Who may book


def test_anyone_may_book_when_no_allow_list_is_set():
    check(NO_RULES, span(local(SHANGHAI, 2027, 3, 1, 18), 60), organisation_id=99, organisation_kind="company")


@pytest.mark.parametrize(
    ("ids", "kinds", "organisation_id", "kind", "allowed"),
    [
        ((7,), None, 7, "company", True),
        ((7,), None, 8, "school", False),
        (None, ("school",), 8, "school", True),
        (None, ("school",), 8, "company", False),
        ((7,), ("school",), 7, "company", True),  # either list admits
        ((7,), ("school",), 8, "school", True),
        ((7,), ("school",), 8, "company", False),
        ((), (), 7, "school", False),  # empty lists: staff only
    ],
)
def test_the_organisation_must_be_listed_by_id_or_by_kind(ids, kinds, organisation_id, kind, allowed):
    policy = EffectivePolicy(allowed_organisation_ids=ids, allowed_organisation_kinds=kinds)
    sessions = [span(local(SHANGHAI, 2027, 3, 1, 18), 60)]
    if allowed:
        check(policy, *sessions, organisation_id=organisation_id, organisation_kind=kind)
        return
    error = refusal(check, policy, *sessions, organisation_id=organisation_id, organisation_kind=kind)
    assert error.extra["rule"] == "allowed_organisations"
    assert error.extra["limit"] == {"organisation_ids": list(ids or ()), "organisation_kinds": list(kinds or ())}


# Session rules, each exactly at its limit and one over


MONDAY_EVENING = local(SHANGHAI, 2027, 3, 1, 18)


@pytest.mark.parametrize(
    ("policy", "fits", "breaks", "rule", "limit"),
    [
        (
            EffectivePolicy(min_duration_min=60),
            span(MONDAY_EVENING, 60),
            span(MONDAY_EVENING, 59),
            "min_duration_min",
            60,
        ),
        (
            EffectivePolicy(max_duration_min=90),
            span(MONDAY_EVENING, 90),
            span(MONDAY_EVENING, 91),
            "max_duration_min",
            90,
        ),
        (EffectivePolicy(slot_step_min=30), span(MONDAY_EVENING, 90), span(MONDAY_EVENING, 91), "slot_step_min", 30),
        (
            EffectivePolicy(slot_step_min=30),
            span(MONDAY_EVENING + timedelta(minutes=30), 30),
            span(MONDAY_EVENING + timedelta(minutes=1), 29),
            "slot_step_min",
            30,
        ),
        (
            EffectivePolicy(slot_step_min=30),
            span(MONDAY_EVENING, 30),
            (MONDAY_EVENING + timedelta(seconds=1), MONDAY_EVENING + timedelta(minutes=30)),
            "slot_step_min",
            30,
        ),
        (
            EffectivePolicy(lead_time_min=120),
            span(NOW + timedelta(minutes=120), 60),
            span(NOW + timedelta(minutes=119), 60),
            "lead_time_min",
            120,
        ),
        (
            EffectivePolicy(horizon_days=30),
            span(NOW + timedelta(days=30), 60),
            span(NOW + timedelta(days=30, minutes=1), 60),
            "horizon_days",
            30,
        ),
    ],
)
def test_a_session_rule_passes_at_its_limit_and_fails_one_over(policy, fits, breaks, rule, limit):
    check(policy, fits)

    error = refusal(check, policy, breaks)

    assert (error.code, error.extra["rule"], error.extra["limit"]) == ("policy_violation", rule, limit)
    day = breaks[0].astimezone(SHANGHAI).date().isoformat()
    assert error.extra["date"] == day
    assert day in error.detail


def test_the_first_failing_session_is_named_by_its_local_date():
    policy = EffectivePolicy(max_duration_min=60)
    monday = local(SHANGHAI, 2027, 3, 8, 18)
    tuesday_early = local(SHANGHAI, 2027, 3, 9, 1)  # still 8 March in UTC

    error = refusal(check, policy, span(monday, 60), span(tuesday_early, 61))

    assert error.extra["date"] == "2027-03-09"


def test_who_may_book_is_checked_before_the_sessions_and_durations_before_the_horizon():
    policy = EffectivePolicy(allowed_organisation_ids=(7,), max_duration_min=60, horizon_days=30)
    too_long_and_too_far = span(NOW + timedelta(days=40), 120)

    assert refusal(check, policy, too_long_and_too_far).extra["rule"] == "allowed_organisations"
    assert refusal(check, policy, too_long_and_too_far, organisation_id=7).extra["rule"] == "max_duration_min"


def test_slot_steps_count_from_local_midnight_not_from_utc():
    policy = EffectivePolicy(slot_step_min=60)
    # Kolkata is UTC+05:30: 18:00 there is 12:30 UTC.
    check(policy, span(local(KOLKATA, 2027, 3, 1, 18), 60), zone=KOLKATA)
    assert refusal(check, policy, span(local(KOLKATA, 2027, 3, 1, 18), 60), zone=SHANGHAI).extra["rule"] == (
        "slot_step_min"
    )


def test_slot_steps_follow_the_wall_clock_across_daylight_saving_changes():
    policy = EffectivePolicy(slot_step_min=180)
    # 2027-03-14: New York skips 02:00–03:00. 03:00 is two hours after midnight, but on the 3-hour step.
    spring = local(NEW_YORK, 2027, 3, 14, 3)
    check(policy, span(spring, 180), zone=NEW_YORK)
    # 2027-11-07: 01:00–02:00 happens twice; 00:00 to 03:00 is a four-hour session on the step.
    autumn = local(NEW_YORK, 2027, 11, 7, 0)
    check(policy, (autumn, local(NEW_YORK, 2027, 11, 7, 3)), zone=NEW_YORK)
    # 02:00 that day is three hours after midnight, but not on the 3-hour step of the wall clock.
    off_step = local(NEW_YORK, 2027, 11, 7, 2)
    assert refusal(check, policy, span(off_step, 180), zone=NEW_YORK).extra["rule"] == "slot_step_min"


def test_durations_are_elapsed_time_across_a_daylight_saving_change():
    policy = EffectivePolicy(min_duration_min=180)
    # 00:00 to 03:00 on the night New York springs forward lasts two hours.
    short_night = (local(NEW_YORK, 2027, 3, 14, 0), local(NEW_YORK, 2027, 3, 14, 3))

    assert refusal(check, policy, short_night, zone=NEW_YORK).extra["rule"] == "min_duration_min"


@given(
    step=st.sampled_from([5, 15, 30, 45, 60, 90, 120, 180, 240, 360, 720, 1440]),
    day=st.integers(0, 364),
    slot=st.integers(0, 1440),
    zone=st.sampled_from([SHANGHAI, NEW_YORK, KOLKATA, ZoneInfo("Australia/Lord_Howe")]),
)
def test_any_wall_clock_time_on_the_step_is_accepted(step, day, slot, zone):
    wall = datetime(2027, 1, 1) + timedelta(days=day, minutes=(slot * step) % 1440)
    starts_at = wall.replace(tzinfo=zone).astimezone(UTC)
    assume(starts_at.astimezone(zone).replace(tzinfo=None) == wall)  # not a time a DST change skips
    check(EffectivePolicy(slot_step_min=step), (starts_at, starts_at), zone=zone, now=starts_at)


# Quota windows


def test_no_quota_means_no_window():
    assert quota_window(EffectivePolicy(max_duration_min=60), [span(MONDAY_EVENING, 60)], SHANGHAI) is None
    assert quota_window(EffectivePolicy(max_bookings_per_week=2), [], SHANGHAI) is None


def test_a_weekly_quota_looks_from_the_first_local_monday_to_the_end_of_the_last_week():
    wednesday, next_sunday_night = local(SHANGHAI, 2027, 3, 3, 18), local(SHANGHAI, 2027, 3, 14, 23)
    window = quota_window(
        EffectivePolicy(max_minutes_per_week=600), [span(next_sunday_night, 30), span(wednesday, 60)], SHANGHAI
    )

    assert window == (local(SHANGHAI, 2027, 3, 1, 0), local(SHANGHAI, 2027, 3, 15, 0))


def test_a_monthly_quota_looks_at_whole_calendar_months_and_both_quotas_take_the_union():
    sessions = [span(local(SHANGHAI, 2027, 3, 3, 18), 60), span(local(SHANGHAI, 2027, 12, 31, 18), 60)]

    monthly = quota_window(EffectivePolicy(max_bookings_per_month=4), sessions, SHANGHAI)
    both = quota_window(EffectivePolicy(max_bookings_per_month=4, max_bookings_per_week=1), sessions, SHANGHAI)

    assert monthly == (local(SHANGHAI, 2027, 3, 1, 0), local(SHANGHAI, 2028, 1, 1, 0))
    # 1 March 2027 is a Monday; the week of 31 December 2027 ends on Monday 3 January 2028.
    assert both == (local(SHANGHAI, 2027, 3, 1, 0), local(SHANGHAI, 2028, 1, 3, 0))


def test_quota_weeks_are_local_weeks_across_a_daylight_saving_change():
    window = quota_window(
        EffectivePolicy(max_bookings_per_week=2), [span(local(NEW_YORK, 2027, 3, 14, 10), 60)], NEW_YORK
    )

    assert window == (datetime(2027, 3, 8, 5, tzinfo=UTC), datetime(2027, 3, 15, 4, tzinfo=UTC))  # EST to EDT


# Quotas


def weekly(*days_and_hours: tuple[int, int], zone=SHANGHAI) -> list:
    """Hour-long sessions in March 2027 (1 March is a Monday)."""
    return [span(local(zone, 2027, 3, day, hour), 60) for day, hour in days_and_hours]


@pytest.mark.parametrize(
    ("rule", "limit", "new", "used"),
    [
        ("max_bookings_per_week", 3, weekly((4, 18)), 3),
        ("max_minutes_per_week", 180, weekly((4, 18)), 180),
        ("max_bookings_per_month", 3, weekly((20, 18)), 3),
        ("max_minutes_per_month", 180, weekly((20, 18)), 180),
    ],
)
def test_a_quota_passes_at_its_limit_and_fails_one_over(rule, limit, new, used):
    existing = weekly((1, 18), (2, 18))  # Monday and Tuesday of 2027-W09, in March
    policy = EffectivePolicy(**{rule: limit})
    check_quota(policy, new, existing, SHANGHAI)

    error = refusal(check_quota, replace(policy, **{rule: limit - 1}), new, existing, SHANGHAI)

    period = "2027-W09" if rule.endswith("week") else "2027-03"
    assert (error.code, error.extra) == (
        "policy_violation",
        {"rule": rule, "limit": limit - 1, "period": period, "used": used},
    )


def test_only_periods_where_a_new_session_falls_are_checked():
    policy = EffectivePolicy(max_bookings_per_week=1)
    crowded_week = weekly((1, 18), (2, 18), (3, 18))  # already over (an earlier, looser policy)

    check_quota(policy, weekly((9, 18)), crowded_week, SHANGHAI)
    error = refusal(check_quota, policy, weekly((9, 18), (10, 18)), crowded_week, SHANGHAI)
    assert (error.extra["period"], error.extra["used"]) == ("2027-W10", 2)


def test_a_session_counts_in_the_week_of_its_local_start():
    policy = EffectivePolicy(max_bookings_per_week=1)
    # Sunday 23:00 in New York is already Monday in UTC; it still belongs to the week ending that Sunday.
    sunday_night = weekly((7, 23), zone=NEW_YORK)
    monday = weekly((8, 18), zone=NEW_YORK)

    check_quota(policy, monday, sunday_night, NEW_YORK)
    assert refusal(check_quota, policy, sunday_night, weekly((1, 18), zone=NEW_YORK), NEW_YORK).extra["period"] == (
        "2027-W09"
    )


def test_new_year_days_belong_to_the_iso_week_of_the_old_year_but_the_new_month():
    new_year = [span(local(SHANGHAI, 2027, 1, 1, 18), 60)]  # a Friday
    existing = [span(local(SHANGHAI, 2026, 12, 28, 18), 60), span(local(SHANGHAI, 2026, 12, 29, 18), 60)]

    week_error = refusal(check_quota, EffectivePolicy(max_bookings_per_week=2), new_year, existing, SHANGHAI)
    check_quota(EffectivePolicy(max_bookings_per_month=1), new_year, existing, SHANGHAI)

    assert week_error.extra["period"] == "2026-W53"


def test_minutes_are_elapsed_so_the_short_night_uses_less_of_the_quota():
    short_night = [(local(NEW_YORK, 2027, 3, 14, 0), local(NEW_YORK, 2027, 3, 14, 3))]  # two hours

    check_quota(EffectivePolicy(max_minutes_per_week=120), short_night, [], NEW_YORK)
    error = refusal(check_quota, EffectivePolicy(max_minutes_per_week=119), short_night, [], NEW_YORK)
    assert error.extra["used"] == 120


def test_weekly_rules_are_checked_before_monthly_ones():
    policy = EffectivePolicy(max_bookings_per_week=1, max_bookings_per_month=1)

    assert refusal(check_quota, policy, weekly((1, 18), (2, 18)), [], SHANGHAI).extra["rule"] == "max_bookings_per_week"


@given(
    hours=st.lists(st.integers(0, 24 * 60 - 1), min_size=1, max_size=12),
    split=st.integers(0, 12),
    limit=st.integers(0, 6),
)
def test_a_weekly_count_quota_fails_exactly_when_a_new_sessions_week_is_over(hours, split, limit):
    starts = [datetime(2027, 3, 1, tzinfo=UTC) + timedelta(hours=hour) for hour in hours]
    sessions = [span(starts_at, 30) for starts_at in starts]
    existing, new = sessions[:split], sessions[split:]
    weeks = [starts_at.astimezone(SHANGHAI).isocalendar()[:2] for starts_at in starts]
    over = any(weeks.count(weeks[i]) > limit for i in range(min(split, len(starts)), len(starts)))
    policy = EffectivePolicy(max_bookings_per_week=limit)

    if over:
        refusal(check_quota, policy, new, existing, SHANGHAI)
    else:
        check_quota(policy, new, existing, SHANGHAI)


@given(st.lists(st.integers(0, 24 * 400), min_size=1, max_size=10))
def test_the_quota_window_holds_every_session_start(hours):
    sessions = [span(NOW + timedelta(hours=hour), 60) for hour in hours]
    policy = EffectivePolicy(max_minutes_per_week=600, max_bookings_per_month=9)

    start, end = quota_window(policy, sessions, NEW_YORK)

    assert all(start <= starts_at < end for starts_at, _ in sessions)


# Cancellation and check-in


def test_cancelling_needs_the_notice_exactly_or_more():
    policy = EffectivePolicy(cancellation_notice_min=1440)
    starts_at = NOW + timedelta(days=1)
    check_cancellation(policy, starts_at, now=NOW)
    check_cancellation(NO_RULES, NOW, now=NOW)

    error = refusal(check_cancellation, policy, starts_at, now=NOW + timedelta(minutes=1))

    assert (error.extra["rule"], error.extra["limit"]) == ("cancellation_notice_min", 1440)


def test_no_checkin_window_unless_checkin_is_required():
    assert checkin_window(EffectivePolicy(checkin_opens_before_min=30), MONDAY_EVENING) is None


def test_the_checkin_window_defaults_to_fifteen_minutes_either_side():
    window = checkin_window(EffectivePolicy(checkin_required=True), MONDAY_EVENING)

    assert window == (
        MONDAY_EVENING - timedelta(minutes=CHECKIN_OPENS_BEFORE_MIN),
        MONDAY_EVENING + timedelta(minutes=CHECKIN_CLOSES_AFTER_MIN),
    )
    assert CHECKIN_OPENS_BEFORE_MIN == CHECKIN_CLOSES_AFTER_MIN == 15


def test_a_set_checkin_window_is_used_even_when_zero():
    policy = EffectivePolicy(checkin_required=True, checkin_opens_before_min=0, checkin_closes_after_min=30)

    assert checkin_window(policy, MONDAY_EVENING) == (MONDAY_EVENING, MONDAY_EVENING + timedelta(minutes=30))
