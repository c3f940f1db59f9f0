"""Simulated annealing over a complete plan: sessions move to another time and space, or swap
places with the session holding it, and whole classes gather in one space; the weighted soft
terms fall.

CP-SAT chooses good times (``scheduling.time_first``) but searches the product of times and
spaces slowly; this search moves one or two sessions at a time (or a class's sessions into one
space), each move costed by what it changes: a class's spaces (``same_space``) and weekdays
(``short_weekdays``), its cohorts' days (``isolated_sessions``, ``cohort_compactness``) and
what the session pays where it is (``travel``, ``skipped_weeks``, ``over_capacity``). A worse
plan is accepted with probability ``exp(-worsening / temperature)``, the temperature falling
geometrically from ``HOT`` to ``COLD`` over the time given; the best plan seen is returned.

Moves stay inside each class's candidates (``scheduling.candidates``: allowed units, opening
hours, capacity, features, the session's teacher available and allowed there), never put two
sessions in one leaf space at once, and keep one session per weekday where a class asks for
that. Two sessions of a cohort, a class or a teacher at once (a clash) are allowed on the way
at ``CLASH`` each — a search that may pass through them moves far more freely — but a plan
with a clash is never returned. Teachers, and so their loads, stay as the plan has them;
classes with locked sessions do not move; the placed classes stay placed (``fairness`` is
unchanged). Teacher travel between venues is not modelled: a problem with travel times gets
its plan back unchanged.
"""

import math
import random
import time
from collections import Counter
from collections.abc import Mapping

from .candidates import ClassCandidates
from .placement import Choice, Plan, space_cost
from .problem import Problem
from .rules import learners_without_seat

HOT = 1.0
"""Starting temperature, in weighted penalty points: a move costing 1 is taken about a third of
the time at first, one costing 5 (a weekday short) one time in 150."""
COLD = 0.05
CHECK_EVERY = 500
"""Moves between looks at the clock (and temperature updates)."""

CLASH = 10
"""What a clash (two sessions of a cohort, class or teacher at once) costs during the search.
Plans with clashes are stepping stones, never returned."""
SPACE_MOVES = 0.1
"""Share of moves that bring a whole class into one space (``_try_space``)."""

Slot = tuple[int, int, int]
"""(weekday, start unit, space id)."""


def anneal(problem: Problem, candidates: Mapping[int, ClassCandidates], plan: Plan, *, until: float, seed: int) -> Plan:
    """A plan no worse than ``plan`` (same classes, same teachers) under the weighted soft terms,
    the best found by ``until`` (a ``perf_counter`` deadline)."""
    if problem.venue_travel_minutes or not plan or time.perf_counter() >= until:
        return plan
    return _Annealer(problem, candidates, plan).run(until, random.Random(seed))


