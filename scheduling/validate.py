"""Check a solution against the problem alone: every hard rule, whoever produced the plan.

Single-session rules read the same predicates as the candidate filter (``scheduling.rules``);
everything that relates sessions to each other (completeness, weekdays, overlaps, travel,
weekly minutes, locks) is checked here from the assignments, independently of the model.
"""

from collections import Counter, defaultdict
from collections.abc import Iterator
from itertools import combinations

from .problem import Assignment, Problem, Solution, Violation
from .rules import (
    all_within,
    blocked_too_often,
    blocked_weeks,
    fits_in_day,
    session_minutes,
    session_units,
    space_misfits,
    teacher_is_qualified,
    teacher_travel_minutes,
)


def validate(problem: Problem, solution: Solution) -> list[Violation]:
    known = [a for a in solution.assignments if _references_known(problem, a)]
    violations = list(_unknown_references(problem, solution.assignments))
    for check in (_every_class_reported, _classes_complete):
        violations.extend(check(problem, solution))
    for a in known:
        violations.extend(_session_rules(problem, a))
    for check in (
        _distinct_weekdays,
        _no_class_overlap,
        _no_space_overlap,
        _no_teacher_overlap,
        _no_cohort_overlap,
        _teacher_travel,
        _teacher_weekly_minutes,
        _locks_kept,
    ):
        violations.extend(check(problem, known, solution))
    return violations


def _references_known(problem: Problem, a: Assignment) -> bool:
    return (
        a.class_id in problem.class_by_id
        and a.space_id in problem.space_by_id
        and a.teacher_id in problem.teacher_by_id
    )


def _unknown_references(problem: Problem, assignments: tuple[Assignment, ...]) -> Iterator[Violation]:
    for a in assignments:
        if not _references_known(problem, a):
            yield Violation("unknown_reference", a.class_id, f"{a} names a class, space or teacher not in the problem")


def _every_class_reported(problem: Problem, solution: Solution) -> Iterator[Violation]:
    placed = {a.class_id for a in solution.assignments}
    unplaced = Counter(u.class_id for u in solution.unplaced)
    for offer in problem.classes:
        if offer.id in placed and offer.id in unplaced:
            yield Violation("placed_and_unplaced", offer.id, "the class is both placed and reported unplaced")
        elif offer.id not in placed and not unplaced[offer.id]:
            yield Violation("class_missing", offer.id, "the class is neither placed nor reported unplaced")
        if unplaced[offer.id] > 1:
            yield Violation("class_missing", offer.id, "the class is reported unplaced more than once")
    for u in solution.unplaced:
        if not u.reasons:
            yield Violation("unplaced_without_reason", u.class_id, "an unplaced class needs a reason")
        elif problem.locks_of(u.class_id) and u.reasons[0] != "lock_infeasible":
            yield Violation("lock_reason_missing", u.class_id, "an unplaced locked class must say lock_infeasible")
    if solution.placed_count != len(placed):
        yield Violation("placed_count", None, f"placed_count {solution.placed_count} but {len(placed)} classes placed")


def _classes_complete(problem: Problem, solution: Solution) -> Iterator[Violation]:
    indexes = defaultdict(list)
    for a in solution.assignments:
        indexes[a.class_id].append(a.session_index)
    for class_id, found in indexes.items():
        offer = problem.class_by_id.get(class_id)
        if offer is not None and sorted(found) != list(range(offer.sessions_per_week)):
            detail = f"sessions {sorted(found)}, expected 0..{offer.sessions_per_week - 1} once each"
            yield Violation("incomplete_class", class_id, detail)


def _session_rules(problem: Problem, a: Assignment) -> Iterator[Violation]:
    """Everything one session must satisfy on its own."""
    offer = problem.class_by_id[a.class_id]
    space, teacher = problem.space_by_id[a.space_id], problem.teacher_by_id[a.teacher_id]
    where = f"session {a.session_index} (day {a.weekday}, unit {a.start_unit})"

    def broken(code: str, why: str) -> Violation:
        return Violation(code, a.class_id, f"{where}: {why}")

    if not (0 <= a.weekday < 7 and fits_in_day(problem, a.start_unit, offer.length_units)):
        yield broken("outside_week_grid", "the session does not fit in the day")
        return
    units = session_units(a.weekday, a.start_unit, offer.length_units)
    for misfit in space_misfits(problem, space, offer):
        yield broken(f"space_{misfit}", f"space {space.id} fails {misfit}")
    if not teacher_is_qualified(problem, teacher, offer):
        yield broken("teacher_not_qualified", f"teacher {teacher.id} cannot teach this class")
    if not all_within(units, teacher.available_units):
        yield broken("teacher_unavailable", f"teacher {teacher.id} is not available")
    if space.venue_id in teacher.refused_venue_ids:
        yield broken("teacher_refuses_venue", f"teacher {teacher.id} refuses venue {space.venue_id}")
    if not all_within(units, space.open_units):
        yield broken("space_closed", f"space {space.id} is not open")
    weeks = blocked_weeks(space, units)
    if blocked_too_often(problem, weeks):
        yield broken("space_blocked", f"space {space.id} is blocked in {len(weeks)} of {problem.weeks} weeks")
    if tuple(sorted(weeks)) != tuple(sorted(a.skipped_weeks)):
        yield broken("skipped_weeks_mismatch", f"skipped {sorted(a.skipped_weeks)}, blocked {sorted(weeks)}")
    if not all_within(units, offer.allowed_units):
        yield broken("outside_allowed_units", "the class is not allowed at these units")
    for forbid in problem.forbids_of(a.class_id):
        if forbid.matches(a.class_id, a.weekday, a.start_unit, a.space_id, a.teacher_id):
            yield broken("forbidden", f"matches {forbid}")


