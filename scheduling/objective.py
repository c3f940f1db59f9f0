"""Soft terms, one function each, and the objective that puts placing classes above all of them.

Every term returns a ``PenaltyTerm``: an expression that equals the penalty at an optimum
(auxiliary variables are only pushed up, so they are exact once the solver minimises them)
and an upper bound on it. The objective is

    placement_weight × Σ placement units of unplaced classes + Σ weight × penalty

with ``placement_weight = Σ weight × upper bound + 1``, so one more placed class always beats
any change in the soft terms: the levels are lexicographic in a single objective. A class
counts 1 placement unit, a class with locks more than all others together (``placement_units``).

What each term counts (``scheduling.score`` computes the same from a plan alone):

- ``travel``: per session, km from the class's nearest preferred region to the venue (rounded).
- ``same_space``: per placed class, distinct spaces used minus one.
- ``cohort_compactness``: per cohort and day, idle units between the cohort's first session
  start and last session end (learners waiting between classes).
- ``teacher_balance``: the heaviest teacher's weekly load in grid units (min-max balancing).
  Not "heaviest minus lightest among teachers who teach": that is 0 when one teacher does
  everything, and its linear relaxation is so weak that even tiny terms cannot be proven
  optimal (parity of the total load decides the optimum, which an LP cannot see).
- ``fairness``: per community, the gap between its placed share and the overall placed share of
  classes that name a community, in whole percentage points rounded up.
- ``skipped_weeks``: per session, the weeks it is skipped because its space is blocked.
- ``short_weekdays``: per placed class with ``min_weekdays``, the weekdays it is short of them.
- ``isolated_sessions``: per cohort, its sessions with no session of the cohort ending just
  before or starting just after on the same day (a learner's lone session of the day).
- ``over_capacity``: with ``Problem.soft_capacity``, per session, its learners without a seat.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .model import AllocationModel
from .problem import Problem
from .rules import learner_travel_km, learners_without_seat

LinearExpr = cp_model.LinearExpr


@dataclass(frozen=True)
class PenaltyTerm:
    expression: cp_model.LinearExprT
    upper_bound: int


NO_PENALTY = PenaltyTerm(0, 0)


def travel_penalty(m: AllocationModel) -> PenaltyTerm:
    variables, km, bound = [], [], 0
    for class_id, candidates in m.candidates.items():
        worst = 0
        for option in candidates.options:
            for space_id, var in m.space[class_id, option.weekday, option.start_unit].items():
                distance = learner_travel_km(m.problem, candidates.offer, m.venue_of(space_id))
                if distance:
                    variables.append(var)
                    km.append(distance)
                    worst = max(worst, distance)
        bound += worst * candidates.offer.sessions_per_week
    return PenaltyTerm(LinearExpr.weighted_sum(variables, km), bound) if variables else NO_PENALTY


def skipped_weeks_penalty(m: AllocationModel) -> PenaltyTerm:
    variables, weeks, bound = [], [], 0
    for class_id, candidates in m.candidates.items():
        worst = 0
        for option in candidates.options:
            for space_id, skipped in option.skipped_weeks.items():
                if skipped:
                    variables.append(m.space[class_id, option.weekday, option.start_unit][space_id])
                    weeks.append(len(skipped))
                    worst = max(worst, len(skipped))
        bound += worst * candidates.offer.sessions_per_week
    return PenaltyTerm(LinearExpr.weighted_sum(variables, weeks), bound) if variables else NO_PENALTY


def same_space_penalty(m: AllocationModel) -> PenaltyTerm:
    """``used[c, sp]`` is forced up by any session of ``c`` in ``sp``; penalty = Σ used − placed.
    In a model without spaces, sessions away from their class's home space count instead."""
    terms, bound = list(m.away_from_home), len(m.start) if m.away_from_home else 0
    for class_id, candidates in m.candidates.items():
        if candidates.offer.sessions_per_week < 2 or len(candidates.fitting_spaces) < 2:
            continue
        sessions_in = defaultdict(list)
        for option in candidates.options:
            # a group holds at most one session: a weekday's, or a start's if days are shared
            group = (option.weekday,) if candidates.offer.min_weekdays is None else (option.weekday, option.start_unit)
            for space_id, var in m.space[class_id, option.weekday, option.start_unit].items():
                sessions_in[space_id, group].append(var)
        if not sessions_in:
            continue  # the model leaves spaces out (``scheduling.time_first``)
        used = {}
        for (space_id, _), variables in sessions_in.items():
            if space_id not in used:
                used[space_id] = m.model.new_bool_var("")
            m.model.add(used[space_id] >= LinearExpr.sum(variables))
        spaces_used = LinearExpr.sum(list(used.values()))
        m.model.add(spaces_used >= m.placed[class_id])  # redundant, but keeps the LP bound at ≥ 0
        terms.append(spaces_used - m.placed[class_id])
        bound += candidates.offer.sessions_per_week - 1
    return PenaltyTerm(LinearExpr.sum(terms), bound) if terms else NO_PENALTY


