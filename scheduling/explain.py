"""Why a class is not in the plan, from the problem and the sessions already placed.

Checked in order, each stage only when the previous ones pass:

1. ``no_space_fits`` — no space has the capacity, features and kind;
   ``no_qualified_teacher`` — nobody has the skill (or the fixed teacher is missing), or their
   weekly minutes cannot hold the class's sessions;
2. ``no_common_time`` — no allowed start where a fitting space is open (and not blocked too
   often) and a qualified teacher is available (after forbids);
3. ``not_enough_days`` — such starts exist on fewer weekdays than the class has sessions;
4. ``lock_infeasible`` — the class's locks cannot hold (they are placed first when any other
   reason applies to a locked class);
5. ``conflicts`` — every way to place the sessions collides with placed classes (named in the
   detail) through a space, a teacher, a cohort, a teacher's travel or weekly minutes;
6. ``not_found_in_time`` — the class would fit around the plan as it stands: the search stopped
   before finding it.
"""

from collections.abc import Iterable, Mapping

from .candidates import ClassCandidates, class_candidates, lock_problems
from .placement import Occupancy, place_class
from .problem import Assignment, ClassOffer, Problem, Unplaced
from .rules import session_minutes

NOT_FOUND_IN_TIME = "not_found_in_time"


def explain(problem: Problem, class_id: int, placed_assignments: Iterable[Assignment]) -> Unplaced:
    """The reasons (codes in ``Unplaced.reasons``, words in ``Unplaced.detail``) the class is unplaced."""
    others = [a for a in placed_assignments if a.class_id != class_id]
    candidates = class_candidates(problem, problem.class_by_id[class_id])
    return _explained(problem, candidates, Occupancy.of(problem, others))


def explain_unplaced(
    problem: Problem,
    assignments: tuple[Assignment, ...],
    candidates: Mapping[int, ClassCandidates] | None = None,
    *,
    considered: set[int] | None = None,
) -> tuple[Unplaced, ...]:
    """Every class without assignments, explained around the same plan (``candidates``, where
    known, spare computing them again). Classes outside ``considered`` (default: all) were not
    looked at before the time limit: ``not_found_in_time``, without looking now."""
    placed = {a.class_id for a in assignments}
    occupancy = Occupancy.of(problem, assignments)
    known = candidates or {}
    return tuple(
        _explained(problem, known.get(offer.id) or class_candidates(problem, offer), occupancy)
        if considered is None or offer.id in considered
        else Unplaced(
            offer.id, (NOT_FOUND_IN_TIME,), f"{NOT_FOUND_IN_TIME}: the time limit ended before it was considered"
        )
        for offer in problem.classes
        if offer.id not in placed
    )


def _explained(problem: Problem, candidates: ClassCandidates, occupancy: Occupancy) -> Unplaced:
    class_id = candidates.offer.id
    locked = bool(problem.locks_of(class_id))
    static = _static_reasons(problem, candidates)
    if static:
        return _unplaced(class_id, locked, static)
    if locked and (problems := lock_problems(problem, candidates)):
        return _unplaced(class_id, True, [("lock_infeasible", "; ".join(problems))])
    placement, blocking = place_class(problem, candidates, occupancy)
    if placement is not None:
        reason = (NOT_FOUND_IN_TIME, "it fits around the current plan; the search stopped before placing it")
    elif blocking:
        names = ", ".join(str(c) for c in sorted(blocking))
        reason = ("conflicts", f"every placement collides with placed classes {names}")
    else:
        reason = ("no_qualified_teacher", "no choice of distinct days keeps its teachers within their weekly minutes")
    return _unplaced(class_id, locked, [reason])


def _static_reasons(problem: Problem, candidates: ClassCandidates) -> list[tuple[str, str]]:
    offer = candidates.offer
    reasons = []
    if not candidates.fitting_spaces:
        reasons.append(("no_space_fits", f"no space {_space_needs(problem, offer)}"))
    if not candidates.qualified_teachers:
        reasons.append(("no_qualified_teacher", f"no teacher {_teacher_needs(problem, offer)}"))
    elif _sessions_teachers_can_hold(problem, candidates) < offer.sessions_per_week:
        reasons.append(("no_qualified_teacher", "qualified teachers' weekly minutes cannot hold every session"))
    if reasons:
        return reasons
    if not candidates.options:
        after_forbids = " (after forbids)" if problem.forbids_of(offer.id) else ""
        detail = f"no allowed start with a fitting open space and an available qualified teacher{after_forbids}"
        return [("no_common_time", detail)]
    days = len(candidates.weekdays)
    if days < offer.sessions_per_week and offer.min_weekdays is None:
        detail = f"usable starts fall on {days} weekday(s); {offer.sessions_per_week} sessions need distinct weekdays"
        return [("not_enough_days", detail)]
    return []


def _sessions_teachers_can_hold(problem: Problem, candidates: ClassCandidates) -> int:
    minutes = session_minutes(problem, candidates.offer)
    weekly = (problem.teacher_by_id[t].max_minutes_per_week // minutes for t in candidates.qualified_teachers)
    return sum(min(sessions, candidates.offer.sessions_per_week) for sessions in weekly)


def _space_needs(problem: Problem, offer: ClassOffer) -> str:
    needs = [f"seats {offer.learners}"]
    if offer.required_features:
        needs.append("has " + ", ".join(sorted(offer.required_features)))
    if offer.allowed_kinds:
        needs.append("is a " + " or ".join(sorted(offer.allowed_kinds)))
    if problem.max_travel_km is not None and offer.preferred_region_ids:
        needs.append(f"is within {problem.max_travel_km} km of its preferred regions")
    return " and ".join(needs)


def _teacher_needs(problem: Problem, offer: ClassOffer) -> str:
    who = f"is teacher {offer.fixed_teacher_id}" if offer.fixed_teacher_id is not None else None
    if who is None:
        who = f"has skill {offer.required_skill}" if offer.required_skill else "exists"
    return f"{who} with {offer.length_units * problem.grid_minutes} weekly minutes to spare"


def _unplaced(class_id: int, locked: bool, reasons: list[tuple[str, str]]) -> Unplaced:
    if locked and reasons[0][0] != "lock_infeasible":
        reasons = [("lock_infeasible", "its locked sessions cannot be kept"), *reasons]
    return Unplaced(
        class_id=class_id,
        reasons=tuple(code for code, _ in reasons),
        detail="; ".join(f"{code}: {detail}" for code, detail in reasons),
    )
