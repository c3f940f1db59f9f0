"""Time first, spaces second: a decomposition of ``solve`` for terms where spaces differ only in
capacity (CB-CTT-like timetables), where one model over times × spaces is too big to search well.

1. **Times.** The model of ``scheduling.model`` without space and teacher variables: starts
   only, with the rules that need nothing else (sessions complete, weekdays, cohorts, the
   single-teacher classes' teachers) and, per unit, Hall-type counting cuts over capacities:
   for every capacity ``k``, the sessions at the unit that need a space of at least ``k`` seats
   are no more than the open spaces with at least ``k`` seats. When capacity is the only
   difference between spaces, those cuts say exactly that every unit's sessions can be given
   spaces without leaving anyone standing (Hall's theorem on nested sets). A class bigger than
   every space (``Problem.soft_capacity``) needs the biggest; with soft capacity the cuts
   above the smallest capacity may be exceeded at a price. Soft terms that depend on
   spaces or teachers have no variables here and drop out.
2. **Spaces.** The full model, with each class's starts fixed to the ones chosen: spaces,
   teachers and the terms that depend on them (``same_space``, ``over_capacity``, …).

Between the two, when ``Weights.same_space`` counts: each class gets a home space for its
times (``scheduling.homes``: classes at home in one space rarely meet) and the first plan of
stage 2 puts sessions at home where it is free (greedy placement crowds the smallest seating
spaces and pays for it in ``same_space``). If stage 1 ends early (its times proved optimal),
rounds choose times again with those homes in view (``add_home_space_counts``), then spaces.
``solve`` then hands the plan to ``scheduling.anneal``, which moves times and spaces together.

Not exact when spaces differ in more than capacity (features, kinds, divisible halls, opening
hours per space), when classes choose among teachers, or when overbooking a space would pay:
stage 2 then may place fewer classes or cost more than a monolithic search would find.
"""

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from ortools.sat.python import cp_model

from .candidates import ClassCandidates, class_candidates
from .homes import Homes, Times, choose_homes, spaces_near_home
from .model import (
    AllocationModel,
    _no_overlap,
    add_class_no_overlap,
    add_cohort_no_overlap,
    add_distinct_weekdays,
    build_model,
    placeable_alone,
)
from .objective import set_objective, units_left_out, unplaced_units
from .placement import Choice, Plan, assignments_of
from .problem import Problem
from .score import penalties, weighted_total
from .search import MIN_SEARCH_S, polling, read_plan
from .warm_start import complete_hint, greedy_plan, hint_decisions

SPACE_SHARE = 0.15
"""Share of the time limit ``solve`` keeps for stage 2 (at least ``MIN_SPACE_S``)."""
MIN_SPACE_S = 2.0
PLACEMENT_SHARE = 0.4
"""Share of stage 1 that placing the most classes may use (it stops early once all are placed)."""
FIRST_TIMES_SHARE = 1.0
"""Share of stage 1 for the first times, before any home spaces are known."""
HOME_ROUNDS = 3
"""A round's share of the time left is 1 / the rounds left, down to the last."""
HOMES_SHARE = 0.6
"""Share of stage 2's time for choosing homes (two thirds) and spaces near them (``scheduling.homes``)."""
"""Rounds of times chosen again around the last plan's home spaces (``times_then_spaces``)."""


def build_time_model(problem: Problem, homes: Homes | None = None) -> AllocationModel:
    """``homes`` (class id -> space id) adds ``add_home_space_counts``."""
    candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
    m = AllocationModel(problem, {c: cand for c, cand in candidates.items() if placeable_alone(problem, cand)})
    new = m.model.new_bool_var
    for class_id in m.candidates:
        m.placed[class_id] = new(f"placed[{class_id}]")
    for _, _, key in m.sessions():
        m.start[key] = new("")
        m.space[key], m.teacher[key] = {}, {}
    for add_rule in TIME_RULES:
        add_rule(m)
    if homes and problem.weights.same_space:
        add_home_space_counts(m, homes)
    return m


def add_sessions_counted(m: AllocationModel) -> None:
    """A placed class has all its sessions, an unplaced one none."""
    starts = defaultdict(list)
    for _, _, key in m.sessions():
        starts[key[0]].append(m.start[key])
    for class_id, candidates in m.candidates.items():
        m.model.add(LinearExpr.sum(starts[class_id]) == candidates.offer.sessions_per_week * m.placed[class_id])


def add_single_teacher_no_overlap(m: AllocationModel) -> None:
    """Classes with one possible teacher: that teacher's sessions never overlap."""
    _no_overlap(
        m,
        (
            (candidates.qualified_teachers[0], option.weekday, _span(candidates, option), m.start[key])
            for candidates, option, key in m.sessions()
            if len(candidates.qualified_teachers) == 1
        ),
    )


