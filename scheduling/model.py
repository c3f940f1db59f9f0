"""The CP-SAT model of a term: variables over the candidate choices and one function per hard rule.

Variables (all boolean), for every class the static filter leaves placeable:

- ``placed[c]``: the class is placed (entirely, or not at all);
- ``start[c, d, s]``: a session of ``c`` starts at unit ``s`` of weekday ``d``;
- ``space[c, d, s][sp]``: that session is in space ``sp``;
- ``teacher[c, d, s][t, v]``: that session is taught by ``t`` at venue ``v``. Carrying the venue
  on the teacher's variable makes a teacher's travel between venues a plain at-most-one over
  these variables, with no auxiliary "teacher is at venue" indicators to link.

Sessions of a class are interchangeable and never overlap, so a session is named by its weekday
and start rather than by an index: this is the session-order symmetry breaking taken to its
end (no two orderings of the same timetable exist in the model). Session indexes are given
when the solution is read (locked sessions keep theirs, the rest follow weekday order).

Where each hard rule lives:

- decided per session before the model exists (choices that break them are never created, see
  ``candidates.class_candidates``): capacity, features, kind, ``max_travel_km``; skill or fixed
  teacher; teacher available; space open; blocked share; allowed units; forbids naming a space
  or a teacher alone; locks that can never hold (``candidates.lock_problems``);
- ``add_sessions_complete``: all sessions or none, one space and one teacher each;
- ``add_distinct_weekdays``: sessions of a class on different weekdays (unless it has
  ``min_weekdays``, then ``add_class_no_overlap``: its sessions never overlap);
- ``add_room_no_overlap``: no two sessions share a leaf space at a time;
- ``add_teacher_no_overlap``: a teacher teaches one session at a time;
- ``add_cohort_no_overlap``: classes sharing a cohort never overlap;
- ``add_teacher_weekly_minutes``: a teacher's weekly minutes;
- ``add_teacher_refused_venues``: a teacher is never at a refused venue;
- ``add_forbidden_space_teacher_pairs``: forbids naming a space and a teacher;
- ``add_teacher_travel``: a teacher's travel between venues on one day;
- ``add_locks``: locked sessions kept exactly.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .candidates import ClassCandidates, SessionOption, class_candidates, lock_problems
from .problem import Problem
from .rules import session_minutes, teacher_travel_minutes

SessionKey = tuple[int, int, int]
"""(class id, weekday, start unit)."""
TeacherVenue = tuple[int, int]
"""(teacher id, venue id)."""

LinearExpr = cp_model.LinearExpr


@dataclass
class AllocationModel:
    problem: Problem
    candidates: dict[int, ClassCandidates]
    """Classes the model may place (the others are unplaced whatever happens)."""
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    placed: dict[int, cp_model.IntVar] = field(default_factory=dict)
    start: dict[SessionKey, cp_model.IntVar] = field(default_factory=dict)
    space: dict[SessionKey, dict[int, cp_model.IntVar]] = field(default_factory=dict)
    teacher: dict[SessionKey, dict[TeacherVenue, cp_model.IntVar]] = field(default_factory=dict)
    overbooked: list[tuple[cp_model.IntVar, int]] = field(default_factory=list)
    """Sessions over a capacity count where spaces are left out, and the learners each leaves
    standing at least (``scheduling.time_first``)."""
    away_from_home: list[cp_model.IntVar] = field(default_factory=list)
    """Sessions that find their class's home space taken where spaces are left out (``scheduling.time_first``)."""

    def sessions(self) -> Iterator[tuple[ClassCandidates, SessionOption, SessionKey]]:
        for class_id, candidates in self.candidates.items():
            for option in candidates.options:
                yield candidates, option, (class_id, option.weekday, option.start_unit)

    def venue_of(self, space_id: int) -> int:
        return self.problem.space_by_id[space_id].venue_id


def build_model(
    problem: Problem,
    narrow: Callable[[ClassCandidates], ClassCandidates] | None = None,
    candidates: dict[int, ClassCandidates] | None = None,
) -> AllocationModel:
    """``narrow`` may cut each class's choices down first (``scheduling.time_first`` fixes times);
    ``candidates`` (default: every class's) are the classes and choices the model is built over."""
    if candidates is None:
        candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
    if narrow is not None:
        candidates = {c: narrow(cand) for c, cand in candidates.items()}
    m = AllocationModel(problem, {c: cand for c, cand in candidates.items() if placeable_alone(problem, cand)})
    _add_variables(m)
    for add_rule in HARD_RULES:
        add_rule(m)
    return m


