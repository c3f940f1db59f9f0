"""Ejection: place an unplaced class by moving the few classes in its way.

For each start of the class, the placed classes holding it there (its cohorts' sessions, the
space and the teacher with the fewest holders) are the ones to *eject*, up to ``MAX_EJECTED``.
The class is placed around the rest, and each ejected class is placed again around everything
else; the move counts only if every ejected class finds a place (or all but ``spare`` of them:
a swap). Pure Python over ``scheduling.placement``:
thousands of tries cost what one CP-SAT neighbourhood does, so ``scheduling.neighbourhoods``
tries this first for each unplaced class.
"""

import random
from collections.abc import Iterator

from .candidates import ClassCandidates
from .placement import Occupancy, Plan, place_class
from .problem import Problem

MAX_EJECTED = 4
"""Classes moved to make room, at most (up to 4 placed more on the wide district than up to 2)."""
MAX_TRIES = 60
"""Sets of classes to eject tried per call, fewest first."""


def holders_by_start(
    problem: Problem, candidates: ClassCandidates, occupancy: Occupancy
) -> Iterator[tuple[int, frozenset[int]]]:
    """Per start of the class: the weekday and the fewest placed classes whose sessions hold it."""
    offer = candidates.offer
    for option in candidates.options:
        d, s = option.weekday, option.start_unit
        spaces = [occupancy.space_blockers(offer, d, s, sp) for sp in option.spaces]
        teachers = [occupancy.teacher_blockers(offer, d, s, t) for t in option.teachers]
        yield d, frozenset(occupancy.time_blockers(offer, d, s) | min(spaces, key=len) | min(teachers, key=len))


def eject_and_place(
    problem: Problem,
    candidates: dict[int, ClassCandidates],
    plan: Plan,
    class_id: int,
    rng: random.Random,
    *,
    spare: int = 0,
) -> Plan | None:
    """The plan with ``class_id`` placed and at most ``MAX_EJECTED`` classes moved (None if no such
    move). Up to ``spare`` of the ejected classes may be left out (a swap, when it is 1)."""
    target = candidates[class_id]
    locked = {lock.class_id for lock in problem.locks}
    occupancy = Occupancy.of_plan(problem, plan)
    sets = {h for _, h in holders_by_start(problem, target, occupancy) if 0 < len(h) <= MAX_EJECTED and not h & locked}
    for ejected in sorted(sets, key=lambda h: (len(h), rng.random()))[:MAX_TRIES]:
        current = {c: choices for c, choices in plan.items() if c not in ejected}
        around = Occupancy.of_plan(problem, current)
        placed, _ = place_class(problem, target, around)
        if placed is None:
            continue
        for choice in placed:
            around.add(class_id, choice)
        current[class_id] = placed
        left_out = 0
        for other in sorted(ejected, key=lambda c: rng.random()):
            again, _ = place_class(problem, candidates[other], around)
            if again is None:
                left_out += 1
                if left_out > spare:
                    break
                continue
            for choice in again:
                around.add(other, choice)
            current[other] = again
        else:
            return current
    return None
