"""The two CP-SAT phases of a solve, their parameters, progress reports and cancellation.

1. **Placement**: the hard rules only, minimising unplaced classes, from the greedy plan.
   Skipped when the greedy plan already places every class the model could place.
2. **Quality**: the full objective (``objective.set_objective``), from the best placement
   (completed into a full hint), with "at least that many classes placed" added. That
   constraint never cuts off the lexicographic optimum, and it spares the search from
   re-discovering placements while it trades soft penalties.

Splitting helps on district-scale terms: with every soft term in the objective, CP-SAT's
neighbourhood search rarely finds the multi-class moves that place one more class.

Search settings depend on the model's size (``deterministic=None``):

- up to ``DETERMINISTIC_UP_TO`` variables: full presolve and ``interleave_search``, CP-SAT's
  deterministic parallel mode (workers run batches of tasks and synchronise between batches).
  Such models are usually solved to optimality within the limit, and a run that ends by itself
  gives the same plan for the same problem, seed and workers.
- above it (a district term): no presolve (it costs more than it saves; the greedy plan is
  already a feasible hint) and the default parallel portfolio, whose workers share solutions
  asynchronously: faster, not reproducible. A run cut by the time limit is not reproducible in
  any mode, since where it stops depends on the machine.
"""

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .model import AllocationModel
from .objective import placed_at_most, units_left_out, unplaced_units
from .placement import Choice, Plan, assignments_of
from .problem import Progress
from .score import penalties, weighted_total
from .warm_start import hint_completed, hint_decisions

DETERMINISTIC_UP_TO = 20_000
STOP_POLL_S = 0.05
MIN_SEARCH_S = 0.05
FOUND = (cp_model.OPTIMAL, cp_model.FEASIBLE)


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    status: int
    """CP-SAT status of the quality phase (UNKNOWN if it did not run)."""
    objective: float
    bound: float


Reading = tuple[float, float, int]
"""What a progress report says about a solution: objective, bound, classes placed."""


