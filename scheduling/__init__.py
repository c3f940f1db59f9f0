"""The allocator: places a term's community classes (a space, a teacher and a weekly time for every
session) as a pure function over plain data — no database, no clock, no settings.

    solution = solve(problem, time_limit_s=10, seed=0)
    assert validate(problem, solution) == []
"""

from .explain import explain
from .problem import (
    Assignment,
    ClassOffer,
    Forbid,
    Lock,
    Problem,
    Progress,
    Solution,
    Space,
    Teacher,
    Unplaced,
    Violation,
    Weights,
)
from .solve import solve
from .validate import validate

__all__ = [
    "Assignment",
    "ClassOffer",
    "Forbid",
    "Lock",
    "Problem",
    "Progress",
    "Solution",
    "Space",
    "Teacher",
    "Unplaced",
    "Violation",
    "Weights",
    "explain",
    "solve",
    "validate",
]