def _distinct_weekdays(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    days = Counter((a.class_id, a.weekday) for a in known if problem.class_by_id[a.class_id].min_weekdays is None)
    for (class_id, weekday), count in sorted(days.items()):
        if count > 1:
            yield Violation("same_weekday", class_id, f"{count} sessions on weekday {weekday}")


def _no_class_overlap(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    for a, b, span_a, span_b in _same_day_pairs(problem, known):
        if a.class_id == b.class_id and _overlap(span_a, span_b):
            detail = f"sessions {a.session_index} and {b.session_index} overlap on day {a.weekday}"
            yield Violation("class_overlap", a.class_id, detail)


def _same_day_pairs(problem: Problem, known: list[Assignment]) -> Iterator[tuple[Assignment, Assignment, range, range]]:
    by_day = defaultdict(list)
    for a in known:
        by_day[a.weekday].append(a)
    for sessions in by_day.values():
        for a, b in combinations(sessions, 2):
            yield a, b, _span(problem, a), _span(problem, b)


def _span(problem: Problem, a: Assignment) -> range:
    return range(a.start_unit, a.start_unit + problem.class_by_id[a.class_id].length_units)


def _overlap(x: range, y: range) -> bool:
    return x.start < y.stop and y.start < x.stop


def _no_space_overlap(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    for a, b, span_a, span_b in _same_day_pairs(problem, known):
        leaves_a = problem.space_by_id[a.space_id].occupied_leaves
        if _overlap(span_a, span_b) and leaves_a & problem.space_by_id[b.space_id].occupied_leaves:
            detail = f"spaces {a.space_id} and {b.space_id} share a leaf with class {b.class_id} on day {a.weekday}"
            yield Violation("space_overlap", a.class_id, detail)


def _no_teacher_overlap(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    for a, b, span_a, span_b in _same_day_pairs(problem, known):
        if a.teacher_id == b.teacher_id and _overlap(span_a, span_b):
            detail = f"teacher {a.teacher_id} also teaches class {b.class_id} then (day {a.weekday})"
            yield Violation("teacher_overlap", a.class_id, detail)


def _no_cohort_overlap(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    for a, b, span_a, span_b in _same_day_pairs(problem, known):
        shared = problem.class_by_id[a.class_id].cohorts & problem.class_by_id[b.class_id].cohorts
        if shared and a.class_id != b.class_id and _overlap(span_a, span_b):
            detail = f"cohort {sorted(shared)[0]} also attends class {b.class_id} then (day {a.weekday})"
            yield Violation("cohort_overlap", a.class_id, detail)


def _teacher_travel(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    for a, b, span_a, span_b in _same_day_pairs(problem, known):
        if a.teacher_id != b.teacher_id or _overlap(span_a, span_b):
            continue
        first, second = (a, b) if span_a.start < span_b.start else (b, a)
        gap = (_span(problem, second).start - _span(problem, first).stop) * problem.grid_minutes
        from_venue = problem.space_by_id[first.space_id].venue_id
        to_venue = problem.space_by_id[second.space_id].venue_id
        needed = teacher_travel_minutes(problem, from_venue, to_venue)
        if gap < needed:
            detail = f"teacher {a.teacher_id} has {gap} min from venue {from_venue} to {to_venue}, needs {needed}"
            yield Violation("teacher_travel", second.class_id, detail)


def _teacher_weekly_minutes(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    minutes = Counter()
    for a in known:
        minutes[a.teacher_id] += session_minutes(problem, problem.class_by_id[a.class_id])
    for teacher_id, total in sorted(minutes.items()):
        limit = problem.teacher_by_id[teacher_id].max_minutes_per_week
        if total > limit:
            yield Violation("teacher_overloaded", None, f"teacher {teacher_id} teaches {total} min, max {limit}")


def _locks_kept(problem: Problem, known: list[Assignment], _: Solution) -> Iterator[Violation]:
    placed = {(a.class_id, a.session_index): a for a in known}
    placed_classes = {a.class_id for a in known}
    for lock in problem.locks:
        if lock.class_id not in placed_classes:
            continue  # an unplaced locked class is reported with lock_infeasible instead
        a = placed.get((lock.class_id, lock.session_index))
        kept = a is not None and (a.weekday, a.start_unit, a.space_id, a.teacher_id) == (
            lock.weekday,
            lock.start_unit,
            lock.space_id,
            lock.teacher_id,
        )
        if not kept:
            yield Violation("lock_broken", lock.class_id, f"{lock} is not kept")
