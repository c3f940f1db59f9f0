"""Terms of real size: sizing before building, the neighbourhood path for terms too big for one
model, the bound on placed classes, and several acceptable space kinds.

Nothing here depends on the machine's speed: every assertion holds for any plan the solver may
return within its limit (valid, never fewer placed than greedy, never more than the bound).
"""

import importlib
import time

import pytest

import scheduling.size
from scheduling import Solution, Unplaced, validate
from scheduling.bound import placed_upper_bound
from scheduling.candidates import class_candidates
from scheduling.model import placeable_alone
from scheduling.neighbourhoods import Neighbourhoods
from scheduling.objective import units_left_out
from scheduling.placement import assignments_of
from scheduling.score import penalties, weighted_total
from scheduling.size import ProblemTooLarge, check_size, estimated_choices, model_booleans
from scheduling.warm_start import greedy_plan
from scheduling.wide_generator import city_problem, wide_problem

from .builders import hours, make_class, make_problem, make_space, make_teacher, placed_ids, proven, solved

MONDAY = 0
pipeline = importlib.import_module("scheduling.solve")  # the module: the package exports its function by that name


def _small_wide(seed: int = 0):
    return wide_problem(seed, classes=40, teachers=14, venues=12, spaces=22, towns=3, communities=8)


def _placeable(problem):
    candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
    return {c: cand for c, cand in candidates.items() if placeable_alone(problem, cand)}


def test_estimate_bounds_the_choices_the_candidates_hold():
    problem = _small_wide()
    held = sum(len(o.spaces) for cand in _placeable(problem).values() for o in cand.options)
    assert 0 < held <= estimated_choices(problem)


def test_a_term_beyond_the_limit_is_refused_with_its_figures(monkeypatch):
    problem = _small_wide()
    monkeypatch.setattr(scheduling.size, "CHOICE_LIMIT", estimated_choices(problem) - 1)
    with pytest.raises(ProblemTooLarge) as refused:
        pipeline.solve(problem, time_limit_s=5)
    assert refused.value.code == "problem_too_large"
    assert refused.value.figures["choices"] == estimated_choices(problem)
    assert refused.value.figures["classes"] == 40
    assert "choices" in str(refused.value)


def test_city_term_is_sized_without_being_built():
    problem = city_problem()
    assert (len(problem.classes), len(problem.teachers), len(problem.spaces)) == (1000, 300, 500)
    assert check_size(problem) <= scheduling.size.CHOICE_LIMIT


def test_small_terms_are_one_model():
    problem = _small_wide()
    assert model_booleans(_placeable(problem).values()) <= scheduling.size.MODEL_BUDGET
    assert solved(problem, time_limit_s=3).method == "whole_model"


@pytest.mark.parametrize("seed", [0, 1])
def test_a_term_over_the_budget_is_planned_by_neighbourhoods_never_below_greedy(monkeypatch, seed):
    problem = _small_wide(seed)
    monkeypatch.setattr(pipeline, "MODEL_BUDGET", 100)
    greedy = greedy_plan(problem, _placeable(problem))
    stages = []
    solution = solved(problem, time_limit_s=4, seed=seed, on_progress=lambda p: stages.append(p.stage))
    assert solution.method == "neighbourhoods"
    assert len(greedy) <= solution.placed_count <= solution.placed_bound <= len(_placeable(problem))
    assert stages[:2] == ["greedy", "bound"]
    assert {u.class_id for u in solution.unplaced} == {c.id for c in problem.classes} - placed_ids(solution)


def test_stopped_before_anything_is_built_returns_an_empty_valid_plan():
    solution = solved(_small_wide(), time_limit_s=30, stop=lambda: True)
    assert solution.placed_count == 0
    assert len(solution.unplaced) == 40


def test_neighbourhood_path_stopped_after_greedy_keeps_the_greedy_plan(monkeypatch):
    problem = _small_wide()
    monkeypatch.setattr(pipeline, "MODEL_BUDGET", 100)
    greedy = greedy_plan(problem, _placeable(problem))
    heard = []

    def stop() -> bool:
        return bool(heard)  # once the greedy plan is reported

    solution = solved(problem, time_limit_s=30, stop=stop, on_progress=heard.append)
    assert solution.method == "neighbourhoods"
    assert solution.placed_count == len(greedy)


