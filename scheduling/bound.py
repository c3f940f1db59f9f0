"""At most how many classes any plan can place: CP-SAT's bound on a relaxation of the term.

The relaxation keeps each class's starts (as ``scheduling.time_first``'s time model does) with
the rules that need nothing else — all sessions or none, distinct weekdays, cohorts never
overlapping, a single-teacher class's teacher never double-booked — and replaces the choice of
spaces and teachers by counting (Hall's condition, necessary for any assignment to exist):

- per unit and per *space group* (the spaces some class could use at all): the sessions at that
  unit of the classes whose usable spaces all lie in the group are no more than the group's
  leaves open then (every session holds a leaf of its own);
- the same per unit and *teacher group* (teachers qualified for some class) with the group's
  teachers available then;
- per teacher group: the weekly minutes of the classes that only its teachers can teach are no
  more than the group's weekly minutes.

Every plan of the term is a solution of the relaxation, so the relaxation's optimum — or any
bound CP-SAT proves on it — bounds the classes placed from above. The model has one boolean per
(class, start): about a fiftieth of the whole model's.
"""

import math
import time
from collections import defaultdict
from collections.abc import Callable

from ortools.sat.python import cp_model

from .candidates import ClassCandidates
from .model import AllocationModel, add_class_no_overlap, add_cohort_no_overlap, add_distinct_weekdays
from .placement import Plan
from .problem import Problem
from .rules import session_minutes
from .search import polling
from .time_first import add_sessions_counted

LinearExpr = cp_model.LinearExpr


def placed_upper_bound(
    problem: Problem,
    candidates: dict[int, ClassCandidates],
    plan: Plan | None = None,
    *,
    until: float,
    seed: int = 0,
    stop: Callable[[], bool] | None = None,
) -> int:
    """An upper bound on the classes any plan places; ``candidates`` are the classes that could be
    placed alone (the others never are), ``plan`` a known plan (the relaxation starts from it).
    ``until`` is a ``time.perf_counter()`` deadline."""
    if not candidates:
        return 0
    m = AllocationModel(problem, candidates)
    new = m.model.new_bool_var
    for class_id in candidates:
        m.placed[class_id] = new("")
    for _, _, key in m.sessions():
        m.start[key] = new("")
    for add_rule in RELAXED_RULES:
        add_rule(m)
    m.model.maximize(LinearExpr.sum(list(m.placed.values())))
    if plan:  # a plan is a solution of the relaxation too: its starts are the first one
        chosen = {(c, ch.weekday, ch.start_unit) for c, choices in plan.items() for ch in choices}
        for class_id, var in m.placed.items():
            m.model.add_hint(var, class_id in plan)
        for key, var in m.start.items():
            m.model.add_hint(var, key in chosen)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, until - time.perf_counter())
    solver.parameters.num_workers = 1  # alone it proves this model sooner than two workers sharing the cores
    solver.parameters.random_seed = seed
    with polling(solver, stop):
        status = solver.solve(m.model)
    if status == cp_model.OPTIMAL:
        return round(solver.objective_value)
    if status != cp_model.FEASIBLE:  # stopped before its first solution: CP-SAT's bound is not yet one
        return len(candidates)
    bound = solver.best_objective_bound
    return min(len(candidates), math.floor(bound + 1e-6)) if math.isfinite(bound) else len(candidates)


def add_space_group_counts(m: AllocationModel) -> None:
    """Per unit and space group: sessions confined to the group ≤ its leaves open then."""
    usable = {c: frozenset(sp for option in cand.options for sp in option.spaces) for c, cand in m.candidates.items()}
    leaves_of = {space.id: space.occupied_leaves for space in m.problem.spaces}

    def capacity(group: frozenset[int], unit: tuple[int, int]) -> int:
        return len({leaf for sp in group if unit in m.problem.space_by_id[sp].open_units for leaf in leaves_of[sp]})

    _add_group_counts(m, usable, capacity)


def add_teacher_group_counts(m: AllocationModel) -> None:
    """Per unit and teacher group: sessions only its teachers can teach ≤ its teachers available then."""
    qualified = {
        c: frozenset(t for option in cand.options for t in option.teachers) for c, cand in m.candidates.items()
    }

    def capacity(group: frozenset[int], unit: tuple[int, int]) -> int:
        return sum(unit in m.problem.teacher_by_id[t].available_units for t in group)

    _add_group_counts(m, qualified, capacity)


def add_teacher_group_minutes(m: AllocationModel) -> None:
    """Per teacher group: weekly minutes of the classes only its teachers can teach ≤ theirs.
    (Sharing each class's sessions out among its teachers as a transportation problem gave the
    same bound on the district profiles at twice the solving time.)"""
    qualified = {
        c: frozenset(t for option in cand.options for t in option.teachers) for c, cand in m.candidates.items()
    }
    for group in set(qualified.values()):
        inside = [c for c, q in qualified.items() if q <= group]
        offers = [m.candidates[c].offer for c in inside]
        minutes = [session_minutes(m.problem, offer) * offer.sessions_per_week for offer in offers]
        available = sum(m.problem.teacher_by_id[t].max_minutes_per_week for t in group)
        if sum(minutes) > available:
            m.model.add(LinearExpr.weighted_sum([m.placed[c] for c in inside], minutes) <= available)


def _add_group_counts(
    m: AllocationModel,
    resources: dict[int, frozenset[int]],
    capacity: Callable[[frozenset[int], tuple[int, int]], int],
) -> None:
    """For every group (a class's resources) and unit: the sessions there of the classes whose
    resources lie within the group ≤ ``capacity(group, unit)``."""
    groups = set(resources.values())
    within = {c: [g for g in groups if r <= g] for c, r in resources.items()}
    holders: dict[tuple[frozenset[int], int, int], list[cp_model.IntVar]] = defaultdict(list)
    for candidates, option, key in m.sessions():
        for unit in range(option.start_unit, option.start_unit + candidates.offer.length_units):
            for group in within[key[0]]:
                holders[group, option.weekday, unit].append(m.start[key])
    for (group, weekday, unit), variables in holders.items():
        if len(variables) > 1:
            limit = capacity(group, (weekday, unit))
            if len(variables) > limit:
                m.model.add(LinearExpr.sum(variables) <= limit)


RELAXED_RULES = (
    add_sessions_counted,
    add_distinct_weekdays,
    add_class_no_overlap,
    add_cohort_no_overlap,
    add_space_group_counts,
    add_teacher_group_counts,
    add_teacher_group_minutes,
)
