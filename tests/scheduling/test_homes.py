"""Home spaces for fixed times (``scheduling.homes``): classes that meet get different homes,
and sessions go to their home unless it is taken (then they pay ``same_space``)."""

import time
from functools import partial

from scheduling import Weights
from scheduling.homes import choose_homes, spaces_near_home
from scheduling.model import build_model
from scheduling.placement import assignments_of
from scheduling.score import penalties
from scheduling.time_first import keep_times

from .builders import at, make_class, make_problem, make_space, make_teacher

WEIGHTS = Weights(cohort_compactness=0, teacher_balance=0, same_space=1, over_capacity=1)
NINE, TEN, TUESDAY_NINE = (0, at(9)), (0, at(10)), (1, at(9))


def _model(times: dict, capacities=(30, 30)):
    problem = make_problem(
        spaces=tuple(make_space(i + 1, capacity=c) for i, c in enumerate(capacities)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=tuple(
            make_class(c, fixed_teacher_id=c, length_units=1, sessions_per_week=len(t), min_weekdays=0)
            for c, t in times.items()
        ),
        weights=WEIGHTS,
        soft_capacity=True,
    )
    return problem, build_model(problem, partial(keep_times, times=times))


def _homes(times: dict, hint: dict, capacities=(30, 30)) -> dict:
    _, m = _model(times, capacities)
    return choose_homes(m, times, hint, until=time.perf_counter() + 5, seed=0, workers=1)


def test_classes_that_meet_get_different_homes():
    homes = _homes({1: (NINE,), 2: (NINE,)}, hint={1: 1, 2: 1})
    assert homes[1] != homes[2]


def test_a_home_seats_everyone_when_one_can():
    assert _homes({1: (NINE,)}, hint={1: 1}, capacities=(5, 30)) == {1: 2}


def _same_space(times: dict, homes: dict) -> int:
    problem, m = _model(times)
    plan = spaces_near_home(m, times, homes, until=time.perf_counter() + 5, seed=0, workers=1)
    assert set(plan) == set(times)
    return penalties(problem, assignments_of(problem, plan))["same_space"]


def test_sessions_stay_at_home_when_it_is_free():
    assert _same_space({1: (NINE, TEN), 2: (NINE, TUESDAY_NINE)}, homes={1: 1, 2: 2}) == 0


def test_a_session_whose_home_is_taken_goes_elsewhere_and_pays():
    assert _same_space({1: (NINE, TEN), 2: (NINE, TUESDAY_NINE)}, homes={1: 1, 2: 1}) == 1
