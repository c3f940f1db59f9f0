"""The CB-CTT-like terms (shared weekdays, lone cohort sessions, soft capacity): a penalised /
not-penalised pair each, and the time-first search keeping every hard rule."""

from scheduling import Weights
from scheduling.score import penalties

from .builders import hours, make_class, make_problem, make_space, make_teacher, solved

TIMETABLE_WEIGHTS = Weights(cohort_compactness=0, teacher_balance=0, isolated_sessions=2, over_capacity=1)


def _penalty(problem, term: str, **options) -> int:
    return penalties(problem, solved(problem, **options).assignments)[term]


def _days_problem(days: int, min_weekdays: int):
    return make_problem(
        classes=(make_class(sessions_per_week=3, allowed_units=hours(range(days), 9, 13), min_weekdays=min_weekdays),),
        weights=TIMETABLE_WEIGHTS,
    )


def test_sessions_spread_over_the_minimum_weekdays():
    assert _penalty(_days_problem(days=3, min_weekdays=3), "short_weekdays") == 0


def test_sessions_share_a_weekday_when_days_run_out_and_pay_for_it():
    assert _penalty(_days_problem(days=2, min_weekdays=3), "short_weekdays") == 1


def _cohort_problem(allowed: frozenset):
    return make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, fixed_teacher_id=1, cohorts=frozenset({"c"}), allowed_units=allowed),
            make_class(2, fixed_teacher_id=2, cohorts=frozenset({"c"}), allowed_units=hours([0], 9, 11)),
        ),
        weights=TIMETABLE_WEIGHTS,
    )


def test_cohort_sessions_placed_next_to_each_other():
    assert _penalty(_cohort_problem(hours([0], 8, 14)), "isolated_sessions") == 0


def test_cohort_sessions_kept_apart_are_both_isolated():
    allowed = hours([0], 12, 14) | hours([1], 9, 11)
    assert _penalty(_cohort_problem(allowed), "isolated_sessions") == 2


def _capacity_problem(learners: int):
    return make_problem(
        spaces=(make_space(1, capacity=20), make_space(2, capacity=30)),
        classes=(make_class(learners=learners, sessions_per_week=2, min_weekdays=0),),
        weights=TIMETABLE_WEIGHTS,
        soft_capacity=True,
    )


def test_a_space_that_seats_everyone_is_chosen():
    assert _penalty(_capacity_problem(25), "over_capacity") == 0


def test_learners_without_a_seat_are_paid_per_session():
    assert _penalty(_capacity_problem(34), "over_capacity") == 2 * 4


def test_time_first_keeps_every_hard_rule_and_places_everyone():
    problem = _cohort_problem(hours([0], 8, 14))
    solution = solved(problem, time_first=True)
    assert solution.placed_count == 2
    assert penalties(problem, solution.assignments)["isolated_sessions"] == 0