class _Annealer:
    def __init__(self, problem: Problem, candidates: Mapping[int, ClassCandidates], plan: Plan) -> None:
        self.problem, weights = problem, problem.weights
        self.w_space, self.w_short = weights.same_space, weights.short_weekdays
        self.w_gap, self.w_alone = weights.cohort_compactness, weights.isolated_sessions
        self.week = 7 * problem.units_per_day
        self.per_day = problem.units_per_day
        self.plan = plan
        leaves = sorted({leaf for space in problem.spaces for leaf in space.occupied_leaves})
        leaf_index = {leaf: i for i, leaf in enumerate(leaves)}
        self.leaves_of = {s.id: tuple(leaf_index[leaf] for leaf in s.occupied_leaves) for s in problem.spaces}
        teacher_index = {t.id: i for i, t in enumerate(problem.teachers)}
        cohorts = sorted({q for c in plan for q in problem.class_by_id[c].cohorts})
        cohort_index = {q: i for i, q in enumerate(cohorts)}
        class_index = {c: i for i, c in enumerate(sorted(plan))}
        # A session's groups, which its units must not share: its cohorts, its class, its teacher.
        self.leaf_holder = [-1] * (len(leaves) * self.week)
        self.users = [0] * ((len(cohorts) + len(class_index) + len(teacher_index)) * self.week)
        self.clashes = 0
        """Units over one session per group: a clash, tolerated during the search at ``CLASH`` each."""
        self.cls, self.teacher, self.length, self.groups, self.cohorts = [], [], [], [], []
        self.wd, self.start, self.space, self.movable, self.one_a_day = [], [], [], [], []
        self.slots: list[dict[Slot, int]] = []
        """Per session: the slots its class may use with its teacher, and what it pays in each."""
        self.targets: list[list[Slot]] = []
        """Per session: the same slots in a list, to draw from."""
        self.static: dict[tuple[int, int], tuple[dict[Slot, int], list[Slot]]] = {}
        self.wanted = {c: problem.class_by_id[c].min_weekdays or 0 for c in plan}
        self.sessions_of: dict[int, list[int]] = {}
        locked = {lock.class_id for lock in problem.locks}
        for class_id, choices in sorted(plan.items()):
            offer = problem.class_by_id[class_id]
            cohort_ids = tuple(cohort_index[q] for q in sorted(offer.cohorts))
            for choice in choices:
                teacher_group = len(cohorts) + len(class_index) + teacher_index[choice.teacher_id]
                groups = (*cohort_ids, len(cohorts) + class_index[class_id], teacher_group)
                self.sessions_of.setdefault(class_id, []).append(len(self.cls))
                self.cls.append(class_id)
                self.teacher.append(choice.teacher_id)
                self.length.append(offer.length_units)
                self.groups.append(groups)
                self.cohorts.append(cohort_ids)
                self.wd.append(choice.weekday)
                self.start.append(choice.start_unit)
                self.space.append(choice.space_id)
                self.movable.append(class_id not in locked)
                self.one_a_day.append(offer.min_weekdays is None)
                slots, targets = self._slots(candidates[class_id], choice.teacher_id)
                self.slots.append(slots)
                self.targets.append(targets)
        self.class_spaces = {c: Counter() for c in plan}
        self.class_days = {c: [0] * 7 for c in plan}
        self.cohort_day: list[list[int]] = [[] for _ in range(len(cohorts) * 7)]
        for s in range(len(self.cls)):
            self._place(s)

    def _slots(self, candidates: ClassCandidates, teacher_id: int) -> tuple[dict[Slot, int], list[Slot]]:
        key = (candidates.offer.id, teacher_id)
        if key in self.static:
            return self.static[key]
        problem, offer, weights = self.problem, candidates.offer, self.problem.weights
        costs = {}
        for option in candidates.options:
            for space_id in option.spaces:
                if option.allows(space_id, teacher_id):
                    costs[option.weekday, option.start_unit, space_id] = space_cost(
                        problem, offer, option, space_id
                    ) + weights.over_capacity * learners_without_seat(problem.space_by_id[space_id], offer)
        self.static[key] = (costs, list(costs))
        return self.static[key]

    # -- state --------------------------------------------------------------------------------

    def _keys(self, s: int) -> range:
        base = self.wd[s] * self.per_day + self.start[s]
        return range(base, base + self.length[s])

    def _free(self, s: int) -> bool:
        """Whether session ``s`` (lifted) can be put where its fields say: its space is free, and
        its class not already on that weekday if it wants one session a day (clashes are priced)."""
        week = self.week
        if self.one_a_day[s] and self.class_days[self.cls[s]][self.wd[s]]:
            return False
        leaves = self.leaves_of[self.space[s]]
        return all(self.leaf_holder[leaf * week + k] < 0 for k in self._keys(s) for leaf in leaves)

    def _place(self, s: int) -> None:
        self._hold(s, s)
        self._use(s, 1)
        c = self.cls[s]
        self.class_spaces[c][self.space[s]] += 1
        self.class_days[c][self.wd[s]] += 1
        for q in self.cohorts[s]:
            self.cohort_day[q * 7 + self.wd[s]].append(s)

    def _lift(self, s: int) -> None:
        self._hold(s, -1)
        self._use(s, -1)
        c = self.cls[s]
        spaces = self.class_spaces[c]
        spaces[self.space[s]] -= 1
        if not spaces[self.space[s]]:
            del spaces[self.space[s]]
        self.class_days[c][self.wd[s]] -= 1
        for q in self.cohorts[s]:
            self.cohort_day[q * 7 + self.wd[s]].remove(s)

    def _hold(self, s: int, holder: int) -> None:
        week, leaf_holder = self.week, self.leaf_holder
        for k in self._keys(s):
            for leaf in self.leaves_of[self.space[s]]:
                leaf_holder[leaf * week + k] = holder

    def _use(self, s: int, step: int) -> None:
        week, users = self.week, self.users
        for k in self._keys(s):
            for g in self.groups[s]:
                key = g * week + k
                if step > 0:
                    self.clashes += users[key] > 0
                    users[key] += 1
                else:
                    users[key] -= 1
                    self.clashes -= users[key] > 0

    # -- costs --------------------------------------------------------------------------------

    def _class_cost(self, c: int) -> int:
        days = 7 - self.class_days[c].count(0)
        return self.w_space * (len(self.class_spaces[c]) - 1) + self.w_short * max(0, self.wanted[c] - days)

    def _day_cost(self, cohort_day: int) -> int:
        sessions = self.cohort_day[cohort_day]
        if not sessions:
            return 0
        spans = [(self.start[s], self.start[s] + self.length[s]) for s in sessions]
        starts, ends = {a for a, _ in spans}, {b for _, b in spans}
        alone = sum(a not in ends and b not in starts for a, b in spans)
        idle = max(0, max(ends) - min(starts) - sum(b - a for a, b in spans))
        return self.w_alone * alone + self.w_gap * idle

    def _static(self, s: int) -> int:
        return self.slots[s][self.wd[s], self.start[s], self.space[s]]

    def _local(self, sessions: tuple[int, ...], days: set[int]) -> int:
        """The cost of the sessions' classes, of ``days`` (cohort days) and of the sessions where they are."""
        return (
            sum(self._class_cost(c) for c in {self.cls[s] for s in sessions})
            + sum(self._day_cost(d) for d in days)
            + sum(self._static(s) for s in sessions)
        )

    def total(self) -> int:
        """The weighted soft terms this search changes (the others are constant)."""
        return (
            sum(self._class_cost(c) for c in self.class_spaces)
            + sum(self._day_cost(d) for d in range(len(self.cohort_day)))
            + sum(self._static(s) for s in range(len(self.cls)))
        )

    # -- search -------------------------------------------------------------------------------

    def run(self, until: float, rng: random.Random) -> Plan:
        movable = [s for s in range(len(self.cls)) if self.movable[s]]
        if not movable:
            return self.plan
        cost = best = self.total()
        best_state = None
        began = time.perf_counter()
        span = max(until - began, 1e-9)
        temperature, moves = HOT, 0
        while True:
            moves += 1
            if moves % CHECK_EVERY == 0:
                now = time.perf_counter()
                if now >= until:
                    break
                temperature = HOT * (COLD / HOT) ** ((now - began) / span)
            move = self._try_space if rng.random() < SPACE_MOVES else self._try
            delta = move(rng.choice(movable), rng, temperature)
            if delta is None:
                continue
            cost += delta
            if cost < best and not self.clashes:
                best, best_state = cost, (self.wd[:], self.start[:], self.space[:])
        return self.plan if best_state is None else self._plan_of(*best_state)

    def _try(self, s: int, rng: random.Random, temperature: float) -> int | None:
        """Session ``s`` to a random slot of its class, swapping with the one session holding it."""
        target = rng.choice(self.targets[s])
        here = (self.wd[s], self.start[s], self.space[s])
        if target == here:
            return None
        other = self._holder(s, target)
        if other is None:
            return None
        if other < 0:
            return self._apply({s: target}, rng, temperature)
        if self.cls[other] == self.cls[s] or self.length[other] != self.length[s] or not self._allowed(other, here):
            return None
        return self._apply({s: target, other: here}, rng, temperature)

    def _try_space(self, s: int, rng: random.Random, temperature: float) -> int | None:
        """Every session of ``s``'s class into ``s``'s space, each swapping spaces with the session
        holding it then (room stability without moving anyone in time)."""
        space_id, changes = self.space[s], {}
        for m in self.sessions_of[self.cls[s]]:
            if self.space[m] == space_id:
                continue
            target = (self.wd[m], self.start[m], space_id)
            if not self.movable[m] or not self._allowed(m, target):
                return None
            other = self._holder(m, target)
            if other is None:
                return None
            if other >= 0:
                here = (self.wd[m], self.start[m], self.space[m])
                if self.length[other] != self.length[m] or not self._allowed(other, here):
                    return None
                changes[other] = here
            changes[m] = target
        return self._apply(changes, rng, temperature) if changes else None

    def _allowed(self, s: int, slot: Slot) -> bool:
        return slot in self.slots[s]

    def _apply(self, changes: dict[int, Slot], rng: random.Random, temperature: float) -> int | None:
        """Make the changes if no space is double-booked and the cost change (clashes included)
        passes the acceptance test: the change in cost without clashes if made, None if not
        (the state is then as before)."""
        moved = tuple(changes)
        days = {q * 7 + w for m in moved for q in self.cohorts[m] for w in (self.wd[m], changes[m][0])}
        before, clashes = self._local(moved, days), self.clashes
        for m in moved:
            self._lift(m)
        old = [(self.wd[m], self.start[m], self.space[m]) for m in moved]
        for m, slot in changes.items():
            self._set(m, slot)
        if not self._put(moved):
            self._restore(moved, old)
            return None
        delta = self._local(moved, days) - before
        worse = delta + CLASH * (self.clashes - clashes)
        if worse <= 0 or rng.random() < math.exp(-worse / temperature):
            return delta
        for m in moved:
            self._lift(m)
        self._restore(moved, old)
        return None

    def _holder(self, s: int, target: Slot) -> int | None:
        """The one session holding the target's space (-1 if none; None if several, or one that
        does not hold exactly that slot, so a swap would not be a swap)."""
        weekday, start, space_id = target
        week, holders = self.week, set()
        for k in range(weekday * self.per_day + start, weekday * self.per_day + start + self.length[s]):
            for leaf in self.leaves_of[space_id]:
                holder = self.leaf_holder[leaf * week + k]
                if holder >= 0 and holder != s:
                    holders.add(holder)
        if not holders:
            return -1
        if len(holders) > 1:
            return None
        other = holders.pop()
        if not self.movable[other] or (self.wd[other], self.start[other], self.space[other]) != target:
            return None
        return other

    def _set(self, s: int, slot: Slot) -> None:
        self.wd[s], self.start[s], self.space[s] = slot

    def _put(self, moved: tuple[int, ...]) -> bool:
        """Place the lifted sessions at their new slots, in order; False (nothing placed) if one
        finds its space taken or its class already on that weekday when it wants one a day."""
        placed = []
        for m in moved:
            if not self._free(m):
                for p in placed:
                    self._lift(p)
                return False
            self._place(m)
            placed.append(m)
        return True

    def _restore(self, moved: tuple[int, ...], old: list[Slot]) -> None:
        for m, slot in zip(moved, old, strict=True):
            self._set(m, slot)
            self._place(m)

    def _plan_of(self, weekdays: list[int], starts: list[int], spaces: list[int]) -> Plan:
        plan: dict[int, list[Choice]] = {}
        for s, class_id in enumerate(self.cls):
            choice = Choice(weekdays[s], starts[s], spaces[s], self.teacher[s])
            plan.setdefault(class_id, []).append(choice)
        return {class_id: tuple(choices) for class_id, choices in plan.items()}
