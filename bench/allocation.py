"""Allocation of a district term: the solver against a greedy first-fit plan built in the same run.

    .venv/bin/python bench/allocation.py [--profiles district,wide,city] [--limit 60]
                                         [--checkpoint 10] [--seed 0] [--workers 2] [--memory-mb 4096]

Profiles (seeded generators, ``scheduling.generator`` and ``scheduling.wide_generator``):

- ``district``: the older generator — 300 classes, 150 spaces, 100 teachers, one or few space
  kinds per class, narrow time bands;
- ``wide``: the shape of real district data — 300 classes, 100 teachers (1–3 skills, 3–6 days,
  4–10 h a week, 40 % volunteers), 99 venues of six kinds over 50 communities in 8 towns, 178
  spaces of 14 kinds with their own hours, two public holidays, windows over most of the day
  on all seven days, most classes content with two or three space kinds, 30 % in a cohort;
- ``city``: the same shape at 1,000 classes, 300 teachers, 500 spaces in 280 venues.

Per profile, the greedy plan (the baseline: what a careful person placing classes one at a time,
least flexible first, gets) is built in this process; the solver runs in a child process of its
own (as the service runs it), under an address-space limit, and reports: how it solved the term
(one model or neighbourhoods), time to its first plan, classes placed at the checkpoint and at
the limit, the bound on classes any plan can place and the gap, and the child's peak resident
memory. Every plan is validated (a plan with violations fails the run); timing never does.

Targets (DESIGN.md): ``wide`` — first plan < 5 s, placed ≥ greedy at every checkpoint, peak
memory < 1.5 GB, gap ≤ 2 % at 60 s; ``city`` — a plan within 60 s under 2 GB; ``district``
not worse than before (295 placed at 60 s, greedy 292).
"""

import argparse
import multiprocessing
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduling import Problem, solve, validate
from scheduling.candidates import class_candidates
from scheduling.generator import district_problem
from scheduling.model import placeable_alone
from scheduling.warm_start import greedy_plan
from scheduling.wide_generator import city_problem, wide_problem

PROFILES = {
    "district": lambda seed: district_problem(seed=seed),
    "wide": lambda seed: wide_problem(seed),
    "city": lambda seed: city_problem(seed),
}
TARGETS = {  # profile -> (first plan s, peak MB, gap)
    "district": (10.0, None, None),
    "wide": (5.0, 1536, 0.02),
    "city": (60.0, 2048, None),
}


@dataclass(frozen=True)
class Run:
    method: str
    placed: int
    placed_bound: int | None
    first_plan_s: float | None
    timeline: tuple[tuple[float, int, str], ...]
    """(elapsed s, placed, stage) at each improving plan."""
    wall_s: float
    peak_mb: float
    violations: int

    def placed_at(self, seconds: float) -> int | None:
        heard = [placed for elapsed, placed, _ in self.timeline if elapsed <= seconds]
        return max(heard) if heard else None


def greedy(problem: Problem) -> tuple[int, float]:
    started = time.perf_counter()
    candidates = {offer.id: class_candidates(problem, offer) for offer in problem.classes}
    plan = greedy_plan(problem, {c: cand for c, cand in candidates.items() if placeable_alone(problem, cand)})
    return len(plan), time.perf_counter() - started


def _solve_in_child(profile: str, seed: int, limit_s: float, workers: int, memory_mb: int, answer) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    problem = PROFILES[profile](seed)
    timeline: list[tuple[float, int, str]] = []
    started = time.perf_counter()
    solution = solve(
        problem,
        time_limit_s=limit_s,
        seed=seed,
        workers=workers,
        on_progress=lambda p: timeline.append((p.elapsed_s, p.placed, p.stage)),
    )
    answer.send(
        Run(
            method=solution.method,
            placed=solution.placed_count,
            placed_bound=solution.placed_bound,
            first_plan_s=solution.first_feasible_s,
            timeline=tuple(timeline),
            wall_s=time.perf_counter() - started,
            peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            violations=len(validate(problem, solution)),
        )
    )


def solver_run(profile: str, seed: int, limit_s: float, workers: int, memory_mb: int) -> Run:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_solve_in_child, args=(profile, seed, limit_s, workers, memory_mb, send))
    child.start()
    send.close()
    try:
        run = receive.recv()
    except EOFError:
        child.join()
        raise SystemExit(f"{profile}: the solver process died (exit code {child.exitcode}) without a plan") from None
    child.join()
    return run


def show(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", default="district,wide,city")
    parser.add_argument("--limit", type=float, default=60.0, help="solver time limit, seconds")
    parser.add_argument("--checkpoint", type=float, default=10.0, help="also report what was placed by then")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-mb", type=int, default=4096, help="the solver process's address-space limit")
    args = parser.parse_args()

    print(
        f"allocation: limit {args.limit:g} s, checkpoint {args.checkpoint:g} s, seed {args.seed}, "
        f"{args.workers} workers, {os.cpu_count()} CPUs, solver process limited to {args.memory_mb} MB"
    )
    header = (
        f"{'profile':<9}{'classes':>8}{'greedy':>8}{'greedy s':>9}{'method':>15}{'1st plan s':>11}"
        f"{'@' + format(args.checkpoint, 'g') + ' s':>8}{'@' + format(args.limit, 'g') + ' s':>8}"
        f"{'bound':>7}{'gap':>7}{'peak MB':>9}{'wall s':>8}"
    )
    lines, verdicts = [header, "-" * len(header)], []
    for profile in args.profiles.split(","):
        problem = PROFILES[profile](args.seed)
        greedy_placed, greedy_s = greedy(problem)
        run = solver_run(profile, args.seed, args.limit, args.workers, args.memory_mb)
        if run.violations:
            raise SystemExit(f"{profile}: the plan breaks {run.violations} hard rules")
        gap = (run.placed_bound - run.placed) / run.placed_bound if run.placed_bound else None
        at_checkpoint = run.placed_at(args.checkpoint)
        lines.append(
            f"{profile:<9}{len(problem.classes):>8}{greedy_placed:>8}{greedy_s:>9.1f}{run.method:>15}"
            f"{show(run.first_plan_s, '.1f'):>11}{show(at_checkpoint, 'd'):>8}{run.placed:>8}"
            f"{show(run.placed_bound, 'd'):>7}{show(gap, '.1%'):>7}{run.peak_mb:>9.0f}{run.wall_s:>8.1f}"
        )
        first_s, peak_mb, gap_target = TARGETS[profile]
        early = first_s <= args.checkpoint  # a plan is due by the checkpoint: it must not be below greedy
        checks = [
            (f"first plan < {first_s:g} s", run.first_plan_s is not None and run.first_plan_s < first_s),
            (
                "placed >= greedy at every checkpoint" if early else "placed >= greedy at the limit",
                run.placed >= greedy_placed and (not early or (at_checkpoint or 0) >= greedy_placed),
            ),
        ]
        if peak_mb is not None:
            checks.append((f"peak < {peak_mb} MB", run.peak_mb < peak_mb))
        if gap_target is not None:
            checks.append((f"gap <= {gap_target:.0%}", gap is not None and gap <= gap_target))
        verdicts.append(
            f"{profile}: placed/greedy {run.placed / max(1, greedy_placed):.3f}; "
            + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks)
        )
    print("\n".join(lines))
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