def placeable_alone(problem: Problem, candidates: ClassCandidates) -> bool:
    """Whether the class could be placed in an otherwise empty plan, as far as single sessions tell."""
    offer = candidates.offer
    slots = len(candidates.weekdays) if offer.min_weekdays is None else len(candidates.options)
    return slots >= offer.sessions_per_week and not lock_problems(problem, candidates)


def _add_variables(m: AllocationModel) -> None:
    new = m.model.new_bool_var
    for class_id in m.candidates:
        m.placed[class_id] = new(f"placed[{class_id}]")
    for _, option, key in m.sessions():
        m.start[key] = new("")
        m.space[key] = {space_id: new("") for space_id in option.spaces}
        m.teacher[key] = {(t, v): new("") for t in option.teachers for v in option.spaces_at_venue}


def add_sessions_complete(m: AllocationModel) -> None:
    """A placed class has all its sessions, each with exactly one space and one teacher (at that
    space's venue); an unplaced class has none."""
    sessions_of = defaultdict(list)
    for _, option, key in m.sessions():
        sessions_of[key[0]].append(m.start[key])
        m.model.add(LinearExpr.sum(list(m.space[key].values())) == m.start[key])
        teachers_at = defaultdict(list)
        for (_, venue), var in m.teacher[key].items():
            teachers_at[venue].append(var)
        for venue, spaces in option.spaces_at_venue.items():
            in_venue = LinearExpr.sum([m.space[key][sp] for sp in spaces])
            m.model.add(LinearExpr.sum(teachers_at[venue]) == in_venue)
    for class_id, candidates in m.candidates.items():
        k = candidates.offer.sessions_per_week
        m.model.add(LinearExpr.sum(sessions_of[class_id]) == k * m.placed[class_id])


def add_distinct_weekdays(m: AllocationModel) -> None:
    """At most one session of a class per weekday (classes whose sessions may share a day aside)."""
    starts_on = defaultdict(list)
    for candidates, _, key in m.sessions():
        if candidates.offer.min_weekdays is None:
            starts_on[key[:2]].append(m.start[key])
    _at_most_one_each(m, starts_on)


def add_class_no_overlap(m: AllocationModel) -> None:
    """Sessions of a class that may share a weekday never overlap each other."""
    _no_overlap(
        m,
        (
            (("class", key[0]), option.weekday, _units(candidates, option), m.start[key])
            for candidates, option, key in m.sessions()
            if candidates.offer.min_weekdays is not None and candidates.offer.length_units > 1
        ),
    )


def add_room_no_overlap(m: AllocationModel) -> None:
    """At most one session holds a leaf space at any unit (a divisible hall holds all its leaves)."""
    _no_overlap(
        m,
        (
            (leaf, option.weekday, _units(candidates, option), var)
            for candidates, option, key in m.sessions()
            for space_id, var in m.space[key].items()
            for leaf in m.problem.space_by_id[space_id].occupied_leaves
        ),
    )


def add_teacher_no_overlap(m: AllocationModel) -> None:
    _no_overlap(
        m,
        (
            (teacher_id, option.weekday, _units(candidates, option), var)
            for candidates, option, key in m.sessions()
            for (teacher_id, _), var in m.teacher[key].items()
        ),
    )


def add_cohort_no_overlap(m: AllocationModel) -> None:
    """Classes sharing a cohort share learners: their sessions never overlap."""
    _no_overlap(
        m,
        (
            (cohort, option.weekday, _units(candidates, option), m.start[key])
            for candidates, option, key in m.sessions()
            for cohort in candidates.offer.cohorts
        ),
    )


def add_teacher_weekly_minutes(m: AllocationModel) -> None:
    """Only for teachers whose candidate sessions could exceed their weekly minutes at all."""
    most = defaultdict(int)
    for candidates in m.candidates.values():
        for teacher_id in candidates.qualified_teachers:
            most[teacher_id] += session_minutes(m.problem, candidates.offer) * candidates.offer.sessions_per_week
    variables, minutes = defaultdict(list), defaultdict(list)
    for candidates, _, key in m.sessions():
        for (teacher_id, _), var in m.teacher[key].items():
            variables[teacher_id].append(var)
            minutes[teacher_id].append(session_minutes(m.problem, candidates.offer))
    for teacher_id, teaching in variables.items():
        limit = m.problem.teacher_by_id[teacher_id].max_minutes_per_week
        if most[teacher_id] > limit:
            m.model.add(LinearExpr.weighted_sum(teaching, minutes[teacher_id]) <= limit)