def add_space_counts(m: AllocationModel) -> None:
    """Per unit and capacity level: sessions needing that many seats ≤ open spaces having them.

    With ``Problem.soft_capacity`` a cut above the smallest capacity may be exceeded, so that
    overbooking remains possible where it is the only way, as in some CB-CTT instances: each
    session over it sits in a smaller space, which costs ``Weights.over_capacity`` per learner
    without a seat, at least the fewest learners of the sessions needing the level less the
    next smaller capacity. That bounds one level's cost from below; a session dropping several
    levels can be charged more than it will cost, which only makes stage 1 shy of overbooking.
    More sessions than open spaces is never allowed."""
    capacities = sorted({space.capacity for space in m.problem.spaces})
    need = {class_id: _seats_needed(m.problem, cand, capacities[-1]) for class_id, cand in m.candidates.items()}
    covering = defaultdict(list)
    for candidates, option, key in m.sessions():
        for unit in _span(candidates, option):
            covering[option.weekday, unit].append((need[key[0]], candidates.offer.learners, m.start[key]))
    for (weekday, unit), sessions in covering.items():
        open_spaces = [s.capacity for s in m.problem.spaces if (weekday, unit) in s.open_units]
        for index, level in enumerate(capacities):
            needing = [(learners, var) for seats, learners, var in sessions if seats >= level]
            having = sum(capacity >= level for capacity in open_spaces)
            if len(needing) <= having:
                continue
            variables = [var for _, var in needing]
            if m.problem.soft_capacity and index:
                excess = m.model.new_int_var(0, len(needing) - having, "")
                m.model.add(LinearExpr.sum(variables) <= having + excess)
                standing = min(learners for learners, _ in needing) - capacities[index - 1]
                m.overbooked.append((excess, max(1, standing)))
            else:
                m.model.add(LinearExpr.sum(variables) <= having)


def add_home_space_counts(m: AllocationModel, homes: Homes) -> None:
    """Per home space and unit: at most one session of the classes at home there. Each session
    over it costs ``Weights.same_space`` once: it has to go elsewhere, so its class uses one
    more space (a proxy for stage 2's ``same_space``, exact when each class moves once)."""
    covering = defaultdict(list)
    for candidates, option, key in m.sessions():
        if key[0] in homes:
            for unit in _span(candidates, option):
                covering[homes[key[0]], option.weekday, unit].append(m.start[key])
    for sessions in covering.values():
        if len(sessions) > 1:
            away = m.model.new_int_var(0, len(sessions) - 1, "")
            m.model.add(LinearExpr.sum(sessions) <= 1 + away)
            m.away_from_home.append(away)


def _seats_needed(problem: Problem, candidates: ClassCandidates, biggest: int) -> int:
    fitting = [problem.space_by_id[s].capacity for s in candidates.fitting_spaces]
    return min((c for c in fitting if c >= candidates.offer.learners), default=min(biggest, max(fitting, default=0)))


def _span(candidates: ClassCandidates, option) -> range:
    return range(option.start_unit, option.start_unit + candidates.offer.length_units)


LinearExpr = cp_model.LinearExpr
TIME_RULES = (
    add_sessions_counted,
    add_distinct_weekdays,
    add_class_no_overlap,
    add_cohort_no_overlap,
    add_single_teacher_no_overlap,
    add_space_counts,
)


def choose_times(
    problem: Problem,
    *,
    until: float,
    seed: int,
    workers: int,
    stop: Callable[[], bool] | None = None,
    homes: Homes | None = None,
    start_from: Times | None = None,
) -> Times:
    """Stage 1: the placed classes' session times, best found by ``until`` (a ``perf_counter`` deadline).

    Like ``solve``, in two phases: placement first, then the soft terms with at least as many
    classes placed (from the placement found). Placement first asks for every class without an
    objective, which CP-SAT's search answers far faster than it minimises the classes left out
    (a second or less on CB-CTT instances, against no full placement in 10 s); only if that
    fails does it minimise them, from a greedy plan. ``start_from`` skips placement and starts
    from those times; ``homes`` makes the times pay for sessions away from their home space."""
    m = build_time_model(problem, homes)
    if start_from:
        return _improve_times(m, start_from, until, seed, workers, stop, complete=True)
    placing_until = time.perf_counter() + PLACEMENT_SHARE * (until - time.perf_counter())
    everyone = m.model.clone()
    everyone.add_bool_and([_same_var(everyone, v) for v in m.placed.values()])
    placed = _run(everyone, m, placing_until, seed, workers, stop)
    if placed is None:
        most = m.model.clone()
        most.minimize(unplaced_units(problem, {c: _same_var(most, v) for c, v in m.placed.items()}))
        hint_decisions(most, m, greedy_plan(problem, m.candidates))
        placed = _run(most, m, placing_until + PLACEMENT_SHARE * (until - placing_until), seed, workers, stop)
    if placed is None:
        return {}
    return _improve_times(m, placed, until, seed, workers, stop)


