"""Solve a CB-CTT instance with ``scheduling``'s own solver (time first, then rooms)."""

from scheduling import solve

from .convert import lectures_of, to_problem
from .instance import Instance, Lecture


def solve_instance(
    instance: Instance, *, time_limit_s: float = 300.0, seed: int = 0, workers: int = 2
) -> tuple[Lecture, ...]:
    """The lectures of the best timetable found in ``time_limit_s``; score them with ``ud2.score``."""
    converted = to_problem(instance)
    solution = solve(converted.problem, time_limit_s=time_limit_s, seed=seed, workers=workers, time_first=True)
    return lectures_of(converted, instance, solution)
