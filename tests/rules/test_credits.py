"""The arithmetic from attended minutes to hours, rate, completion, points and credits."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from booking.rules import credits
from booking.rules.credits import Rounding, Scheme, SessionMinutes

MONDAY = datetime(2027, 3, 1, 11, 0, tzinfo=UTC)
DEFAULT = Scheme.of(16.0, 1.0, "down_to_half")


def weekly(attended: list[int], planned: int = 90) -> list[SessionMinutes]:
    """One session a week from MONDAY, ``planned`` minutes long, with these attended minutes."""
    starts = [MONDAY + timedelta(weeks=n) for n in range(len(attended))]
    return [
        SessionMinutes(s, s + timedelta(minutes=planned), planned, a) for s, a in zip(starts, attended, strict=True)
    ]


@pytest.mark.parametrize(
    ("minutes", "rounding", "expected"),
    [
        (16 * 60, Rounding.down_to_half, "1"),
        (16 * 60 - 1, Rounding.down_to_half, "0.5"),
        (24 * 60, Rounding.down_to_half, "1.5"),
        (24 * 60 - 1, Rounding.down_to_half, "1"),
        (6 * 60, Rounding.down_to_tenth, "0.3"),  # 0.375
        (6 * 60, Rounding.nearest_tenth, "0.4"),
        (int(16 * 60 * 0.35), Rounding.nearest_tenth, "0.4"),  # exactly 0.35: halves round up
        (int(16 * 60 * 0.35) - 1, Rounding.nearest_tenth, "0.3"),
        (0, Rounding.nearest_tenth, "0"),
    ],
)
def test_credits_are_hours_per_credit_rounded_by_the_scheme(minutes, rounding, expected):
    scheme = Scheme.of(16.0, 1.0, rounding)
    assert credits.credits(minutes, scheme) == Decimal(expected)


def test_a_decimal_ratio_is_read_as_written_not_as_a_binary_float():
    scheme = Scheme.of(0.1, 1.0, "down_to_tenth")  # 0.1 h per credit: 6 minutes are exactly one credit
    assert scheme.hours_per_credit == Fraction(1, 10)
    assert credits.credits(6, scheme) == Decimal(1)
    assert credits.credits(18, scheme) == Decimal(3)


def test_points_are_attended_hours_times_points_per_hour():
    assert credits.points(90, DEFAULT) == Decimal("1.50")
    assert credits.points(20, Scheme.of(16, 1.5, "down_to_half")) == Decimal("0.50")
    assert credits.points(10, DEFAULT) == Decimal("0.17")  # 1/6 h, halves up at two decimals


def test_a_scheme_refuses_an_unknown_rounding_or_a_ratio_of_zero():
    with pytest.raises(ValueError):
        Scheme.of(16, 1, "up")
    with pytest.raises(ValueError):
        Scheme.of(0, 1, "down_to_half")


def test_completion_at_exactly_the_percentage_in_integers():
    assert credits.is_completed(360, 450, 80)  # 80 % exactly
    assert not credits.is_completed(359, 450, 80)
    assert not credits.is_completed(0, 0, 80)  # nothing planned: nothing to complete


def test_the_tally_counts_held_sessions_for_the_rate_and_the_term_for_completion():
    sessions = weekly([90, 60, 0, 0, 0])
    after_two = credits.tally(sessions, now=MONDAY + timedelta(weeks=1, minutes=1), completion_percent=80)

    assert (after_two.planned_minutes, after_two.held_minutes, after_two.attended_minutes) == (450, 180, 150)
    assert (after_two.sessions_planned, after_two.sessions_held) == (5, 2)
    assert after_two.rate == Fraction(150, 180)
    assert not after_two.completed


def test_the_rate_is_none_before_the_first_session():
    before = credits.tally(weekly([0, 0]), now=MONDAY - timedelta(seconds=1), completion_percent=80)
    assert before.rate is None and before.sessions_held == 0


def test_completion_is_reached_at_the_end_of_the_session_that_brings_the_share():
    sessions = weekly([90, 90, 0, 90, 90])  # 360 of 450 after the fifth: 80 %
    done = credits.tally(sessions, now=MONDAY + timedelta(weeks=5), completion_percent=80)
    assert done.completed and done.completed_at == sessions[4].ends_at

    early = weekly([90, 90, 90, 90, 0])  # 360 after the fourth already
    assert credits.tally(early, now=MONDAY, completion_percent=80).completed_at == early[3].ends_at
    assert not credits.tally(weekly([90, 90, 0, 90, 89]), now=MONDAY, completion_percent=80).completed


def test_an_award_carries_hours_credits_and_points():
    award = credits.award(24 * 60, Scheme.of(16, 2, "down_to_half"))
    assert award == credits.Award(Fraction(24), Decimal("1.5"), Decimal("48.00"))