def _improve_times(
    m: AllocationModel,
    placed: Times,
    until: float,
    seed: int,
    workers: int,
    stop: Callable[[], bool] | None,
    complete: bool = False,
) -> Times:
    """``complete``: hint every variable (the home rounds, where a partial hint was often lost and
    later times came out worse than the hint); otherwise starts and placed flags only."""
    set_objective(m)
    m.model.add(unplaced_units(m.problem, m.placed) <= units_left_out(m.problem, placed))
    _set_hint(m, placed, until if complete else None)
    return _run(m.model, m, until, seed, workers, stop) or placed


def _same_var(model: cp_model.CpModel, var: cp_model.IntVar) -> cp_model.IntVar:
    return model.get_bool_var_from_proto_index(var.index)


def _run(
    model: cp_model.CpModel,
    m: AllocationModel,
    until: float,
    seed: int,
    workers: int,
    stop: Callable[[], bool] | None,
) -> Times | None:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(until - time.perf_counter(), MIN_SEARCH_S)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2  # the LP's cuts pay on this model: about 10 % lower costs in equal time
    with polling(solver, stop):
        status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    times = defaultdict(list)
    for key, var in m.start.items():
        if solver.boolean_value(_same_var(model, var)):
            times[key[0]].append(key[1:])
    return {class_id: tuple(sorted(starts)) for class_id, starts in times.items()}


def _set_hint(m: AllocationModel, times: Times, until: float | None) -> None:
    """Hint the starts and placed flags, and with ``until`` the rest, completed by a quick solve."""
    chosen = {(c, *start) for c, starts in times.items() for start in starts}
    decisions = {var.index: int(c in times) for c, var in m.placed.items()}
    decisions.update((var.index, int(key in chosen)) for key, var in m.start.items())
    if until is None:
        m.model.clear_hints()
        for index, value in decisions.items():
            m.model.proto.solution_hint.vars.append(index)
            m.model.proto.solution_hint.values.append(value)
        return
    complete_hint(m.model, decisions, time_limit_s=max(MIN_SEARCH_S, min(2.0, (until - time.perf_counter()) / 4)))


def keep_times(candidates: ClassCandidates, times: Times) -> ClassCandidates:
    """The class's candidates at its chosen times only (all of them if stage 1 left it out)."""
    chosen = times.get(candidates.offer.id)
    if chosen is None:
        return candidates
    return replace(candidates, options=tuple(o for o in candidates.options if (o.weekday, o.start_unit) in chosen))


def placed_at_times(m: AllocationModel, times: Times, until: float, seed: int, workers: int) -> Plan:
    """Stage 2's first plan: the classes stage 1 placed, at their times, with any spaces and teachers
    that work (a feasibility question, answered much faster than minimising the classes left out)."""
    model = m.model.clone()
    model.add_bool_and([_same_var(model, m.placed[c]) for c in times if c in m.placed])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(until - time.perf_counter(), MIN_SEARCH_S)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    return read_plan(m, lambda var: solver.boolean_value(_same_var(model, var)))


def home_spaces(m: AllocationModel, times: Times, homes: Homes | None = None) -> Plan:
    """Stage 2's first plan, greedily: biggest classes first, each in one space free at all its times
    if one seats everyone (smallest first), else session by session in the smallest free space
    that seats everyone. Later classes are no bigger, so when the Hall cuts of stage 1 hold and
    capacity is all that tells spaces apart, no class finds its unit without a seating space.
    Classes it cannot complete are left out (stage 2's search places them). A class's space in
    ``homes`` is tried first for its home space."""
    problem, held, plan = m.problem, set(), {}
    order = sorted((c for c in times if c in m.candidates), key=lambda c: -problem.class_by_id[c].learners)
    for class_id in order:
        candidates = m.candidates[class_id]
        options = [candidates.option_at[start] for start in times[class_id]]
        choices = _sessions_in_spaces(problem, candidates, options, held, (homes or {}).get(class_id))
        if choices is not None:
            plan[class_id] = choices
            for choice in choices:
                held.update(_held(candidates, choice.weekday, choice.start_unit, choice.space_id))
    return plan