def add_teacher_refused_venues(m: AllocationModel) -> None:
    for _, _, key in m.sessions():
        for (teacher_id, venue), var in m.teacher[key].items():
            if venue in m.problem.teacher_by_id[teacher_id].refused_venue_ids:
                m.model.add(var == 0)


def add_forbidden_space_teacher_pairs(m: AllocationModel) -> None:
    for _, option, key in m.sessions():
        for space_id, teacher_id in option.forbidden:
            teaching = m.teacher[key][teacher_id, m.venue_of(space_id)]
            m.model.add_bool_or([~teaching, ~m.space[key][space_id]])


def add_teacher_travel(m: AllocationModel) -> None:
    """A teacher's sessions on one day at different venues leave at least the travel time between
    the end of one and the start of the other (every such pair, in either order; the same as
    consecutive pairs when travel times obey the triangle inequality).

    For each teacher and day, the sessions ending at unit ``e`` at venue ``v1`` and those
    starting at ``s`` at a venue ``v2`` too far to reach in ``s - e`` units form one
    at-most-one: the teacher can do at most one of them.
    """
    trip_units = _trip_units(m.problem)
    if not trip_units:
        return
    ends, starts = defaultdict(list), defaultdict(lambda: defaultdict(list))
    for candidates, option, key in m.sessions():
        end = option.start_unit + candidates.offer.length_units
        for (teacher_id, venue), var in m.teacher[key].items():
            ends[teacher_id, option.weekday, end, venue].append(var)
            starts[teacher_id, option.weekday, option.start_unit][venue].append(var)
    longest = defaultdict(int)
    for (a, _), units in trip_units.items():
        longest[a] = max(longest[a], units)
    for (teacher_id, weekday, end, venue), ending in ends.items():
        for gap in range(longest[venue]):
            starting = starts.get((teacher_id, weekday, end + gap), {})
            far = [var for other, vars_ in starting.items() if trip_units.get((venue, other), 0) > gap for var in vars_]
            if far:
                m.model.add_at_most_one(ending + far)


def _trip_units(problem: Problem) -> dict[tuple[int, int], int]:
    """(from venue, to venue) -> whole grid units a teacher's trip needs (only trips that need any).

    A gap of ``g`` units between two sessions is too short exactly when ``g`` is below this.
    """
    trips = {}
    for a, b in problem.venue_travel_minutes:
        for pair in ((a, b), (b, a)):
            minutes = teacher_travel_minutes(problem, *pair)
            if minutes > 0:
                trips[pair] = math.ceil(minutes / problem.grid_minutes)
    return trips


def add_locks(m: AllocationModel) -> None:
    """A locked session, if its class is placed, is exactly where the lock says."""
    for lock in m.problem.locks:
        if lock.class_id not in m.candidates:
            continue
        key = (lock.class_id, lock.weekday, lock.start_unit)
        placed = m.placed[lock.class_id]
        m.model.add(m.space[key][lock.space_id] == placed)
        m.model.add(m.teacher[key][lock.teacher_id, m.venue_of(lock.space_id)] == placed)


def _units(candidates: ClassCandidates, option: SessionOption) -> range:
    return range(option.start_unit, option.start_unit + candidates.offer.length_units)


def _at_most_one_each(m: AllocationModel, groups: dict) -> None:
    for variables in groups.values():
        if len(variables) > 1:
            m.model.add_at_most_one(variables)


def _no_overlap(m: AllocationModel, uses: Iterator[tuple[object, int, range, cp_model.IntVar]]) -> None:
    """At most one of the sessions using a resource (a leaf, a teacher, a cohort) covers any unit.

    Sessions on one day are intervals, so every set of pairwise-overlapping ones shares the
    latest start among them: one at-most-one per unit where some session starts is enough.
    """
    holders, starts = defaultdict(list), set()
    for resource, weekday, units, var in uses:
        starts.add((resource, weekday, units.start))
        for unit in units:
            holders[resource, weekday, unit].append(var)
    _at_most_one_each(m, {key: holders[key] for key in starts})


HARD_RULES = (
    add_sessions_complete,
    add_distinct_weekdays,
    add_class_no_overlap,
    add_room_no_overlap,
    add_teacher_no_overlap,
    add_cohort_no_overlap,
    add_teacher_weekly_minutes,
    add_teacher_refused_venues,
    add_forbidden_space_teacher_pairs,
    add_teacher_travel,
    add_locks,
)
