"""The solve loop: placing classes first, determinism, progress and cancellation, the objective."""

import time
from dataclasses import replace
from itertools import pairwise

from scheduling import Progress, Weights
from scheduling.generator import district_problem
from scheduling.model import build_model
from scheduling.objective import set_objective, units_left_out
from scheduling.score import penalties, weighted_total

from .builders import hours, make_class, make_problem, make_space, make_teacher, placed_ids, proven, solved

MONDAY = 0


def _small_term():
    """Enough classes, spaces, venues and cohorts for several optimal plans to exist."""
    return make_problem(
        spaces=tuple(make_space(i, venue_id=10 + i % 2) for i in range(1, 5)),
        teachers=tuple(make_teacher(i) for i in range(1, 4)),
        classes=tuple(
            make_class(
                i,
                sessions_per_week=1 + i % 2,
                length_units=2 + i % 3,
                allowed_units=hours(range(5), 9, 13),
                cohorts=frozenset({"east"}) if i % 3 == 0 else frozenset(),
                community_id=i % 2,
            )
            for i in range(1, 9)
        ),
        venue_travel_minutes={(10, 11): 20},
    )


def test_same_seed_same_plan():
    first, second = proven(_small_term(), seed=7), proven(_small_term(), seed=7)
    assert first.assignments == second.assignments
    assert first.objective == second.objective


def test_more_classes_placed_beats_any_soft_penalty():
    """One long class would block two short ones; the short ones are far away and pay travel."""
    monday = hours([MONDAY], 9, 12)
    problem = make_problem(
        spaces=(make_space(1, venue_id=10, open_units=monday),),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, length_units=6, allowed_units=monday),
            make_class(2, allowed_units=hours([MONDAY], 9, 10), preferred_region_ids=frozenset({2})),
            make_class(3, allowed_units=hours([MONDAY], 11, 12), preferred_region_ids=frozenset({2})),
        ),
        travel_km={(2, 10): 40.0},
    )
    solution = proven(problem)
    assert placed_ids(solution) == {2, 3}
    assert solution.unplaced[0].reasons == ("conflicts",)


def test_objective_is_placement_weight_times_unplaced_plus_weighted_penalties():
    problem = replace(_small_term(), weights=Weights(travel=2, same_space=3, cohort_compactness=4, teacher_balance=5))
    solution = proven(problem)
    placement_weight = set_objective(build_model(problem))
    unplaced = units_left_out(problem, (a.class_id for a in solution.assignments))
    expected = placement_weight * unplaced + weighted_total(problem, penalties(problem, solution.assignments))
    assert solution.objective == expected
    assert solution.bound == solution.objective


def test_progress_reported_for_every_improving_plan():
    heard: list[Progress] = []
    solution = solved(_small_term(), on_progress=heard.append)
    assert heard
    assert heard[-1].objective == solution.objective
    assert heard[-1].placed == solution.placed_count
    assert all(later.objective <= earlier.objective for earlier, later in pairwise(heard))
    assert solution.first_feasible_s is not None and solution.first_feasible_s <= solution.wall_time_s


def test_stop_ends_the_search_early_with_a_valid_plan():
    problem = district_problem(seed=3, classes=80, spaces=40, teachers=30)
    started = time.perf_counter()
    solution = solved(problem, time_limit_s=30, stop=lambda: True)
    assert time.perf_counter() - started < 15
    assert solution.status in ("feasible", "unknown")


def test_nothing_to_place():
    solution = solved(make_problem(classes=()))
    assert (solution.status, solution.assignments, solution.unplaced, solution.placed_count) == ("optimal", (), (), 0)


def test_unplaceable_classes_are_reported_without_a_search():
    problem = make_problem(classes=(make_class(1, learners=500), make_class(2, required_skill="pottery")))
    solution = solved(problem)
    assert [u.reasons for u in solution.unplaced] == [("no_space_fits",), ("no_qualified_teacher",)]
    assert solution.objective == solution.bound
