"""CB-CTT (ITC-2007 Track 3) instances through scheduling's own solver, scored under UD2.

    .venv/bin/python bench/cbctt.py [--time-limit 300] [--workers 2] [--seed 0] [comp01 comp07 ...]

Solves each instance (all 21 by default) with ``integrations.ctt.solve_instance``, scores the
timetable with the independent UD2 scorer, and prints: hard violations, penalty, the best known
penalty, the best ITC-2007 finalist's (best of 10 organiser runs, about 5 min each), and the
ratio of ours to the best known. The median ratio comes last. The reference figures come from
bench/cb-ctt/best_known.csv and are only printed beside ours; the solver never reads them.
"""

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.ctt import read_instance, score, solve_instance

DATA = Path(__file__).resolve().parent / "cb-ctt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instances", nargs="*", help="e.g. comp01 (default: all 21)")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with (DATA / "best_known.csv").open() as rows:
        reference = {row["instance"]: row for row in csv.DictReader(rows)}
    names = args.instances or sorted(reference)
    print(f"cb-ctt: {len(names)} instances, {args.time_limit:g} s each, {args.workers} workers, seed {args.seed}")
    print(f"{'instance':<9} {'hard':>5} {'penalty':>8} {'best':>6} {'finalist':>9} {'ratio':>7} {'seconds':>8}")
    ratios, feasible = [], 0
    for name in names:
        instance = read_instance((DATA / f"{name}.ctt").read_text())
        started = time.perf_counter()
        result = score(
            instance, solve_instance(instance, time_limit_s=args.time_limit, seed=args.seed, workers=args.workers)
        )
        seconds = time.perf_counter() - started
        best, finalist = int(reference[name]["ub_ud2"]), reference[name]["itc2007_best_finalist_best10"]
        ratio = _ratio(result.cost, best) if result.violations == 0 else float("inf")
        feasible += result.violations == 0
        ratios.append(ratio)
        print(
            f"{name:<9} {result.violations:>5} {result.cost:>8} {best:>6} {finalist:>9} {ratio:>7.2f} {seconds:>8.1f}",
            flush=True,
        )
    print(f"feasible: {feasible}/{len(names)}; median ratio to best known: {statistics.median(ratios):.2f}")
    return 0 if feasible == len(names) else 1


def _ratio(cost: int, best: int) -> float:
    """Ours over best known; a best known of 0 (comp11) counts as 1 when matched, else cost + 1."""
    return cost / best if best else float(cost + 1)


if __name__ == "__main__":
    raise SystemExit(main())