def test_neighbourhood_rounds_never_make_the_plan_worse():
    problem = _small_wide(2)
    candidates = _placeable(problem)
    start = greedy_plan(problem, candidates)

    def cost(plan):
        return units_left_out(problem, plan), weighted_total(problem, penalties(problem, assignments_of(problem, plan)))

    heard = []
    search = Neighbourhoods(problem, candidates, cost, seed=3, budget=3_000)
    best = search.improve(start, until=time.perf_counter() + 3, on_better=heard.append)
    assert cost(best) <= cost(start)
    assert all(cost(later) < cost(earlier) for earlier, later in zip([start, *heard], heard, strict=False))
    assignments = assignments_of(problem, best)
    unplaced = tuple(Unplaced(c.id, ("conflicts",)) for c in problem.classes if c.id not in best)
    plan = Solution(assignments, unplaced, "feasible", None, None, 0.0, None, len(best))
    assert validate(problem, plan) == []


def test_bound_is_never_below_a_proven_optimum():
    problem = make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=tuple(make_class(i, allowed_units=hours([MONDAY], 9, 10), length_units=2) for i in range(1, 5)),
    )
    best = proven(problem)
    bound = placed_upper_bound(problem, _placeable(problem), until=time.perf_counter() + 600)
    assert best.placed_count == 2 == bound  # two spaces, one slot


def test_bound_counts_a_teacher_group_weekly_minutes():
    problem = make_problem(
        spaces=tuple(make_space(i) for i in range(1, 5)),
        teachers=(make_teacher(1, max_minutes_per_week=120),),
        classes=tuple(make_class(i, length_units=2) for i in range(1, 4)),  # 60 minutes each
    )
    assert placed_upper_bound(problem, _placeable(problem), until=time.perf_counter() + 600) == 2


@pytest.mark.parametrize("seed", [3, 4])
def test_bound_is_above_what_any_run_places(seed):
    problem = _small_wide(seed)
    solution = solved(problem, time_limit_s=3, seed=seed)
    assert solution.placed_count <= solution.placed_bound
    assert solution.placed_count <= placed_upper_bound(problem, _placeable(problem), until=time.perf_counter() + 2)


def test_a_class_uses_only_the_kinds_it_accepts():
    problem = make_problem(
        spaces=(make_space(1, kind="gym"), make_space(2, kind="kitchen"), make_space(3, kind="classroom")),
        teachers=(make_teacher(1), make_teacher(2), make_teacher(3)),
        classes=tuple(
            make_class(i, allowed_kinds=frozenset({"kitchen", "classroom"}), allowed_units=hours([MONDAY], 9, 10))
            for i in range(1, 4)
        ),
    )
    solution = proven(problem)
    assert sorted(a.space_id for a in solution.assignments) == [2, 3]
    (unplaced,) = solution.unplaced
    assert unplaced.reasons == ("conflicts",)


def test_no_accepted_kind_explains_itself():
    problem = make_problem(
        spaces=(make_space(1, kind="gym"),), classes=(make_class(allowed_kinds=frozenset({"kitchen", "lab"})),)
    )
    (unplaced,) = solved(problem).unplaced
    assert unplaced.reasons == ("no_space_fits",)
    assert "kitchen or lab" in unplaced.detail


def test_wide_generator_is_seeded_and_shaped_like_the_district():
    first, again = wide_problem(5), wide_problem(5)
    assert first == again
    assert (len(first.classes), len(first.teachers), len(first.spaces)) == (300, 100, 178)
    assert len({s.venue_id for s in first.spaces}) == 99
    assert len({s.kind for s in first.spaces}) >= 12
    several = sum(len(c.allowed_kinds) >= 2 for c in first.classes)
    assert several >= 0.7 * len(first.classes)
    with_cohort = sum(bool(c.cohorts) for c in first.classes)
    assert 0.2 * len(first.classes) <= with_cohort <= 0.4 * len(first.classes)
