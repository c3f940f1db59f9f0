"""The soft penalties of a plan, computed from the problem and the assignments alone.

Independent of the model: tests compare it with the solver's objective, and the benchmark
prints it to show what a plan costs and why.
"""

from collections import defaultdict
from collections.abc import Iterable

from .problem import Assignment, Problem
from .rules import learner_travel_km, learners_without_seat


def penalties(problem: Problem, assignments: Iterable[Assignment]) -> dict[str, int]:
    """Unweighted soft terms, named like the fields of ``Weights``."""
    assignments = tuple(assignments)
    return {
        "travel": sum(
            learner_travel_km(problem, problem.class_by_id[a.class_id], problem.space_by_id[a.space_id].venue_id)
            for a in assignments
        ),
        "same_space": _extra_spaces(assignments),
        "cohort_compactness": _cohort_idle_units(problem, assignments),
        "teacher_balance": _heaviest_load(problem, assignments),
        "fairness": _share_gaps(problem, assignments),
        "skipped_weeks": sum(len(a.skipped_weeks) for a in assignments),
        "short_weekdays": _weekdays_short(problem, assignments),
        "isolated_sessions": _isolated_sessions(problem, assignments),
        "over_capacity": sum(
            learners_without_seat(problem.space_by_id[a.space_id], problem.class_by_id[a.class_id]) for a in assignments
        ),
    }


def weighted_total(problem: Problem, terms: dict[str, int]) -> int:
    return sum(getattr(problem.weights, name) * value for name, value in terms.items())


def _extra_spaces(assignments: tuple[Assignment, ...]) -> int:
    spaces = defaultdict(set)
    for a in assignments:
        spaces[a.class_id].add(a.space_id)
    return sum(len(used) - 1 for used in spaces.values())


def _cohort_idle_units(problem: Problem, assignments: tuple[Assignment, ...]) -> int:
    covered = defaultdict(set)
    for a in assignments:
        offer = problem.class_by_id[a.class_id]
        for cohort in offer.cohorts:
            covered[cohort, a.weekday].update(range(a.start_unit, a.start_unit + offer.length_units))
    return sum(max(units) - min(units) + 1 - len(units) for units in covered.values())


def _weekdays_short(problem: Problem, assignments: tuple[Assignment, ...]) -> int:
    days = defaultdict(set)
    for a in assignments:
        days[a.class_id].add(a.weekday)
    return sum(max(0, (problem.class_by_id[c].min_weekdays or 0) - len(used)) for c, used in days.items())


def _isolated_sessions(problem: Problem, assignments: tuple[Assignment, ...]) -> int:
    """Per cohort, sessions with no session of the cohort ending at their start or starting at their end."""
    spans = defaultdict(list)
    for a in assignments:
        offer = problem.class_by_id[a.class_id]
        for cohort in offer.cohorts:
            spans[cohort, a.weekday].append((a.start_unit, a.start_unit + offer.length_units))
    isolated = 0
    for day in spans.values():
        starts, ends = {start for start, _ in day}, {end for _, end in day}
        isolated += sum(start not in ends and end not in starts for start, end in day)
    return isolated


def _heaviest_load(problem: Problem, assignments: tuple[Assignment, ...]) -> int:
    load = defaultdict(int)
    for a in assignments:
        load[a.teacher_id] += problem.class_by_id[a.class_id].length_units
    return max(load.values(), default=0)


def _share_gaps(problem: Problem, assignments: tuple[Assignment, ...]) -> int:
    placed = {a.class_id for a in assignments}
    members = defaultdict(list)
    for offer in problem.classes:
        if offer.community_id is not None:
            members[offer.community_id].append(offer.id)
    if len(members) < 2:
        return 0
    total = sum(len(ids) for ids in members.values())
    overall = sum(1 for ids in members.values() for c in ids if c in placed)
    gaps = 0
    for ids in members.values():
        n, mine = len(ids), sum(1 for c in ids if c in placed)
        gaps += -(-100 * abs(total * mine - n * overall) // (total * n))
    return gaps


def soft_upper_bound(problem: Problem) -> int:
    """More than the weighted soft penalty of any plan can be (each term bounded from the problem
    alone): ``1 +`` this is a placement weight that puts one more placed class above all soft terms."""
    sessions = sum(offer.sessions_per_week for offer in problem.classes)
    farthest = (
        problem.max_travel_km if problem.max_travel_km is not None else max(problem.travel_km.values(), default=0)
    )
    cohorts = {cohort for offer in problem.classes for cohort in offer.cohorts}
    communities = {offer.community_id for offer in problem.classes if offer.community_id is not None}
    bounds = {
        "travel": sessions * (round(farthest) + 1),
        "same_space": sessions,
        "cohort_compactness": len(cohorts) * 7 * problem.units_per_day,
        "teacher_balance": max((t.max_minutes_per_week for t in problem.teachers), default=0) // problem.grid_minutes,
        "fairness": 100 * len(communities),
        "skipped_weeks": sessions * problem.weeks,
        "short_weekdays": sum(offer.min_weekdays or 0 for offer in problem.classes),
        "isolated_sessions": sessions,
        "over_capacity": sum(offer.sessions_per_week * offer.learners for offer in problem.classes),
    }
    return weighted_total(problem, bounds)