def cohort_gap_penalty(m: AllocationModel) -> PenaltyTerm:
    """Per cohort and day: ``before[u]`` / ``after[u]`` say a session of the cohort is at or
    before / at or after unit ``u``; an idle unit is one with both and no session."""
    covering = defaultdict(lambda: defaultdict(list))
    classes_on = defaultdict(set)
    for candidates, option, key in m.sessions():
        for cohort in candidates.offer.cohorts:
            classes_on[cohort, option.weekday].add(key[0])
            for unit in range(option.start_unit, option.start_unit + candidates.offer.length_units):
                covering[cohort, option.weekday][unit].append(m.start[key])
    idle, bound = [], 0
    for day_key, by_unit in covering.items():
        if len(classes_on[day_key]) < 2:
            continue
        first, last = min(by_unit), max(by_unit)
        idle.extend(_idle_units(m, [LinearExpr.sum(by_unit.get(u, [])) for u in range(first, last + 1)]))
        bound += max(0, last - first - 1)
    return PenaltyTerm(LinearExpr.sum(idle), bound) if idle else NO_PENALTY


def _idle_units(m: AllocationModel, active: list) -> list[cp_model.IntVar]:
    new = m.model.new_bool_var
    before = [new("") for _ in active]
    after = [new("") for _ in active]
    idle = []
    for u, busy in enumerate(active):
        m.model.add(before[u] >= busy)
        m.model.add(after[u] >= busy)
        if u:
            m.model.add(before[u] >= before[u - 1])
            m.model.add(after[u - 1] >= after[u])
        if 0 < u < len(active) - 1:
            gap = new("")
            m.model.add(gap >= before[u] + after[u] - busy - 1)
            idle.append(gap)
    return idle


