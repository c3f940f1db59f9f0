"""The validator catches every broken hard rule in a hand-made plan, whoever made it."""

from dataclasses import replace

import pytest

from scheduling import Assignment, Forbid, Lock, Solution, Unplaced, validate

from .builders import at, hours, make_class, make_problem, make_space, make_teacher

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)

PROBLEM = make_problem(
    spaces=(
        make_space(1, venue_id=10),
        make_space(2, venue_id=20, capacity=10, kind="lab", blocked={(MONDAY, at(9)): frozenset({1, 2, 3, 4})}),
        make_space(3, venue_id=10, kind="hall", leaves=frozenset({1})),
        make_space(4, venue_id=10),
    ),
    teachers=(
        make_teacher(1),
        make_teacher(2, available_units=hours([TUESDAY, WEDNESDAY]), max_minutes_per_week=60, refused_venue_ids={20}),
        make_teacher(3, skills=frozenset({"music"})),
    ),
    classes=(
        make_class(1, learners=20),
        make_class(2, sessions_per_week=2, learners=5, cohorts=frozenset({"c"})),
        make_class(3, cohorts=frozenset({"c"}), allowed_units=hours([MONDAY, THURSDAY], 9, 12)),
    ),
    venue_travel_minutes={(10, 20): 30},
)

PLAN = Solution(
    assignments=(
        Assignment(1, 0, MONDAY, at(9), 1, 1),
        Assignment(2, 0, TUESDAY, at(9), 1, 1),
        Assignment(2, 1, WEDNESDAY, at(9), 1, 1),
        Assignment(3, 0, THURSDAY, at(9), 1, 1),
    ),
    unplaced=(),
    status="feasible",
    objective=None,
    bound=None,
    wall_time_s=0.0,
    first_feasible_s=None,
    placed_count=3,
)


def _changed(class_id: int, session_index: int = 0, **changes) -> Solution:
    return _edited({(class_id, session_index): changes})


def _edited(changes: dict[tuple[int, int], dict]) -> Solution:
    return replace(
        PLAN,
        assignments=tuple(replace(a, **changes.get((a.class_id, a.session_index), {})) for a in PLAN.assignments),
    )


def _without(class_id: int, session_index: int) -> Solution:
    kept = tuple(a for a in PLAN.assignments if (a.class_id, a.session_index) != (class_id, session_index))
    return replace(PLAN, assignments=kept)


def _codes(problem, solution) -> set[str]:
    return {v.code for v in validate(problem, solution)}


def test_the_plan_itself_is_valid():
    assert validate(PROBLEM, PLAN) == []


@pytest.mark.parametrize(
    ("solution", "code"),
    [
        (_changed(1, space_id=99), "unknown_reference"),
        (_changed(1, space_id=2), "space_capacity"),
        (_changed(3, space_id=2, teacher_id=3), "teacher_not_qualified"),
        (_changed(1, teacher_id=2), "teacher_unavailable"),
        (_changed(2, space_id=2, teacher_id=2), "teacher_refuses_venue"),
        (_changed(1, start_unit=at(21.5)), "space_closed"),
        (_changed(2, space_id=2, weekday=MONDAY, skipped_weeks=(1, 2, 3, 4)), "space_blocked"),
        (_changed(1, skipped_weeks=(5,)), "skipped_weeks_mismatch"),
        (_changed(3, weekday=FRIDAY), "outside_allowed_units"),
        (_changed(1, start_unit=at(23.5)), "outside_week_grid"),
        (_without(2, 1), "incomplete_class"),
        (_changed(2, 1, weekday=TUESDAY, start_unit=at(11)), "same_weekday"),
        (_changed(1, weekday=TUESDAY, space_id=3, teacher_id=2), "space_overlap"),
        (_changed(1, weekday=TUESDAY, space_id=4), "teacher_overlap"),
        (_changed(3, weekday=TUESDAY, space_id=4, teacher_id=2), "cohort_overlap"),
        (_changed(3, start_unit=at(10), weekday=MONDAY, space_id=2), "teacher_travel"),
        (_edited({(2, 0): {"teacher_id": 2}, (2, 1): {"teacher_id": 2}}), "teacher_overloaded"),
    ],
)
def test_broken_rule_is_reported(solution: Solution, code: str):
    assert code in _codes(PROBLEM, solution)


def test_lock_broken():
    problem = replace(PROBLEM, locks=(Lock(1, 0, MONDAY, at(9), 1, 1),))
    assert validate(problem, PLAN) == []
    assert "lock_broken" in _codes(problem, _changed(1, start_unit=at(9.5)))


def test_forbidden_session():
    assert "forbidden" in _codes(replace(PROBLEM, forbids=(Forbid(1, space_id=1, weekday=MONDAY),)), PLAN)


def test_every_class_reported_once():
    assert "class_missing" in _codes(PROBLEM, replace(_without(3, 0), placed_count=2))
    both = replace(PLAN, unplaced=(Unplaced(1, ("conflicts",)),))
    assert "placed_and_unplaced" in _codes(PROBLEM, both)
    assert "placed_count" in _codes(PROBLEM, replace(PLAN, placed_count=4))


def test_unplaced_locked_class_says_lock_infeasible():
    problem = replace(PROBLEM, locks=(Lock(1, 0, MONDAY, at(9), 1, 1),))
    unplaced = replace(_without(1, 0), unplaced=(Unplaced(1, ("conflicts",)),), placed_count=2)
    assert "lock_reason_missing" in _codes(problem, unplaced)
    reasoned = replace(unplaced, unplaced=(Unplaced(1, ("lock_infeasible", "conflicts")),))
    assert validate(problem, reasoned) == []
