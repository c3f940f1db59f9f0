"""Static filtering: the (time, space) and (time, teacher) choices each class may use at all.

Everything that depends on one session alone is decided here, before the model exists:
capacity, features, kind, skill or fixed teacher, teacher availability, opening hours, blocked
share, allowed units, and forbids naming a space or a teacher (not both). What remains is
small enough to enumerate as booleans. Choices that depend on the (space, teacher) pair —
refused venues and forbids naming both — are kept as pairs for the model to exclude.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from .problem import ClassOffer, Forbid, Lock, Problem, Space, Teacher, Unit
from .rules import (
    all_within,
    blocked_too_often,
    blocked_weeks,
    fits_in_day,
    session_units,
    space_misfits,
    teacher_is_qualified,
)

SpaceTeacher = tuple[int, int]


@dataclass(frozen=True)
class SessionOption:
    """One weekly start time of a class with the spaces and teachers usable then."""

    weekday: int
    start_unit: int
    spaces: tuple[int, ...]
    teachers: tuple[int, ...]
    skipped_weeks: Mapping[int, frozenset[int]]
    """space id -> weeks the session would be skipped there."""
    refused: frozenset[SpaceTeacher]
    """(space, teacher) pairs where the teacher refuses the space's venue."""
    forbidden: frozenset[SpaceTeacher]
    """(space, teacher) pairs ruled out by a forbid naming both."""
    spaces_at_venue: Mapping[int, tuple[int, ...]]
    """venue id -> the usable spaces there."""

    def allows(self, space_id: int, teacher_id: int) -> bool:
        pair = (space_id, teacher_id)
        return (
            space_id in self.skipped_weeks
            and teacher_id in self.teachers
            and pair not in self.refused
            and pair not in self.forbidden
        )


@dataclass(frozen=True)
class ClassCandidates:
    offer: ClassOffer
    fitting_spaces: tuple[int, ...]
    qualified_teachers: tuple[int, ...]
    options: tuple[SessionOption, ...]

    @cached_property
    def option_at(self) -> Mapping[tuple[int, int], SessionOption]:
        return {(option.weekday, option.start_unit): option for option in self.options}

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(option.weekday for option in self.options)


def class_candidates(problem: Problem, offer: ClassOffer) -> ClassCandidates:
    fitting = tuple(space for space in problem.spaces if not space_misfits(problem, space, offer))
    qualified = tuple(teacher for teacher in problem.teachers if teacher_is_qualified(problem, teacher, offer))
    forbids = problem.forbids_of(offer.id)
    options = []
    if fitting and qualified:
        for weekday in range(7):
            for start_unit in range(problem.units_per_day - offer.length_units + 1):
                option = _session_option(problem, offer, weekday, start_unit, fitting, qualified, forbids)
                if option is not None:
                    options.append(option)
    return ClassCandidates(
        offer=offer,
        fitting_spaces=tuple(space.id for space in fitting),
        qualified_teachers=tuple(teacher.id for teacher in qualified),
        options=tuple(options),
    )


def _session_option(
    problem: Problem,
    offer: ClassOffer,
    weekday: int,
    start_unit: int,
    fitting: tuple[Space, ...],
    qualified: tuple[Teacher, ...],
    forbids: tuple[Forbid, ...],
) -> SessionOption | None:
    units = session_units(weekday, start_unit, offer.length_units)
    if not all_within(units, offer.allowed_units):
        return None
    timed_forbids = [f for f in forbids if f.weekday in (None, weekday) and f.start_unit in (None, start_unit)]
    if any(f.space_id is None and f.teacher_id is None for f in timed_forbids):
        return None
    skipped = _usable_spaces(problem, units, fitting, timed_forbids)
    teachers = _available_teachers(problem, units, qualified, timed_forbids)
    if not skipped or not teachers:
        return None
    venue_of = problem.space_by_id
    refused = frozenset(
        (space_id, teacher.id)
        for teacher in teachers
        if teacher.refused_venue_ids
        for space_id in skipped
        if venue_of[space_id].venue_id in teacher.refused_venue_ids
    )
    teacher_ids = {teacher.id for teacher in teachers}
    forbidden = frozenset(
        (f.space_id, f.teacher_id) for f in timed_forbids if f.space_id in skipped and f.teacher_id in teacher_ids
    )
    if len(refused | forbidden) == len(skipped) * len(teachers):
        return None
    spaces_at_venue: dict[int, tuple[int, ...]] = {}
    for space_id in skipped:
        venue_id = venue_of[space_id].venue_id
        spaces_at_venue[venue_id] = (*spaces_at_venue.get(venue_id, ()), space_id)
    return SessionOption(
        weekday=weekday,
        start_unit=start_unit,
        spaces=tuple(skipped),
        teachers=tuple(teacher.id for teacher in teachers),
        skipped_weeks=skipped,
        refused=refused,
        forbidden=forbidden,
        spaces_at_venue=spaces_at_venue,
    )


def _usable_spaces(
    problem: Problem, units: tuple[Unit, ...], fitting: tuple[Space, ...], timed_forbids: list[Forbid]
) -> dict[int, frozenset[int]]:
    """Fitting spaces open for every unit, not blocked too often and not forbidden: id -> skipped weeks."""
    usable = {}
    start, length = units[0], len(units)
    for space in fitting:
        if timed_forbids and any(f.space_id == space.id and f.teacher_id is None for f in timed_forbids):
            continue
        if start not in problem.starts_within(space.open_units, length):
            continue
        weeks = blocked_weeks(space, units) if space.blocked else frozenset()
        if not blocked_too_often(problem, weeks):
            usable[space.id] = weeks
    return usable


def _available_teachers(
    problem: Problem, units: tuple[Unit, ...], qualified: tuple[Teacher, ...], timed_forbids: list[Forbid]
) -> tuple[Teacher, ...]:
    start, length = units[0], len(units)
    return tuple(
        teacher
        for teacher in qualified
        if start in problem.starts_within(teacher.available_units, length)
        and not any(f.teacher_id == teacher.id and f.space_id is None for f in timed_forbids)
    )


def lock_problems(problem: Problem, candidates: ClassCandidates) -> tuple[str, ...]:
    """Why the class's locks cannot all be kept, judged from the class alone (empty if they can)."""
    offer = candidates.offer
    locks = problem.locks_of(offer.id)
    problems = []
    if len(locks) > offer.sessions_per_week:
        problems.append(f"{len(locks)} locks for {offer.sessions_per_week} sessions")
    if len({lock.session_index for lock in locks}) < len(locks):
        problems.append("two locks name the same session")
    if len({lock.weekday for lock in locks}) < len(locks):
        problems.append("two locked sessions share a weekday")
    problems.extend(_single_lock_problem(problem, candidates, lock) for lock in locks)
    return tuple(p for p in problems if p)


def _single_lock_problem(problem: Problem, candidates: ClassCandidates, lock: Lock) -> str:
    where = f"session {lock.session_index} (day {lock.weekday}, unit {lock.start_unit})"
    if not 0 <= lock.session_index < candidates.offer.sessions_per_week:
        return f"{where}: no such session"
    if not fits_in_day(problem, lock.start_unit, candidates.offer.length_units):
        return f"{where}: outside the day"
    option = candidates.option_at.get((lock.weekday, lock.start_unit))
    if option is None:
        return f"{where}: time not usable"
    if not option.allows(lock.space_id, lock.teacher_id):
        return f"{where}: space {lock.space_id} with teacher {lock.teacher_id} not usable then"
    return ""