@dataclass
class Search:
    m: AllocationModel
    placement_weight: int
    started: float
    seed: int
    workers: int
    deterministic: bool
    on_progress: Callable[[Progress], None] | None
    stop: Callable[[], bool] | None
    first_solution_s: float | None = None
    stage: str = "placement"

    @property
    def never_placed(self) -> int:
        """Placement units of the classes the model cannot place at all."""
        return units_left_out(self.m.problem, self.m.candidates)

    def place_most(self, placement_model: cp_model.CpModel, plan: Plan, until: float) -> tuple[Plan, int]:
        """The plan with the most classes (in placement units) found in time, and a lower bound on
        the placement units left out. ``until`` is a ``time.perf_counter()`` deadline."""
        if len(plan) == len(self.m.candidates):
            self.report((self.objective_of(plan), self.placement_weight * self.never_placed, len(plan)))
            return plan, self.never_placed
        placed = {c: placement_model.get_bool_var_from_proto_index(v.index) for c, v in self.m.placed.items()}
        placement_model.minimize(unplaced_units(self.m.problem, placed))
        hint_decisions(placement_model, self.m, plan)
        reported: list[Plan] = []

        def reading(found: cp_model.CpSolverSolutionCallback) -> Reading:
            reported.append(read_plan(self.m, found.boolean_value))
            bound = self.placement_weight * self._unplaced_bound(found.best_objective_bound)
            return self.objective_of(reported[-1]), bound, len(reported[-1])

        solver = self._solver(until)
        self._run(solver, placement_model, reading)
        # The first plan reported at the best count, not CP-SAT's last one: the phase is blind to
        # soft terms, so later plans with as many classes are no better and often worse.
        if reported and units_left_out(self.m.problem, reported[-1]) < units_left_out(self.m.problem, plan):
            plan = reported[-1]
        return plan, self._unplaced_bound(solver.best_objective_bound)

    def improve(self, plan: Plan, unplaced_bound: int, until: float) -> Outcome:
        """Minimise the full objective keeping at least the plan's number of classes."""
        floor = float(self.placement_weight * unplaced_bound)
        self.stage = "quality"
        if self.stopped():
            return Outcome(plan, cp_model.UNKNOWN, self.objective_of(plan), floor)
        self.m.model.add(unplaced_units(self.m.problem, self.m.placed) <= units_left_out(self.m.problem, plan))
        hint_completed(self.m, plan, time_limit_s=max(MIN_SEARCH_S, min(5.0, (until - time.perf_counter()) / 4)))
        solver = self._solver(until)
        placed = list(self.m.placed.values())

        def reading(found: cp_model.CpSolverSolutionCallback) -> Reading:
            count = sum(found.boolean_value(var) for var in placed)
            return found.objective_value, max(found.best_objective_bound, floor), count

        status = self._run(solver, self.m.model, reading)
        if status not in FOUND:
            return Outcome(plan, status, self.objective_of(plan), floor)
        bound = max(solver.best_objective_bound, floor)
        return Outcome(read_plan(self.m, solver.boolean_value), status, solver.objective_value, bound)

    def objective_of(self, plan: Plan) -> float:
        """The full objective of a plan, from the plan alone (``scheduling.score``)."""
        problem = self.m.problem
        soft = weighted_total(problem, penalties(problem, assignments_of(problem, plan)))
        return float(self.placement_weight * units_left_out(problem, plan) + soft)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop()

    def report(self, reading: Reading) -> None:
        elapsed = time.perf_counter() - self.started
        if self.first_solution_s is None:
            self.first_solution_s = elapsed
        if self.on_progress is not None:
            objective, bound, placed = reading
            at_most = placed_at_most(self.m.problem, math.floor(bound / self.placement_weight + 1e-9))
            self.on_progress(Progress(objective, bound, elapsed, placed, self.stage, at_most))

    def _unplaced_bound(self, bound: float) -> int:
        return max(self.never_placed, math.ceil(bound - 1e-6)) if math.isfinite(bound) else self.never_placed

    def _solver(self, until: float) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(until - time.perf_counter(), MIN_SEARCH_S)
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = self.seed
        solver.parameters.interleave_search = self.deterministic
        solver.parameters.cp_model_presolve = self.deterministic
        return solver

    def _run(
        self,
        solver: cp_model.CpSolver,
        model: cp_model.CpModel,
        reading: Callable[[cp_model.CpSolverSolutionCallback], Reading],
    ) -> int:
        with polling(solver, self.stop):
            status = solver.solve(model, _Reporter(self, reading))
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"scheduling built an invalid model: {model.validate()}")
        return status


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Reports every improving solution and asks CP-SAT to stop once ``stop()`` says so."""

    def __init__(self, search: Search, reading: Callable[[cp_model.CpSolverSolutionCallback], Reading]) -> None:
        super().__init__()
        self.search = search
        self.reading = reading

    def on_solution_callback(self) -> None:
        self.search.report(self.reading(self))
        if self.search.stopped():
            self.stop_search()


def read_plan(m: AllocationModel, value_of: Callable[[cp_model.IntVar], bool]) -> Plan:
    """The placed classes' sessions in a solution (of ``m.model`` or of a clone with its indexes)."""
    plan = {}
    for class_id, placed in m.placed.items():
        if not value_of(placed):
            continue
        sessions = []
        for option in m.candidates[class_id].options:
            key = (class_id, option.weekday, option.start_unit)
            if value_of(m.start[key]):
                space_id = next(sp for sp, x in m.space[key].items() if value_of(x))
                teacher_id = next(t for (t, _), y in m.teacher[key].items() if value_of(y))
                sessions.append(Choice(option.weekday, option.start_unit, space_id, teacher_id))
        plan[class_id] = tuple(sessions)
    return plan


@contextmanager
def polling(solver: cp_model.CpSolver, stop: Callable[[], bool] | None) -> Iterator[None]:
    """Also watch ``stop`` between solutions, so a cancel is heard while none are found."""
    if stop is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(STOP_POLL_S):
            if stop():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="scheduling-stop-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
