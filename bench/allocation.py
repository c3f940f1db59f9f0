"""Allocation of a district term: CP-SAT against a greedy first-fit plan built in the same run.

    .venv/bin/python bench/allocation.py [--classes 300] [--spaces 150] [--teachers 100]
                                         [--weeks 12] [--seed 0] [--limits 10,60] [--workers 2]

Prints, for the greedy plan (the baseline: what a careful person placing classes one at a
time, least flexible first, would get) and for CP-SAT at each time limit: classes placed, the
weighted soft penalty of the plan (scored independently of the model), the solver's objective
and bound, the gap, and the time to the first feasible plan. Every plan is validated; a plan
with violations fails the run. Timing never does. Targets (DESIGN.md): a feasible plan in
< 10 s; gap <= 5 % at 60 s.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling import Assignment, Problem, solve, validate
from scheduling.candidates import class_candidates
from scheduling.generator import district_problem
from scheduling.score import penalties, weighted_total
from scheduling.warm_start import greedy_plan

TARGET_FIRST_FEASIBLE_S = 10.0
TARGET_GAP = 0.05


@dataclass(frozen=True)
class Row:
    name: str
    placed: int
    soft: int
    objective: float | None = None
    bound: float | None = None
    seconds: float = 0.0
    first_feasible_s: float | None = None

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None or not self.objective:
            return None
        return (self.objective - self.bound) / abs(self.objective)


def greedy(problem: Problem) -> Row:
    started = time.perf_counter()
    candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
    plan = greedy_plan(problem, candidates)
    assignments = [
        Assignment(class_id, index, c.weekday, c.start_unit, c.space_id, c.teacher_id, _skipped(problem, class_id, c))
        for class_id, choices in plan.items()
        for index, c in enumerate(choices)
    ]
    seconds = time.perf_counter() - started
    return Row(
        "greedy (baseline)", len(plan), weighted_total(problem, penalties(problem, assignments)), seconds=seconds
    )


def _skipped(problem: Problem, class_id: int, choice) -> tuple[int, ...]:
    space = problem.space_by_id[choice.space_id]
    length = problem.class_by_id[class_id].length_units
    weeks: set[int] = set()
    for unit in range(choice.start_unit, choice.start_unit + length):
        weeks |= space.blocked.get((choice.weekday, unit), frozenset())
    return tuple(sorted(weeks))


def cp_sat(problem: Problem, limit_s: float, seed: int, workers: int) -> Row:
    started = time.perf_counter()
    solution = solve(problem, time_limit_s=limit_s, seed=seed, workers=workers)
    seconds = time.perf_counter() - started
    violations = validate(problem, solution)
    if violations:
        raise SystemExit(f"CP-SAT plan at {limit_s:g} s has {len(violations)} violations, e.g. {violations[0]}")
    soft = weighted_total(problem, penalties(problem, solution.assignments))
    return Row(
        f"CP-SAT {limit_s:g} s",
        solution.placed_count,
        soft,
        solution.objective,
        solution.bound,
        seconds,
        solution.first_feasible_s,
    )


def show(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=300)
    parser.add_argument("--spaces", type=int, default=150)
    parser.add_argument("--teachers", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limits", default="10,60", help="comma-separated time limits in seconds")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    problem = district_problem(
        seed=args.seed, classes=args.classes, spaces=args.spaces, teachers=args.teachers, weeks=args.weeks
    )
    print(
        f"allocation: {args.classes} classes, {args.spaces} spaces, {args.teachers} teachers, {args.weeks} weeks, "
        f"seed {args.seed}, {args.workers} workers, {os.cpu_count()} CPUs"
    )
    rows = [greedy(problem)] + [
        cp_sat(problem, float(limit), args.seed, args.workers) for limit in args.limits.split(",")
    ]
    print(
        f"{'plan':<20}{'placed':>8}{'unplaced':>10}{'soft':>10}{'objective':>12}{'bound':>12}{'gap':>8}"
        f"{'time s':>9}{'1st feas s':>12}"
    )
    print("-" * 101)
    for row in rows:
        print(
            f"{row.name:<20}{row.placed:>8}{len(problem.classes) - row.placed:>10}{row.soft:>10}"
            f"{show(row.objective, '.0f'):>12}{show(row.bound, '.0f'):>12}{show(row.gap, '.1%'):>8}"
            f"{row.seconds:>9.1f}{show(row.first_feasible_s, '.1f'):>12}"
        )
    baseline, first, last = rows[0], rows[1], rows[-1]
    print()
    met = first.first_feasible_s is not None and first.first_feasible_s < TARGET_FIRST_FEASIBLE_S
    print(
        f"first feasible plan: {show(first.first_feasible_s, '.1f')} s  (target < 10 s: {'met' if met else 'MISSED'})"
    )
    gap_met = last.gap is not None and last.gap <= TARGET_GAP
    print(f"gap at {last.name[7:]}: {show(last.gap, '.1%')}  (target <= 5 %: {'met' if gap_met else 'MISSED'})")
    print(
        f"placed vs greedy: {last.placed}/{baseline.placed}; soft penalty ratio CP-SAT/greedy: "
        f"{last.soft / baseline.soft if baseline.soft else float('nan'):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
