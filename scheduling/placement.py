"""Placing one class around sessions that are already fixed, without moving them.

The explainer asks "could this class be added to the plan as it stands, and if not, who is in
the way?"; the greedy warm start asks the same question class after class. Both go through
``Occupancy`` (what the fixed sessions hold) and ``place_class``.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from .candidates import ClassCandidates, SessionOption
from .problem import Assignment, ClassOffer, Lock, Problem
from .rules import blocked_weeks, learner_travel_km, session_minutes, session_units, teacher_travel_minutes


@dataclass(frozen=True)
class Choice:
    weekday: int
    start_unit: int
    space_id: int
    teacher_id: int
    cost: int = 0


Plan = dict[int, tuple[Choice, ...]]
"""class id -> its sessions, for the classes placed."""


@dataclass
class Occupancy:
    """Units held by fixed sessions (per leaf, teacher and cohort), teachers' minutes and same-day venues."""

    problem: Problem
    leaf_holder: dict[tuple[int, int, int], int] = field(default_factory=dict)
    teacher_holder: dict[tuple[int, int, int], int] = field(default_factory=dict)
    cohort_holder: dict[tuple[str, int, int], int] = field(default_factory=dict)
    teacher_minutes: Counter = field(default_factory=Counter)
    teacher_classes: defaultdict = field(default_factory=lambda: defaultdict(set))
    teacher_day: defaultdict = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, problem: Problem, assignments: Iterable[Assignment]) -> "Occupancy":
        occupancy = cls(problem)
        for a in assignments:
            occupancy.add(a.class_id, Choice(a.weekday, a.start_unit, a.space_id, a.teacher_id))
        return occupancy

    @classmethod
    def of_plan(cls, problem: Problem, plan: "Plan") -> "Occupancy":
        occupancy = cls(problem)
        for class_id, choices in plan.items():
            for choice in choices:
                occupancy.add(class_id, choice)
        return occupancy

    def add(self, class_id: int, choice: Choice) -> None:
        offer = self.problem.class_by_id[class_id]
        space = self.problem.space_by_id[choice.space_id]
        end_unit = choice.start_unit + offer.length_units
        for unit in range(choice.start_unit, end_unit):
            for leaf in space.occupied_leaves:
                self.leaf_holder[leaf, choice.weekday, unit] = class_id
            self.teacher_holder[choice.teacher_id, choice.weekday, unit] = class_id
            for cohort in offer.cohorts:
                self.cohort_holder[cohort, choice.weekday, unit] = class_id
        self.teacher_minutes[choice.teacher_id] += session_minutes(self.problem, offer)
        self.teacher_classes[choice.teacher_id].add(class_id)
        self.teacher_day[choice.teacher_id, choice.weekday].append(
            (choice.start_unit, end_unit, space.venue_id, class_id)
        )

    def time_blockers(self, offer: ClassOffer, weekday: int, start_unit: int) -> set[int]:
        """Classes sharing a cohort with the offer that hold any of these units."""
        return {
            self.cohort_holder[key]
            for unit in range(start_unit, start_unit + offer.length_units)
            for cohort in offer.cohorts
            if (key := (cohort, weekday, unit)) in self.cohort_holder
        }

    def space_blockers(self, offer: ClassOffer, weekday: int, start_unit: int, space_id: int) -> set[int]:
        leaves = self.problem.space_by_id[space_id].occupied_leaves
        return {
            self.leaf_holder[key]
            for unit in range(start_unit, start_unit + offer.length_units)
            for leaf in leaves
            if (key := (leaf, weekday, unit)) in self.leaf_holder
        }

    def teacher_blockers(self, offer: ClassOffer, weekday: int, start_unit: int, teacher_id: int) -> set[int]:
        """Classes holding the teacher at these units, or all of the teacher's classes if the
        session would not fit in the teacher's weekly minutes."""
        teacher = self.problem.teacher_by_id[teacher_id]
        if self.teacher_minutes[teacher_id] + session_minutes(self.problem, offer) > teacher.max_minutes_per_week:
            return set(self.teacher_classes[teacher_id])
        return {
            self.teacher_holder[key]
            for unit in range(start_unit, start_unit + offer.length_units)
            if (key := (teacher_id, weekday, unit)) in self.teacher_holder
        }

    def travel_blockers(self, offer: ClassOffer, choice: Choice) -> set[int]:
        """Same-day sessions of the teacher at other venues too close in time to get there or back."""
        venue = self.problem.space_by_id[choice.space_id].venue_id
        start, end = choice.start_unit, choice.start_unit + offer.length_units
        grid = self.problem.grid_minutes
        blockers = set()
        for other_start, other_end, other_venue, class_id in self.teacher_day[choice.teacher_id, choice.weekday]:
            if other_end <= start:
                gap, needed = (start - other_end) * grid, teacher_travel_minutes(self.problem, other_venue, venue)
            elif end <= other_start:
                gap, needed = (other_start - end) * grid, teacher_travel_minutes(self.problem, venue, other_venue)
            else:
                continue  # overlapping sessions are the teacher check's business
            if gap < needed:
                blockers.add(class_id)
        return blockers


