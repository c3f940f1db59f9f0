"""A greedy plan handed to CP-SAT as a hint, so the first solution already places most classes.

Classes with locks go first, then the least flexible ones (fewest (time, space, teacher)
choices per session); each takes its cheapest free sessions around those already placed.

CP-SAT only adopts a hint as its first solution when every variable is hinted and the hint is
feasible, so the plan (which fixes the decision variables) is completed by a quick solve of a
copy of the model with those variables fixed: the soft terms' auxiliary variables get their
values without this module knowing how each term is encoded.
"""

from collections.abc import Callable, Iterator

from ortools.sat.python import cp_model

from .candidates import ClassCandidates
from .model import AllocationModel
from .placement import Occupancy, Plan, place_class
from .problem import Problem


def greedy_plan(
    problem: Problem, candidates: dict[int, ClassCandidates], stop: Callable[[], bool] | None = None
) -> Plan:
    """``stop()`` returning True ends the plan where it is (the classes placed so far)."""
    locked = {lock.class_id for lock in problem.locks}
    order = sorted(candidates.values(), key=lambda c: (c.offer.id not in locked, _choices_per_session(c), c.offer.id))
    occupancy = Occupancy(problem)
    plan = {}
    for class_candidates in order:
        if stop is not None and stop():
            break
        choices, _ = place_class(problem, class_candidates, occupancy)
        if choices is not None:
            for choice in choices:
                occupancy.add(class_candidates.offer.id, choice)
            plan[class_candidates.offer.id] = choices
    return plan


def hint_decisions(model: cp_model.CpModel, m: AllocationModel, plan: Plan) -> None:
    """Hint the decision variables (placed, start, space, teacher) of ``model`` — ``m.model`` or a
    clone of it taken before anything else was added, so that variable indexes coincide."""
    _set_hint(model, dict(_decision_values(m, plan)))


def hint_completed(m: AllocationModel, plan: Plan, *, time_limit_s: float) -> None:
    """Hint every variable of ``m.model``: the plan's decisions, and the values a quick solve with
    those decisions fixed gives everything else (decisions only if that fails in time)."""
    complete_hint(m.model, dict(_decision_values(m, plan)), time_limit_s=time_limit_s)


def complete_hint(model: cp_model.CpModel, decisions: dict[int, int], *, time_limit_s: float) -> None:
    """Hint every variable of ``model``: ``decisions`` (variable index -> value), and what a quick
    solve with them fixed gives everything else (the decisions alone if that fails in time)."""
    completion = model.clone()
    for index, value in decisions.items():
        domain = completion.proto.variables[index].domain  # a boolean's domain is [0, 1]
        domain[0] = domain[1] = value
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    if solver.solve(completion) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        _set_hint(model, dict(enumerate(solver.response_proto.solution)))
    else:
        _set_hint(model, decisions)


def _set_hint(model: cp_model.CpModel, values: dict[int, int]) -> None:
    model.clear_hints()
    hint = model.proto.solution_hint
    hint.vars.extend(values.keys())
    hint.values.extend(values.values())


def _decision_values(m: AllocationModel, plan: Plan) -> Iterator[tuple[int, int]]:
    """(variable index, value) for every placed / start / space / teacher variable."""
    chosen = {(c, ch.weekday, ch.start_unit): ch for c, choices in plan.items() for ch in choices}
    for class_id, var in m.placed.items():
        yield var.index, int(class_id in plan)
    for key, choice in ((key, chosen.get(key)) for key in m.start):
        yield m.start[key].index, int(choice is not None)
        for space_id, var in m.space[key].items():
            yield var.index, int(choice is not None and choice.space_id == space_id)
        venue = m.venue_of(choice.space_id) if choice is not None else None
        for teacher_venue, var in m.teacher[key].items():
            yield var.index, int(choice is not None and teacher_venue == (choice.teacher_id, venue))


def _choices_per_session(candidates: ClassCandidates) -> float:
    combos = sum(len(option.spaces) * len(option.teachers) for option in candidates.options)
    return combos / candidates.offer.sessions_per_week
