"""The CB-CTT-like terms (shared weekdays, lone cohort sessions, soft capacity, home spaces): a penalised /
not-penalised pair each, and the time-first search keeping every hard rule."""

from ortools.sat.python import cp_model

from scheduling import Weights
from scheduling.objective import set_objective
from scheduling.score import penalties
from scheduling.time_first import build_time_model

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


def _away_from_home(allowed_second: frozenset) -> int:
    """Stage 1 of the time-first search with both classes at home in space 1: sessions away."""
    problem = make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, fixed_teacher_id=1, length_units=1, allowed_units=hours([0], 9, 9.5)),
            make_class(2, fixed_teacher_id=2, length_units=1, allowed_units=allowed_second),
        ),
        weights=TIMETABLE_WEIGHTS,
    )
    m = build_time_model(problem, homes={1: 1, 2: 1})
    set_objective(m)
    m.model.add_bool_and(list(m.placed.values()))
    solver = cp_model.CpSolver()
    assert solver.solve(m.model) == cp_model.OPTIMAL
    return sum(solver.value(away) for away in m.away_from_home)


def test_classes_at_home_in_one_space_are_kept_apart():
    assert _away_from_home(hours([0], 9, 11)) == 0


def test_classes_at_home_in_one_space_at_one_time_pay_once():
    assert _away_from_home(hours([0], 9, 9.5)) == 1


def _stage_one(*learners: int) -> tuple[int, float]:
    """Stage 1 of the time-first search with every class at the one allowed unit and spaces of
    10 and 30 seats: its status with everyone placed, and its objective."""
    problem = make_problem(
        spaces=(make_space(1, capacity=10), make_space(2, capacity=30)),
        teachers=tuple(make_teacher(c) for c in range(1, len(learners) + 1)),
        classes=tuple(
            make_class(c, fixed_teacher_id=c, learners=n, length_units=1, allowed_units=hours([0], 9, 9.5))
            for c, n in enumerate(learners, start=1)
        ),
        weights=TIMETABLE_WEIGHTS,
        soft_capacity=True,
    )
    m = build_time_model(problem)
    set_objective(m)
    m.model.add_bool_and(list(m.placed.values()))
    solver = cp_model.CpSolver()
    status = solver.solve(m.model)
    return status, solver.objective_value if status == cp_model.OPTIMAL else float("nan")


def test_stage_one_prices_an_overbooked_space_by_the_learners_left_standing():
    """25 and 28 learners, one space of 30: one class goes to the 10-seat space, 15 stand at least."""
    assert _stage_one(25, 28) == (cp_model.OPTIMAL, 15)


def test_stage_one_never_has_more_sessions_than_spaces():
    assert _stage_one(5, 5, 5)[0] == cp_model.INFEASIBLE
