"""Large-neighbourhood search: a term too big for one CP-SAT model, improved a few classes at a time.

Rounds of three kinds, from the plan so far:

- **ejection** (``scheduling.ejection``), while some unplaced class might be placed by moving
  the few classes in its way: pure Python, so thousands of tries cost what one model does;
- **swap**, once no ejection works: an unplaced class in, one of the classes in its way out —
  a step sideways (as many classes placed) that lets other ejections work again;
- **neighbourhood**: free an unplaced class and the classes holding its cheapest starts, or the
  classes of one community, one skill or one weekday, and keep every other class exactly where
  it is. One CP-SAT model re-plans the freed classes *around* the kept ones: the freed classes
  keep only the choices the kept sessions leave free (their cohorts' times, spaces, teachers'
  times; a teacher's travel from or to a kept session becomes a forbidden space-teacher pair),
  and each teacher keeps the weekly minutes the kept sessions leave. The freed classes'
  candidate booleans are counted before the model is built and kept under ``ROUND_BOOLEANS``,
  below ``scheduling.size.MODEL_BUDGET``.

A round's plan becomes the current one when it places at least as many placement units; the
best plan seen (fewest units left out, then the lowest weighted soft penalty) is returned, so
the search never returns a plan worse than the greedy one it starts from.
"""

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model

from .candidates import ClassCandidates, SessionOption
from .ejection import eject_and_place, holders_by_start
from .model import build_model
from .objective import set_objective, units_left_out, unplaced_units
from .placement import Choice, Occupancy, Plan
from .problem import Problem
from .search import FOUND, polling, read_plan
from .size import class_booleans
from .warm_start import hint_decisions

SWAP_SHARE = 0.5
"""Once no ejection places an unplaced class, the share of rounds that swap one in for one of the
classes in its way (a step on the plateau that lets other ejections work again)."""
ROUND_S = 1.0
"""CP-SAT time per neighbourhood (rounds proven optimal end sooner)."""
MAX_FREED = 12
"""Classes freed in one round at most."""
ROUND_BOOLEANS = 20_000
"""Candidate booleans of the classes freed in one round (before the kept sessions narrow them):
small rounds build in a fraction of a second, so many neighbourhoods are tried."""

SWEEPS = ["community", "skill", "weekday"]
"""Neighbourhoods that free classes alike in one respect. With unplaced classes left, an
unplaced class's competitors and its skill (where a teacher's minutes are the bottleneck, two
short classes may replace a long one) are freed more often."""