def space_cost(problem: Problem, offer: ClassOffer, option: SessionOption, space_id: int) -> int:
    """The soft penalty a session pays for its space alone: learners' travel and skipped weeks."""
    venue = problem.space_by_id[space_id].venue_id
    weights = problem.weights
    return weights.travel * learner_travel_km(problem, offer, venue) + weights.skipped_weeks * len(
        option.skipped_weeks[space_id]
    )


def free_choices(
    problem: Problem, candidates: ClassCandidates, occupancy: Occupancy
) -> tuple[dict[int, list[Choice]], set[int]]:
    """Per weekday, the cheapest free choice for each teacher (cheapest first); and every class
    that blocks some choice."""
    offer = candidates.offer
    best: dict[tuple[int, int], Choice] = {}
    blocking: set[int] = set()
    for option in candidates.options:
        d, s = option.weekday, option.start_unit
        if cohort := occupancy.time_blockers(offer, d, s):
            blocking |= cohort
            continue
        spaces = []
        for space_id in option.spaces:
            if held := occupancy.space_blockers(offer, d, s, space_id):
                blocking |= held
            else:
                spaces.append((space_cost(problem, offer, option, space_id), space_id))
        spaces.sort()
        for teacher_id in option.teachers:
            if busy := occupancy.teacher_blockers(offer, d, s, teacher_id):
                blocking |= busy
                continue
            for cost, space_id in spaces:
                if not option.allows(space_id, teacher_id):
                    continue
                choice = Choice(d, s, space_id, teacher_id, cost)
                if far := occupancy.travel_blockers(offer, choice):
                    blocking |= far
                    continue
                previous = best.get((d, teacher_id))
                if previous is None or cost < previous.cost:
                    best[d, teacher_id] = choice
                break
    by_day: dict[int, list[Choice]] = defaultdict(list)
    for choice in best.values():
        by_day[choice.weekday].append(choice)
    for choices in by_day.values():
        choices.sort(key=lambda c: (c.cost, c.start_unit, c.space_id, c.teacher_id))
    return dict(by_day), blocking


def place_class(
    problem: Problem, candidates: ClassCandidates, occupancy: Occupancy
) -> tuple[tuple[Choice, ...] | None, set[int]]:
    """A cheap-first way to add every session of the class without moving fixed sessions (None if
    there is none), and the classes in the way of some choice."""
    offer = candidates.offer
    free, blocking = free_choices(problem, candidates, occupancy)
    locked = [_locked_choice(lock) for lock in problem.locks_of(offer.id)]
    if in_the_way := set().union(*(_blockers(offer, occupancy, choice) for choice in locked)):
        return None, blocking | in_the_way
    capacity = _sessions_left(problem, candidates, occupancy, locked)
    if capacity is None:
        return None, blocking
    locked_days = {choice.weekday for choice in locked}
    days = sorted((d for d in free if d not in locked_days), key=lambda d: (free[d][0].cost, d))
    for combo in combinations(days, offer.sessions_per_week - len(locked)):
        chosen = _match_days_to_teachers(combo, free, capacity)
        if chosen is not None:
            return tuple(sorted(locked + chosen, key=lambda c: c.weekday)), blocking
    return None, blocking