def _sessions_in_spaces(
    problem: Problem, candidates: ClassCandidates, options: list, held: set, preferred: int | None = None
) -> tuple | None:
    learners = candidates.offer.learners

    def seating_first(space_id: int) -> tuple[bool, int]:
        capacity = problem.space_by_id[space_id].capacity
        return capacity < learners, capacity if capacity >= learners else -capacity

    def free(option, space_id: int) -> bool:
        return not held & _held(candidates, option.weekday, option.start_unit, space_id)

    shared = sorted(set.intersection(*(set(o.spaces) for o in options)), key=seating_first)
    seating = [s for s in shared if not seating_first(s)[0]] or shared[:1]
    if preferred in shared:
        seating = [preferred, *(s for s in seating if s != preferred)]
    home = next((s for s in seating if all(free(o, s) for o in options)), None)
    teacher = candidates.qualified_teachers[0]
    choices = []
    for option in options:
        space_id = home
        if space_id is None:
            space_id = next((s for s in sorted(option.spaces, key=seating_first) if free(option, s)), None)
        if space_id is None:
            return None
        choices.append(Choice(option.weekday, option.start_unit, space_id, teacher))
    return tuple(choices)


def _held(candidates: ClassCandidates, weekday: int, start_unit: int, space_id: int) -> set:
    return {(space_id, weekday, u) for u in range(start_unit, start_unit + candidates.offer.length_units)}


def homes_of(plan: Plan) -> Homes:
    """Each class's most used space (the first of them on a tie)."""
    return {
        c: Counter(choice.space_id for choice in choices).most_common(1)[0][0] for c, choices in plan.items() if choices
    }


def times_then_spaces(
    problem: Problem,
    *,
    until: float,
    spaces_s: float,
    seed: int,
    workers: int,
    stop: Callable[[], bool] | None = None,
) -> tuple[AllocationModel, Plan]:
    """Stages 1 and 2 up to stage 2's search: the full model with the chosen times, and its first plan.

    Times first (``FIRST_TIMES_SHARE`` of the time to ``until``), then spaces; then, while time
    is left (stage 1 proved its times optimal early), rounds that keep
    each class's home space from the last plan and choose times again from the last times,
    paying for sessions that would find their home taken (``add_home_space_counts``), then
    spaces again around those homes. The best plan under the full objective is kept.
    ``spaces_s``: stage 2's time, of which each first plan may take ``HOMES_SHARE``."""
    now = time.perf_counter()
    first_until = now + FIRST_TIMES_SHARE * (until - now)
    times = choose_times(problem, until=first_until, seed=seed, workers=workers, stop=stop)
    m, plan = _spaces_at(problem, times, None, spaces_s, seed, workers)
    best = (_cost(problem, plan), m, plan)
    rounds = HOME_ROUNDS
    while not (stop is not None and stop()) and time.perf_counter() < until:
        round_until = time.perf_counter() + (until - time.perf_counter()) / rounds
        rounds = max(rounds - 1, 1)
        homes = homes_of(plan)
        times = choose_times(
            problem, until=round_until, seed=seed, workers=workers, stop=stop, homes=homes, start_from=times
        )
        m, plan = _spaces_at(problem, times, homes, spaces_s, seed, workers)
        cost = _cost(problem, plan)
        if cost <= best[0]:
            best = (cost, m, plan)
    return best[1], best[2]


def _spaces_at(
    problem: Problem, times: Times, homes: Homes | None, spaces_s: float, seed: int, workers: int
) -> tuple[AllocationModel, Plan]:
    """The full model at ``times`` and its first plan: the greedy one, or if better under the full
    objective the one near the homes ``scheduling.homes`` chooses (``HOMES_SHARE`` of ``spaces_s``)."""
    started = time.perf_counter()
    m = build_model(problem, partial(keep_times, times=times))
    plan = home_spaces(m, times, homes)
    if len(plan) < len(times):
        plan = placed_at_times(m, times, started + spaces_s / 2, seed, workers) or plan
    if not problem.weights.same_space:
        return m, plan
    homes_until = started + HOMES_SHARE * spaces_s * 2 / 3
    chosen = choose_homes(m, times, {**homes_of(plan), **(homes or {})}, until=homes_until, seed=seed, workers=workers)
    near = spaces_near_home(m, times, chosen, until=started + HOMES_SHARE * spaces_s, seed=seed, workers=workers)
    if near and _cost(problem, near) <= _cost(problem, plan):
        plan = near
    return m, plan


def _cost(problem: Problem, plan: Plan) -> tuple[int, int]:
    """Placement units left out, then the weighted soft terms (``scheduling.score``)."""
    return units_left_out(problem, plan), weighted_total(problem, penalties(problem, assignments_of(problem, plan)))