@dataclass
class Neighbourhoods:
    problem: Problem
    candidates: dict[int, ClassCandidates]
    """Classes that could be placed alone, with all their choices."""
    cost: Callable[[Plan], tuple[int, float]]
    """(placement units left out, weighted soft penalty) of a plan: lower is better."""
    seed: int = 0
    workers: int = 2
    budget: int = ROUND_BOOLEANS
    stop: Callable[[], bool] | None = None
    tried: Counter = field(default_factory=Counter)
    """Rounds per kind of neighbourhood."""
    improved: Counter = field(default_factory=Counter)
    """Rounds per kind that found a better plan."""

    def improve(
        self, plan: Plan, *, until: float, on_better: Callable[[Plan], None], ejections_only: bool = False
    ) -> Plan:
        """The best plan found by ``until`` (a ``time.perf_counter()`` deadline), starting from ``plan``;
        with ``ejections_only``, ends as soon as no ejection places one more class.

        The search walks from plan to plan (``current``): any plan placing as many placement
        units is a step, whatever its soft penalty, so it can leave a plateau; the best plan seen
        (fewest units left out, then the lowest penalty) is what is returned."""
        rng = random.Random(self.seed)
        best, best_cost = plan, self.cost(plan)
        current = plan
        stuck: set[int] = set()  # unplaced classes no ejection places around the current plan
        while time.perf_counter() < until - 0.05 and not self._stopped():
            unplaced = sorted(set(self.candidates) - set(current))
            if ejectable := [c for c in unplaced if c not in stuck]:
                kind, target = "ejection", rng.choice(ejectable)
                found = eject_and_place(self.problem, self.candidates, current, target, rng)
                if found is None:
                    stuck.add(target)
            elif ejections_only:
                break
            elif unplaced and rng.random() < SWAP_SHARE:
                kind = "swap"
                found = eject_and_place(self.problem, self.candidates, current, rng.choice(unplaced), rng, spare=1)
            else:
                kind, freed = self._neighbourhood(current, rng)
                if not freed:
                    break
                found = self._replan(current, freed, until=until, seed=rng.randrange(2**31))
            self.tried[kind] += 1
            if found is None or units_left_out(self.problem, found) > units_left_out(self.problem, current):
                continue
            current = found
            stuck.clear()
            if (found_cost := self.cost(found)) < best_cost:
                self.improved[kind] += 1
                best, best_cost = found, found_cost
                on_better(best)
        return best

    # ---- choosing a neighbourhood ----------------------------------------------------------

    def _neighbourhood(self, plan: Plan, rng: random.Random) -> tuple[str, list[int]]:
        unplaced = sorted(set(self.candidates) - set(plan))
        kinds = ["competitors", "competitors", "skill", *SWEEPS] if unplaced else SWEEPS
        kind = rng.choice(kinds)
        order = list(getattr(self, f"_{kind}")(plan, unplaced, rng))
        freed, size = [], 0
        for class_id in dict.fromkeys(order):
            cost = class_booleans(self.candidates[class_id])
            if size + cost > self.budget:
                continue
            freed.append(class_id)
            size += cost
            if len(freed) >= MAX_FREED:
                break
        return kind, freed

    def _competitors(self, plan: Plan, unplaced: list[int], rng: random.Random) -> Iterator[int]:
        """An unplaced class, then, weekday by weekday, the placed classes holding its cheapest
        start there (its cohorts, the space and the teacher with the fewest holders), then
        unplaced classes of the same skill: an ejection chain for CP-SAT to complete."""
        target = self.candidates[rng.choice(unplaced)]
        offer = target.offer
        cheapest: dict[int, tuple[int, float, frozenset[int]]] = {}
        for weekday, holders in holders_by_start(self.problem, target, Occupancy.of_plan(self.problem, plan)):
            ranked = (len(holders), rng.random(), holders)
            if weekday not in cheapest or ranked[:2] < cheapest[weekday][:2]:
                cheapest[weekday] = ranked
        yield offer.id
        for _, _, holders in sorted(cheapest.values(), key=lambda ranked: ranked[:2]):
            yield from sorted(holders)
        skill = offer.required_skill
        yield from self._shuffled([c for c in unplaced if self.candidates[c].offer.required_skill == skill], rng)

    def _community(self, plan: Plan, unplaced: list[int], rng: random.Random) -> Iterator[int]:
        community = self.candidates[rng.choice(unplaced or sorted(plan))].offer.community_id
        same = [c for c in self.candidates if self.candidates[c].offer.community_id == community]
        yield from self._unplaced_first(same, plan, rng)

    def _skill(self, plan: Plan, unplaced: list[int], rng: random.Random) -> Iterator[int]:
        skill = self.candidates[rng.choice(unplaced or sorted(plan))].offer.required_skill
        same = [c for c in self.candidates if self.candidates[c].offer.required_skill == skill]
        yield from self._unplaced_first(same, plan, rng)

    def _weekday(self, plan: Plan, unplaced: list[int], rng: random.Random) -> Iterator[int]:
        day = rng.randrange(7)
        that_day = [
            c
            for c, cand in self.candidates.items()
            if any(ch.weekday == day for ch in plan.get(c, ())) or (c not in plan and day in cand.weekdays)
        ]
        yield from self._unplaced_first(that_day, plan, rng)

    def _unplaced_first(self, classes: list[int], plan: Plan, rng: random.Random) -> Iterator[int]:
        yield from self._shuffled([c for c in classes if c not in plan], rng)
        yield from self._shuffled([c for c in classes if c in plan], rng)

    @staticmethod
    def _shuffled(items: list[int], rng: random.Random) -> list[int]:
        items = list(items)
        rng.shuffle(items)
        return items

    # ---- re-planning it --------------------------------------------------------------------

    def _replan(self, plan: Plan, freed: list[int], *, until: float, seed: int) -> Plan | None:
        """The plan with the freed classes re-planned by CP-SAT around the others (None if none found)."""
        kept = {c: choices for c, choices in plan.items() if c not in freed}
        occupancy = Occupancy.of_plan(self.problem, kept)
        sub = around(self.problem, freed, occupancy)
        candidates = {c: free_candidates(sub, self.candidates[c], occupancy) for c in freed}
        m = build_model(sub, candidates=candidates)
        before = {c: s for c, s in plan.items() if c in m.candidates}
        if any(c not in plan for c in m.candidates):  # someone to place: placement alone is quicker to search
            m.model.minimize(unplaced_units(sub, m.placed))
        else:  # everyone placed: trade soft penalties, keeping them all
            set_objective(m)
            m.model.add(unplaced_units(sub, m.placed) <= units_left_out(sub, before))
        hint_decisions(m.model, m, before)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, min(ROUND_S, until - time.perf_counter()))
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = seed
        solver.parameters.cp_model_presolve = False
        with polling(solver, self.stop):
            status = solver.solve(m.model)
        if status not in FOUND:
            return None
        found = kept | read_plan(m, solver.boolean_value)
        return found if units_left_out(self.problem, found) <= units_left_out(self.problem, plan) else None

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop()