def teacher_balance_penalty(m: AllocationModel) -> PenaltyTerm:
    """The heaviest teacher's weekly load in grid units: work is spread over the teachers who can
    take it (min-max balancing)."""
    load_terms = defaultdict(list)
    for candidates, _, key in m.sessions():
        for (teacher_id, _), var in m.teacher[key].items():
            load_terms[teacher_id].append((var, candidates.offer.length_units))
    if not load_terms:
        return NO_PENALTY
    top = max(m.problem.teacher_by_id[t].max_minutes_per_week // m.problem.grid_minutes for t in load_terms)
    heaviest = m.model.new_int_var(0, top, "heaviest_load")
    for weighted in load_terms.values():
        variables, units = zip(*weighted, strict=True)
        m.model.add(heaviest >= LinearExpr.weighted_sum(variables, units))
    return PenaltyTerm(heaviest, top)


def fairness_penalty(m: AllocationModel) -> PenaltyTerm:
    """Σ over communities of ⌈100 × |placed share of the community − overall placed share|⌉.

    With ``n_k`` classes of community ``k`` (``p_k`` placed) out of ``N`` (``P`` placed):
    ``N·n_k·dev_k ≥ 100·|N·p_k − n_k·P|``. Classes the model cannot place count as unplaced.
    """
    members = defaultdict(list)
    for offer in m.problem.classes:
        if offer.community_id is not None:
            members[offer.community_id].append(offer.id)
    if len(members) < 2:
        return NO_PENALTY
    total = sum(len(ids) for ids in members.values())
    placed_of = {k: LinearExpr.sum([m.placed[c] for c in ids if c in m.placed]) for k, ids in members.items()}
    overall = LinearExpr.sum(list(placed_of.values()))
    deviations = []
    for community, ids in sorted(members.items()):
        n = len(ids)
        deviation = m.model.new_int_var(0, 100, f"fairness[{community}]")
        m.model.add(total * n * deviation >= 100 * (total * placed_of[community] - n * overall))
        m.model.add(total * n * deviation >= 100 * (n * overall - total * placed_of[community]))
        deviations.append(deviation)
    return PenaltyTerm(LinearExpr.sum(deviations), 100 * len(members))


def short_weekdays_penalty(m: AllocationModel) -> PenaltyTerm:
    """``on_day[c, d]`` may be 1 only if a session of ``c`` is on ``d``; short ≥ min × placed − Σ on_day."""
    starts_on = defaultdict(lambda: defaultdict(list))
    for candidates, option, key in m.sessions():
        if candidates.offer.min_weekdays:
            starts_on[key[0]][option.weekday].append(m.start[key])
    shorts, bound = [], 0
    for class_id, by_day in starts_on.items():
        wanted = m.candidates[class_id].offer.min_weekdays
        on_day = []
        for variables in by_day.values():
            day = m.model.new_bool_var("")
            m.model.add_bool_or(variables).only_enforce_if(day)
            on_day.append(day)
        short = m.model.new_int_var(0, wanted, f"short_weekdays[{class_id}]")
        m.model.add(short >= wanted * m.placed[class_id] - LinearExpr.sum(on_day))
        shorts.append(short)
        bound += wanted
    return PenaltyTerm(LinearExpr.sum(shorts), bound) if shorts else NO_PENALTY


def isolated_session_penalty(m: AllocationModel) -> PenaltyTerm:
    """Per cohort, day, start and length: the sessions starting there, less the cohort's sessions
    ending at that start or starting at its end. Cohort sessions never overlap, so each side
    holds at most one and the difference is 1 exactly for an isolated session."""
    starting, ending = defaultdict(list), defaultdict(list)
    for candidates, option, key in m.sessions():
        length = candidates.offer.length_units
        for cohort in candidates.offer.cohorts:
            starting[cohort, option.weekday, option.start_unit, length].append(m.start[key])
            ending[cohort, option.weekday, option.start_unit + length].append(m.start[key])
    starts_at = defaultdict(list)
    for (cohort, weekday, start, _), variables in starting.items():
        starts_at[cohort, weekday, start].extend(variables)
    isolated = []
    for (cohort, weekday, start, length), variables in starting.items():
        neighbours = ending[cohort, weekday, start] + starts_at[cohort, weekday, start + length]
        lone = m.model.new_bool_var("")
        m.model.add(lone >= LinearExpr.sum(variables) - LinearExpr.sum(neighbours))
        isolated.append(lone)
    return PenaltyTerm(LinearExpr.sum(isolated), len(isolated)) if isolated else NO_PENALTY


def over_capacity_penalty(m: AllocationModel) -> PenaltyTerm:
    """Learners without a seat; in a model without spaces, the capacity counts' excess sessions,
    each at the learners it leaves standing at least (``time_first.add_space_counts``)."""
    variables, seats = [var for var, _ in m.overbooked], [standing for _, standing in m.overbooked]
    bound = sum(standing * (var.proto.domain[-1]) for var, standing in m.overbooked)
    for class_id, candidates in m.candidates.items():
        worst = 0
        for option in candidates.options:
            for space_id, var in m.space[class_id, option.weekday, option.start_unit].items():
                missing = learners_without_seat(m.problem.space_by_id[space_id], candidates.offer)
                if missing:
                    variables.append(var)
                    seats.append(missing)
                    worst = max(worst, missing)
        bound += worst * candidates.offer.sessions_per_week
    return PenaltyTerm(LinearExpr.weighted_sum(variables, seats), bound) if variables else NO_PENALTY


SOFT_TERMS = {
    "travel": travel_penalty,
    "same_space": same_space_penalty,
    "cohort_compactness": cohort_gap_penalty,
    "teacher_balance": teacher_balance_penalty,
    "fairness": fairness_penalty,
    "skipped_weeks": skipped_weeks_penalty,
    "short_weekdays": short_weekdays_penalty,
    "isolated_sessions": isolated_session_penalty,
    "over_capacity": over_capacity_penalty,
}


def set_objective(m: AllocationModel) -> int:
    """Minimise unplaced classes first, then the weighted soft terms; returns the placement weight."""
    weighted, penalty_bound = [], 0
    for name, term_of in SOFT_TERMS.items():
        weight = getattr(m.problem.weights, name)
        if weight:
            term = term_of(m)
            weighted.append(weight * term.expression)
            penalty_bound += weight * term.upper_bound
    placement_weight = penalty_bound + 1
    m.model.minimize(placement_weight * unplaced_units(m.problem, m.placed) + LinearExpr.sum(weighted))
    return placement_weight


def placement_units(problem: Problem) -> dict[int, int]:
    """What leaving each class out costs, in placement weights: 1, or for a class with locks more
    than all the others together — staff asked to keep it, so it goes last."""
    locked = {lock.class_id for lock in problem.locks}
    return {offer.id: len(problem.classes) + 1 if offer.id in locked else 1 for offer in problem.classes}


def unplaced_units(problem: Problem, placed: Mapping[int, cp_model.IntVar]) -> cp_model.LinearExprT:
    """Σ placement units of the classes left out; classes without a variable are always out."""
    units = placement_units(problem)
    return sum(units.values()) - LinearExpr.weighted_sum(list(placed.values()), [units[c] for c in placed])


def units_left_out(problem: Problem, placed_ids: Iterable[int]) -> int:
    placed_ids = set(placed_ids)
    return sum(units for class_id, units in placement_units(problem).items() if class_id not in placed_ids)


def placed_at_most(problem: Problem, units_left_out_at_least: int) -> int:
    """Classes a plan can place when at least this many placement units must be left out."""
    heaviest = max(placement_units(problem).values(), default=1)
    return len(problem.classes) - -(-max(0, units_left_out_at_least) // heaviest)
