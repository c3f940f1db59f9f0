"""Home spaces for fixed times (``scheduling.time_first``): one space per class, chosen so that
classes at home in the same space rarely meet there.

A small model beside stage 2's: ``home[c, sp]`` for each class and each space open at all its
times, exactly one per class. Per space and unit, the classes at home there and holding the
unit are at most one, plus ``away``: each session over it has to go elsewhere, so its class
uses one more space (``Weights.same_space``; a proxy, exact when each class moves once). A
home too small costs ``Weights.over_capacity`` per learner without a seat and per session.
With times fixed, this decides in a few thousand booleans what stage 2's ``same_space`` term
decides over a variable per session and space.
"""

import time
from collections import defaultdict

from ortools.sat.python import cp_model

from .model import AllocationModel
from .placement import Choice, Plan
from .rules import learners_without_seat

LinearExpr = cp_model.LinearExpr
Times = dict[int, tuple[tuple[int, int], ...]]
"""class id -> its sessions' (weekday, start unit)."""
Homes = dict[int, int]
"""class id -> its home space."""


def choose_homes(m: AllocationModel, times: Times, hint: Homes, *, until: float, seed: int, workers: int) -> Homes:
    """The best homes found by ``until`` (a ``perf_counter`` deadline), from ``hint``; ``hint`` if none."""
    model = cp_model.CpModel()
    home = _home_variables(model, m, times)
    away = _away_from_home(model, m, times, home)
    unseated = _unseated(m, times, home)
    weights = m.problem.weights
    model.minimize(weights.same_space * LinearExpr.sum(away) + weights.over_capacity * unseated)
    for class_id, space_id in hint.items():
        for sp, var in home.get(class_id, {}).items():
            model.add_hint(var, sp == space_id)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(until - time.perf_counter(), 0.05)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return hint
    return {c: next(sp for sp, var in spaces.items() if solver.boolean_value(var)) for c, spaces in home.items()}


def _home_variables(model: cp_model.CpModel, m: AllocationModel, times: Times) -> dict[int, dict[int, cp_model.IntVar]]:
    home = {}
    for class_id, starts in times.items():
        candidates = m.candidates.get(class_id)
        if candidates is None or not starts:
            continue
        shared = set.intersection(*(set(candidates.option_at[start].spaces) for start in starts))
        if shared:
            home[class_id] = {sp: model.new_bool_var("") for sp in sorted(shared)}
            model.add_exactly_one(home[class_id].values())
    return home


def _away_from_home(
    model: cp_model.CpModel, m: AllocationModel, times: Times, home: dict[int, dict[int, cp_model.IntVar]]
) -> list[cp_model.IntVar]:
    covering = defaultdict(list)
    for class_id, spaces in home.items():
        length = m.candidates[class_id].offer.length_units
        for weekday, start in times[class_id]:
            for unit in range(start, start + length):
                for space_id, var in spaces.items():
                    covering[space_id, weekday, unit].append(var)
    away = []
    for variables in covering.values():
        if len(variables) > 1:
            over = model.new_int_var(0, len(variables) - 1, "")
            model.add(LinearExpr.sum(variables) <= 1 + over)
            away.append(over)
    return away


def _unseated(m: AllocationModel, times: Times, home: dict[int, dict[int, cp_model.IntVar]]) -> cp_model.LinearExprT:
    variables, costs = [], []
    for class_id, spaces in home.items():
        offer = m.candidates[class_id].offer
        for space_id, var in spaces.items():
            missing = learners_without_seat(m.problem.space_by_id[space_id], offer)
            if missing:
                variables.append(var)
                costs.append(missing * len(times[class_id]))
    return LinearExpr.weighted_sum(variables, costs) if variables else 0


def spaces_near_home(m: AllocationModel, times: Times, homes: Homes, *, until: float, seed: int, workers: int) -> Plan:
    """Spaces for the sessions at their times: an assignment per unit (its LP is integral, CP-SAT
    solves it at once) where a session pays ``Weights.same_space`` away from its class's home and
    ``Weights.over_capacity`` per learner without a seat. Away sessions of a class cost at most
    that in ``same_space``, so the plan's term is no more than the count. Empty if none is found."""
    model, weights = cp_model.CpModel(), m.problem.weights
    in_space, costs, holders = {}, [], defaultdict(list)
    for class_id, starts in times.items():
        candidates = m.candidates.get(class_id)
        if candidates is None:
            continue
        for start in starts:
            option = candidates.option_at[start]
            here = {sp: model.new_bool_var("") for sp in option.spaces}
            model.add_exactly_one(here.values())
            in_space[class_id, start] = here
            for space_id, var in here.items():
                missing = learners_without_seat(m.problem.space_by_id[space_id], candidates.offer)
                cost = weights.over_capacity * missing + weights.same_space * (space_id != homes.get(class_id))
                if cost:
                    costs.append(cost * var)
                for unit in range(start[1], start[1] + candidates.offer.length_units):
                    holders[space_id, start[0], unit].append(var)
    for variables in holders.values():
        if len(variables) > 1:
            model.add_at_most_one(variables)
    model.minimize(LinearExpr.sum(costs))
    for (class_id, _), here in in_space.items():
        for space_id, var in here.items():
            model.add_hint(var, space_id == homes.get(class_id))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(until - time.perf_counter(), 0.05)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    plan = defaultdict(list)
    for (class_id, (weekday, unit)), here in in_space.items():
        space_id = next(sp for sp, var in here.items() if solver.boolean_value(var))
        plan[class_id].append(Choice(weekday, unit, space_id, m.candidates[class_id].qualified_teachers[0]))
    return {class_id: tuple(choices) for class_id, choices in plan.items()}