def _locked_choice(lock: Lock) -> Choice:
    return Choice(lock.weekday, lock.start_unit, lock.space_id, lock.teacher_id)


def _blockers(offer: ClassOffer, occupancy: Occupancy, choice: Choice) -> set[int]:
    d, s = choice.weekday, choice.start_unit
    return (
        occupancy.time_blockers(offer, d, s)
        | occupancy.space_blockers(offer, d, s, choice.space_id)
        | occupancy.teacher_blockers(offer, d, s, choice.teacher_id)
        | occupancy.travel_blockers(offer, choice)
    )


def _sessions_left(
    problem: Problem, candidates: ClassCandidates, occupancy: Occupancy, locked: list[Choice]
) -> dict[int, int] | None:
    """How many more sessions of this class each qualified teacher can take (None if the locks
    alone overload a teacher)."""
    minutes = session_minutes(problem, candidates.offer)
    used = Counter(occupancy.teacher_minutes)
    for choice in locked:
        used[choice.teacher_id] += minutes
    left = {
        t: (problem.teacher_by_id[t].max_minutes_per_week - used[t]) // minutes for t in candidates.qualified_teachers
    }
    return None if any(left.get(choice.teacher_id, -1) < 0 for choice in locked) else left


def _match_days_to_teachers(
    days: tuple[int, ...], free: dict[int, list[Choice]], capacity: dict[int, int]
) -> list[Choice] | None:
    """Give every day a free choice so that no teacher takes more sessions than it has room for
    (augmenting paths over teachers with capacities; cheapest choices tried first)."""
    assigned: dict[int, Choice] = {}
    load: Counter = Counter()

    def augment(day: int, seen: set[int]) -> bool:
        for choice in free[day]:
            teacher = choice.teacher_id
            if teacher in seen:
                continue
            seen.add(teacher)
            if load[teacher] < capacity[teacher]:
                assigned[day], load[teacher] = choice, load[teacher] + 1
                return True
            for other in [d for d, c in assigned.items() if c.teacher_id == teacher]:
                previous = assigned.pop(other)
                load[teacher] -= 1
                if augment(other, seen):
                    assigned[day], load[teacher] = choice, load[teacher] + 1
                    return True
                assigned[other], load[teacher] = previous, load[teacher] + 1
        return False

    for day in days:
        if not augment(day, set()):
            return None
    return list(assigned.values())


def assignments_of(problem: Problem, plan: Plan) -> tuple[Assignment, ...]:
    """The plan as assignments, by class: locked sessions keep their index, the others take the
    remaining indexes in weekday order; skipped weeks are the blocked weeks of the units held."""
    return tuple(a for class_id in sorted(plan) for a in _numbered(problem, class_id, plan[class_id]))


def _numbered(problem: Problem, class_id: int, choices: tuple[Choice, ...]) -> list[Assignment]:
    offer = problem.class_by_id[class_id]
    locked = {(lock.weekday, lock.start_unit): lock.session_index for lock in problem.locks_of(class_id)}
    spare = iter(sorted(set(range(offer.sessions_per_week)) - set(locked.values())))
    assignments = []
    for choice in sorted(choices, key=lambda c: (c.weekday, c.start_unit)):
        at = (choice.weekday, choice.start_unit)
        units = session_units(choice.weekday, choice.start_unit, offer.length_units)
        assignments.append(
            Assignment(
                class_id=class_id,
                session_index=locked[at] if at in locked else next(spare),
                weekday=choice.weekday,
                start_unit=choice.start_unit,
                space_id=choice.space_id,
                teacher_id=choice.teacher_id,
                skipped_weeks=tuple(sorted(blocked_weeks(problem.space_by_id[choice.space_id], units))),
            )
        )
    return sorted(assignments, key=lambda a: a.session_index)
