"""``solve``: one pipeline over the same plain data, whatever the term's size.

1. **Size** (``scheduling.size``): the (time, space) choices are estimated before anything is
   enumerated; a term beyond ``CHOICE_LIMIT`` is refused with ``ProblemTooLarge``.
2. **Candidates**: every class's usable (time, space, teacher) choices; their model booleans
   are counted and decide the way the term is solved (``Solution.method``):
   - ``whole_model`` (up to ``MODEL_BUDGET``): one CP-SAT model from a greedy plan, its two
     search phases (``scheduling.search``);
   - ``neighbourhoods`` (above it, or when building one model would take half the limit): a
     greedy plan, ejections (``scheduling.ejection``), a bound on the classes any plan can place
     (``scheduling.bound``), then ejections, swaps and CP-SAT on neighbourhoods of the plan, each
     under the budget (``scheduling.neighbourhoods``);
   - ``greedy``: the limit (or ``stop()``) ended before anything but the greedy plan;
   - ``time_first`` (asked for, for CB-CTT-like timetables): times, then spaces
     (``scheduling.time_first``), then annealing (``scheduling.anneal``).

The returned plan is always valid and never places fewer placement units than the greedy one:
every later stage starts from it and keeps it unless it finds better. Progress reports say
which stage is running. The status is ``optimal`` when a search proved it, ``feasible``
otherwise — also after ``stop()`` or a time limit that left no room for the search.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .anneal import anneal
from .bound import placed_upper_bound
from .candidates import ClassCandidates, class_candidates
from .explain import explain_unplaced
from .model import build_model, placeable_alone
from .neighbourhoods import Neighbourhoods
from .objective import placed_at_most, set_objective, units_left_out
from .placement import Plan, assignments_of
from .problem import Problem, Progress, Solution
from .score import penalties, soft_upper_bound, weighted_total
from .search import DETERMINISTIC_UP_TO, Outcome, Search
from .size import MODEL_BUDGET, check_size, model_booleans
from .time_first import MIN_SPACE_S, SPACE_SHARE, times_then_spaces
from .warm_start import greedy_plan

PLACEMENT_SHARE = 0.4
"""Share of the time left after building the model that the placement phase may use."""
ANNEAL_SHARE = 0.2
"""Share of the time limit that simulated annealing (``scheduling.anneal``) polishes a
``time_first`` plan with, times and spaces together."""
BUILD_RATE = 50_000
"""Model booleans built per second, about: a whole model that would take more than half the limit
to build is not built; its term goes to neighbourhoods (small models) instead."""
EJECTION_SHARE = 0.2
"""Share of the time left after the greedy plan for ejections alone (quick gains, reported early)."""
BOUND_SHARE = 0.25
"""Share of the time left after the greedy plan that the bound's relaxation may use (``scheduling.bound``)."""
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
    check_size(problem)
    anneal_s = ANNEAL_SHARE * time_limit_s if time_first else 0.0
    method = "time_first"
    if time_first:
        spaces_s = max(MIN_SPACE_S, SPACE_SHARE * time_limit_s)
        until = started + time_limit_s - spaces_s - anneal_s
        m, plan = times_then_spaces(problem, until=until, spaces_s=spaces_s, seed=seed, workers=workers, stop=stop)
    else:
        out_of_time = _out_of_time(started + time_limit_s - WRAP_UP_S, stop)
        candidates = {}
        for offer in problem.classes:
            if out_of_time():
                break
            candidates[offer.id] = class_candidates(problem, offer)
        placeable = {c: cand for c, cand in candidates.items() if placeable_alone(problem, cand)}
        booleans = model_booleans(placeable.values())
        big = booleans > MODEL_BUDGET
        plan = greedy_plan(problem, placeable, out_of_time)
        if big or out_of_time() or time.perf_counter() + booleans / BUILD_RATE > started + time_limit_s / 2:
            run = Decomposed(problem, candidates, placeable, started, on_progress)
            return run.solve(plan, time_limit_s, seed, workers, stop, search=not out_of_time())
        method = "whole_model"
        m = build_model(problem, candidates=placeable)
    placement_model = m.model.clone()  # the hard rules alone, before the soft terms join
    placement_weight = set_objective(m)
    if deterministic is None:  # with times fixed, presolve removes most of a big model: worth it
        deterministic = time_first or len(placement_model.proto.variables) <= DETERMINISTIC_UP_TO
    search = Search(m, placement_weight, started, seed, workers, deterministic, on_progress, stop)
    if not time_first:
        search.stage = "greedy"
        search.report((search.objective_of(plan), float(placement_weight * search.never_placed), len(plan)))
        search.stage = "placement"

    deadline = started + time_limit_s - WRAP_UP_S
    placement_deadline = time.perf_counter() + PLACEMENT_SHARE * (deadline - time.perf_counter())
    plan, unplaced_bound = search.place_most(placement_model, plan, until=placement_deadline)
    at_most = placed_at_most(problem, unplaced_bound)
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
        unplaced=explain_unplaced(problem, assignments),
        status="optimal" if outcome.status == cp_model.OPTIMAL else "feasible",
        objective=outcome.objective,
        bound=outcome.bound,
        wall_time_s=time.perf_counter() - started,
        first_feasible_s=search.first_solution_s,
        placed_count=len(placed),
        placed_bound=at_most,
        method=method,
    )


