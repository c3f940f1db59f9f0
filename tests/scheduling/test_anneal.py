"""Simulated annealing over a plan (``scheduling.anneal``): every hard rule still holds, the plan
never gets worse, its own running cost agrees with ``scheduling.score``, and it finds the moves
a plan obviously needs."""

import time
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from scheduling import Lock, Problem, Solution, Weights, validate
from scheduling.anneal import _Annealer, anneal
from scheduling.candidates import class_candidates
from scheduling.placement import Choice, assignments_of
from scheduling.score import penalties, weighted_total

from .builders import at, make_class, make_problem, make_space, make_teacher, solved
from .test_properties import PROPERTY_SETTINGS, problems

WEIGHTS = Weights(
    travel=1, same_space=3, cohort_compactness=1, teacher_balance=0, fairness=0, short_weekdays=5, isolated_sessions=2
)


def _candidates(problem: Problem) -> dict:
    return {offer.id: class_candidates(problem, offer) for offer in problem.classes}


def _plan_of(solution: Solution) -> dict:
    plan = {}
    for a in solution.assignments:
        plan.setdefault(a.class_id, []).append(Choice(a.weekday, a.start_unit, a.space_id, a.teacher_id))
    return {c: tuple(choices) for c, choices in plan.items()}


def _as_solution(problem: Problem, plan: dict) -> Solution:
    return Solution(
        assignments=assignments_of(problem, plan),
        unplaced=tuple(),
        status="feasible",
        objective=None,
        bound=None,
        wall_time_s=0.0,
        first_feasible_s=None,
        placed_count=len(plan),
    )


def _cost(problem: Problem, plan: dict) -> int:
    return weighted_total(problem, penalties(problem, assignments_of(problem, plan)))


@PROPERTY_SETTINGS
@given(problems(), st.integers(0, 3))
def test_annealing_keeps_every_rule_and_never_worsens_the_plan(problem: Problem, seed: int):
    problem = replace(problem, venue_travel_minutes={}, weights=WEIGHTS)
    first = solved(problem, time_limit_s=0.5)
    plan = _plan_of(first)
    candidates = _candidates(problem)
    assert _Annealer(problem, candidates, plan).total() == _cost(problem, plan)
    polished = anneal(problem, candidates, plan, until=time.perf_counter() + 0.2, seed=seed)
    assert {c: len(s) for c, s in polished.items()} == {c: len(s) for c, s in plan.items()}
    assert validate(problem, replace(first, assignments=assignments_of(problem, polished))) == []
    assert _cost(problem, polished) <= _cost(problem, plan)
    assert _Annealer(problem, candidates, polished).total() == _cost(problem, polished)


def _two_rooms(*classes, **overrides) -> Problem:
    return make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=tuple(make_teacher(c.fixed_teacher_id) for c in classes),
        classes=classes,
        weights=WEIGHTS,
        **overrides,
    )


def test_classes_split_across_spaces_come_together():
    """Two classes meeting at the same times, each with one session in each space: swapping
    one pair of sessions' spaces gives each class one space."""
    monday, tuesday = (0, at(9)), (1, at(9))
    classes = [make_class(c, fixed_teacher_id=c, sessions_per_week=2, length_units=2) for c in (1, 2)]
    problem = _two_rooms(*classes)
    plan = {
        1: (Choice(*monday, 1, 1), Choice(*tuesday, 2, 1)),
        2: (Choice(*monday, 2, 2), Choice(*tuesday, 1, 2)),
    }
    # Pin the times: both classes may only use Monday and Tuesday at nine.
    pinned = frozenset((day, at(9) + u) for day in (0, 1) for u in range(2))
    problem = replace(problem, classes=tuple(replace(c, allowed_units=pinned) for c in problem.classes))
    assert penalties(problem, assignments_of(problem, plan))["same_space"] == 2
    polished = anneal(problem, _candidates(problem), plan, until=time.perf_counter() + 0.5, seed=0)
    assert penalties(problem, assignments_of(problem, polished))["same_space"] == 0


def test_an_isolated_session_moves_next_to_its_cohort():
    """A cohort with one class at nine and another at three: one of them moves to sit beside the other."""
    classes = [make_class(c, fixed_teacher_id=c, length_units=2, cohorts=frozenset({"east"})) for c in (1, 2)]
    problem = _two_rooms(*classes)
    plan = {1: (Choice(0, at(9), 1, 1),), 2: (Choice(0, at(15), 1, 2),)}
    assert penalties(problem, assignments_of(problem, plan))["isolated_sessions"] == 2
    polished = anneal(problem, _candidates(problem), plan, until=time.perf_counter() + 0.5, seed=0)
    terms = penalties(problem, assignments_of(problem, polished))
    assert terms["isolated_sessions"] == 0
    assert terms["cohort_compactness"] == 0


def test_locked_classes_and_travel_times_leave_the_plan_alone():
    classes = [make_class(c, fixed_teacher_id=c, length_units=2, cohorts=frozenset({"east"})) for c in (1, 2)]
    plan = {1: (Choice(0, at(9), 1, 1),), 2: (Choice(0, at(15), 1, 2),)}
    with_travel = _two_rooms(*classes, venue_travel_minutes={(1, 2): 30})
    assert anneal(with_travel, _candidates(with_travel), plan, until=time.perf_counter() + 0.2, seed=0) is plan
    locked = _two_rooms(*classes, locks=(Lock(1, 0, 0, at(9), 1, 1), Lock(2, 0, 0, at(15), 1, 2)))
    assert anneal(locked, _candidates(locked), plan, until=time.perf_counter() + 0.2, seed=0) == plan
