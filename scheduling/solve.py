"""``solve``: build the model, start from a greedy plan, run the two search phases, read the plan.

The returned plan is always valid: the greedy plan (possibly empty) is feasible, so the status
is ``optimal`` when the search proved it, ``feasible`` otherwise — also after ``stop()`` or a
time limit that left no room for the search. See ``scheduling.search`` for the phases, the
determinism and the solver settings.
"""

import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from .anneal import anneal
from .candidates import class_candidates
from .explain import explain
from .model import build_model
from .objective import set_objective
from .placement import assignments_of
from .problem import Problem, Progress, Solution
from .search import DETERMINISTIC_UP_TO, Outcome, Search
from .time_first import MIN_SPACE_S, SPACE_SHARE, times_then_spaces
from .warm_start import greedy_plan

PLACEMENT_SHARE = 0.4
"""Share of the time left after building the model that the placement phase may use."""
ANNEAL_SHARE = 0.2
"""Share of the time limit that simulated annealing (``scheduling.anneal``) polishes a
``time_first`` plan with, times and spaces together."""
WRAP_UP_S = 0.5
"""Kept back from ``time_limit_s``: CP-SAT overruns its limit by a few tenths on a district, then
the plan is read and unplaced classes explained."""


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int = 2,
    on_progress: Callable[[Progress], None] | None = None,
    stop: Callable[[], bool] | None = None,
    deterministic: bool | None = None,
    time_first: bool = False,
) -> Solution:
    """Place as many classes as possible, then minimise the weighted soft terms.

    ``time_limit_s`` covers building the model too (each phase still gets a few tens of
    milliseconds if building took it all). ``on_progress`` hears about every improving
    plan; ``stop()`` returning True ends the search with the best plan so far.
    ``deterministic`` forces CP-SAT's deterministic mode on or off (default: by model size).
    ``time_first`` chooses times before spaces (``scheduling.time_first``; progress is reported
    from the second stage on), and the last ``ANNEAL_SHARE`` of the limit moves sessions in
    time and space together (``scheduling.anneal``).
    """
    started = time.perf_counter()
    anneal_s = ANNEAL_SHARE * time_limit_s if time_first else 0.0
    if time_first:
        spaces_s = max(MIN_SPACE_S, SPACE_SHARE * time_limit_s)
        until = started + time_limit_s - spaces_s - anneal_s
        m, plan = times_then_spaces(problem, until=until, spaces_s=spaces_s, seed=seed, workers=workers, stop=stop)
    else:
        m = build_model(problem)
        plan = greedy_plan(problem, m.candidates)
    placement_model = m.model.clone()  # the hard rules alone, before the soft terms join
    placement_weight = set_objective(m)
    if deterministic is None:  # with times fixed, presolve removes most of a big model: worth it
        deterministic = time_first or len(placement_model.proto.variables) <= DETERMINISTIC_UP_TO
    search = Search(m, placement_weight, started, seed, workers, deterministic, on_progress, stop)

    deadline = started + time_limit_s - WRAP_UP_S
    placement_deadline = time.perf_counter() + PLACEMENT_SHARE * (deadline - time.perf_counter())
    plan, unplaced_bound = search.place_most(placement_model, plan, until=placement_deadline)
    outcome = search.improve(plan, unplaced_bound, until=deadline - anneal_s)
    if anneal_s:
        candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
        polished = anneal(problem, candidates, outcome.plan, until=deadline, seed=seed)
        if polished is not outcome.plan:
            objective = search.objective_of(polished)
            outcome = Outcome(polished, cp_model.FEASIBLE, objective, min(outcome.bound, objective))
    assignments = assignments_of(problem, outcome.plan)
    placed = set(outcome.plan)
    return Solution(
        assignments=assignments,
        unplaced=tuple(explain(problem, c.id, assignments) for c in problem.classes if c.id not in placed),
        status="optimal" if outcome.status == cp_model.OPTIMAL else "feasible",
        objective=outcome.objective,
        bound=outcome.bound,
        wall_time_s=time.perf_counter() - started,
        first_feasible_s=search.first_solution_s,
        placed_count=len(placed),
    )
