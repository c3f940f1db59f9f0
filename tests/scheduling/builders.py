"""Small problems with sensible defaults: override only what a test is about.

Defaults: a 30-minute grid and a 12-week term; every space is its own venue in region 1, open
every day 08:00-22:00; every teacher teaches "art", is available whenever spaces are open and
may teach 600 minutes a week; every class is one one-hour session of 10 learners needing
"art", allowed whenever spaces are open.
"""

from collections.abc import Iterable
from typing import Any

from scheduling import ClassOffer, Problem, Solution, Space, Teacher, solve, validate
from scheduling.problem import Unit

GRID_MINUTES = 30


def at(hour: float) -> int:
    """The unit index of a wall-clock hour on the default grid (9.5 -> 09:30)."""
    return round(hour * 60 / GRID_MINUTES)


def hours(days: Iterable[int] = range(7), start: float = 8, end: float = 22) -> frozenset[Unit]:
    return frozenset((day, unit) for day in days for unit in range(at(start), at(end)))


DEFAULT_HOURS = hours()


def make_space(id: int = 1, **overrides: Any) -> Space:
    fields = {
        "venue_id": id,
        "region_id": 1,
        "capacity": 30,
        "kind": "classroom",
        "open_units": DEFAULT_HOURS,
        **overrides,
    }
    return Space(id=id, **fields)


def make_teacher(id: int = 1, **overrides: Any) -> Teacher:
    fields = {
        "skills": frozenset({"art"}),
        "available_units": DEFAULT_HOURS,
        "max_minutes_per_week": 600,
        **overrides,
    }
    return Teacher(id=id, **fields)


def make_class(id: int = 1, **overrides: Any) -> ClassOffer:
    fields = {
        "sessions_per_week": 1,
        "length_units": 2,
        "learners": 10,
        "required_skill": "art",
        "allowed_units": DEFAULT_HOURS,
        **overrides,
    }
    return ClassOffer(id=id, **fields)


def make_problem(**overrides: Any) -> Problem:
    fields = {
        "grid_minutes": GRID_MINUTES,
        "weeks": 12,
        "spaces": (make_space(),),
        "teachers": (make_teacher(),),
        "classes": (make_class(),),
        **overrides,
    }
    return Problem(**fields)


def solved(problem: Problem, **options: Any) -> Solution:
    """Solve and insist the plan breaks no hard rule: every test that solves goes through here."""
    solution = solve(problem, **{"time_limit_s": 5.0, **options})
    assert validate(problem, solution) == []
    return solution


PROOF_LIMIT_S = 600.0
"""Far beyond what the small problems of the tests need to be proven optimal (milliseconds): the
wall clock never decides the outcome, however loaded the machine."""


def proven(problem: Problem, **options: Any) -> Solution:
    """Solve a problem small enough to be proven optimal at once, with one worker in CP-SAT's
    deterministic mode (the same plan every run), and insist it was."""
    solution = solved(problem, **{"time_limit_s": PROOF_LIMIT_S, "workers": 1, "deterministic": True, **options})
    assert solution.status == "optimal"
    return solution


def placed_ids(solution: Solution) -> set[int]:
    return {a.class_id for a in solution.assignments}


def reasons_of(solution: Solution, class_id: int) -> tuple[str, ...]:
    return next(u.reasons for u in solution.unplaced if u.class_id == class_id)


def sessions_of(solution: Solution, class_id: int) -> list:
    return [a for a in solution.assignments if a.class_id == class_id]