def around(problem: Problem, freed: list[int], occupancy: Occupancy) -> Problem:
    """The problem of the freed classes alone, around the kept sessions held in ``occupancy``:
    each teacher keeps the weekly minutes the kept sessions leave. The rest of what kept sessions
    hold is taken out of the freed classes' choices (``free_candidates``)."""
    teachers = tuple(
        replace(t, max_minutes_per_week=t.max_minutes_per_week - occupancy.teacher_minutes[t.id])
        if occupancy.teacher_minutes[t.id]
        else t
        for t in problem.teachers
    )
    freed_ids = set(freed)
    return replace(
        problem,
        teachers=teachers,
        classes=tuple(c for c in problem.classes if c.id in freed_ids),
        locks=tuple(lock for lock in problem.locks if lock.class_id in freed_ids),
        forbids=tuple(f for f in problem.forbids if f.class_id in freed_ids),
    )


def free_candidates(problem: Problem, candidates: ClassCandidates, occupancy: Occupancy) -> ClassCandidates:
    """The class's choices that the kept sessions leave free: their cohorts' times, their spaces,
    their teachers' times and weekly minutes, and (as forbidden space-teacher pairs) the venues a
    teacher cannot reach from a kept session of the same day or get back from in time."""
    offer = candidates.offer
    options = []
    for option in candidates.options:
        free = _free_option(problem, option, offer, occupancy)
        if free is not None:
            options.append(free)
    return replace(candidates, options=tuple(options))


def _free_option(problem: Problem, option: SessionOption, offer, occupancy: Occupancy) -> SessionOption | None:
    d, s = option.weekday, option.start_unit
    if occupancy.time_blockers(offer, d, s):
        return None
    spaces = tuple(sp for sp in option.spaces if not occupancy.space_blockers(offer, d, s, sp))
    teachers = tuple(t for t in option.teachers if not _teacher_busy(offer, d, s, t, occupancy))
    if not spaces or not teachers:
        return None
    too_far = frozenset(
        (sp, t)
        for t in teachers
        if occupancy.teacher_day.get((t, d))
        for sp in spaces
        if occupancy.travel_blockers(offer, Choice(d, s, sp, t))
    )
    if len(spaces) == len(option.spaces) and len(teachers) == len(option.teachers) and not too_far:
        return option
    kept_spaces, kept_teachers = set(spaces), set(teachers)
    at_venue = {}
    for venue, here in option.spaces_at_venue.items():
        if remaining := tuple(sp for sp in here if sp in kept_spaces):
            at_venue[venue] = remaining
    return replace(
        option,
        spaces=spaces,
        teachers=teachers,
        skipped_weeks={sp: option.skipped_weeks[sp] for sp in spaces},
        refused=frozenset(p for p in option.refused if p[0] in kept_spaces and p[1] in kept_teachers),
        forbidden=too_far | {p for p in option.forbidden if p[0] in kept_spaces and p[1] in kept_teachers},
        spaces_at_venue=at_venue,
    )


def _teacher_busy(offer, weekday: int, start_unit: int, teacher_id: int, occupancy: Occupancy) -> bool:
    """Kept sessions hold the teacher then (weekly minutes are the sub-problem's business)."""
    return any(
        (teacher_id, weekday, unit) in occupancy.teacher_holder
        for unit in range(start_unit, start_unit + offer.length_units)
    )