def _out_of_time(deadline: float, stop: Callable[[], bool] | None) -> Callable[[], bool]:
    return lambda: time.perf_counter() > deadline or (stop is not None and stop())


@dataclass
class Decomposed:
    """A term too big for one model (or a limit too short for one): the greedy plan, ejections
    (``scheduling.ejection``), a bound on the classes any plan can place, then neighbourhoods
    until the deadline."""

    problem: Problem
    candidates: dict[int, ClassCandidates]
    """Every class considered before the deadline (the others are ``not_found_in_time``)."""
    placeable: dict[int, ClassCandidates]
    started: float
    on_progress: Callable[[Progress], None] | None
    at_most: int = 0
    first_plan_s: float | None = None

    def __post_init__(self) -> None:
        self.weight = soft_upper_bound(self.problem) + 1  # one placement unit outweighs every soft term
        self.at_most = len(self.placeable) + len(self.problem.classes) - len(self.candidates)

    def cost(self, plan: Plan) -> tuple[int, int]:
        """(placement units left out, weighted soft penalty): lower is better."""
        soft = weighted_total(self.problem, penalties(self.problem, assignments_of(self.problem, plan)))
        return units_left_out(self.problem, plan), soft

    def report(self, plan: Plan, stage: str) -> None:
        elapsed = time.perf_counter() - self.started
        if self.first_plan_s is None:
            self.first_plan_s = elapsed
        if self.on_progress is not None:
            units, soft = self.cost(plan)
            bound = float(self.weight * (len(self.problem.classes) - self.at_most))
            self.on_progress(Progress(self.weight * units + soft, bound, elapsed, len(plan), stage, self.at_most))

    def solve(
        self, plan: Plan, time_limit_s: float, seed: int, workers: int, stop: Callable[[], bool] | None, *, search: bool
    ) -> Solution:
        deadline = self.started + time_limit_s - WRAP_UP_S
        self.report(plan, "greedy")
        out_of_time = _out_of_time(deadline, stop)
        if search and not out_of_time():
            improver = Neighbourhoods(self.problem, self.placeable, self.cost, seed=seed, workers=workers, stop=stop)
            until = time.perf_counter() + EJECTION_SHARE * (deadline - time.perf_counter())
            plan = improver.improve(
                plan, until=until, on_better=lambda better: self.report(better, "ejections"), ejections_only=True
            )
        if search and not out_of_time():
            until = time.perf_counter() + BOUND_SHARE * (deadline - time.perf_counter())
            self.at_most = placed_upper_bound(self.problem, self.placeable, plan, until=until, seed=seed, stop=stop)
            self.report(plan, "bound")
            plan = improver.improve(
                plan, until=deadline, on_better=lambda better: self.report(better, "neighbourhoods")
            )
        units, soft = self.cost(plan)
        assignments = assignments_of(self.problem, plan)
        return Solution(
            assignments=assignments,
            unplaced=explain_unplaced(self.problem, assignments, self.candidates, considered=set(self.candidates)),
            status="optimal" if len(plan) == self.at_most and not soft else "feasible",
            objective=float(self.weight * units + soft),
            bound=float(self.weight * (len(self.problem.classes) - self.at_most)),
            wall_time_s=time.perf_counter() - self.started,
            first_feasible_s=self.first_plan_s,
            placed_count=len(plan),
            placed_bound=self.at_most,
            method="neighbourhoods" if search else "greedy",
        )
