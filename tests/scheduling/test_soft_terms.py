"""A penalised / not-penalised pair per soft term: the solver avoids the penalty when it can, and
pays exactly what ``scheduling.score`` says when it cannot."""

from scheduling import Weights
from scheduling.score import penalties

from .builders import at, hours, make_class, make_problem, make_space, make_teacher, placed_ids, proven, solved

MONDAY, TUESDAY = 0, 1


def _penalty(problem, term: str) -> int:
    solution = proven(problem)
    return penalties(problem, solution.assignments)[term]


def _travel_problem(*venues: int):
    return make_problem(
        spaces=tuple(make_space(v, venue_id=v) for v in venues),
        classes=(make_class(sessions_per_week=2, preferred_region_ids=frozenset({1, 2})),),
        travel_km={(1, 10): 1.2, (2, 10): 6.0, (1, 20): 8.4, (2, 20): 9.0},
    )


def test_travel_avoided_by_the_near_venue():
    assert _penalty(_travel_problem(10, 20), "travel") == 2  # 1 km from region 1, twice


def test_travel_paid_at_the_far_venue():
    assert _penalty(_travel_problem(20), "travel") == 16


def _two_session_problem(monday_space_open_tuesday: bool):
    monday = hours([MONDAY])
    return make_problem(
        spaces=(
            make_space(1, open_units=monday | hours([TUESDAY]) if monday_space_open_tuesday else monday),
            make_space(2, open_units=hours([TUESDAY])),
        ),
        classes=(make_class(sessions_per_week=2, allowed_units=hours([MONDAY, TUESDAY])),),
    )


def test_same_space_kept_for_every_session():
    assert _penalty(_two_session_problem(monday_space_open_tuesday=True), "same_space") == 0


def test_same_space_penalised_per_extra_space():
    assert _penalty(_two_session_problem(monday_space_open_tuesday=False), "same_space") == 1


def _cohort_problem(second_window: tuple[float, float]):
    return make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=hours([MONDAY], 9, 10), cohorts=frozenset({"elderly"})),
            make_class(2, allowed_units=hours([MONDAY], *second_window), cohorts=frozenset({"elderly"})),
        ),
    )


def test_cohort_sessions_back_to_back():
    assert _penalty(_cohort_problem((9, 14)), "cohort_compactness") == 0


def test_cohort_idle_units_penalised():
    assert _penalty(_cohort_problem((12, 13)), "cohort_compactness") == at(12) - at(10)


def _balance_problem(fixed_teachers: tuple[int | None, int | None, int | None]):
    return make_problem(
        spaces=(make_space(1), make_space(2), make_space(3)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=tuple(
            make_class(i, length_units=length, fixed_teacher_id=teacher)
            for i, (length, teacher) in enumerate(zip((4, 2, 2), fixed_teachers, strict=True), start=1)
        ),
    )


def test_teacher_load_spread_over_both_teachers():
    assert _penalty(_balance_problem((None, None, None)), "teacher_balance") == 4  # 4 | 2 + 2


def test_teacher_load_piled_on_one_teacher_penalised():
    assert _penalty(_balance_problem((1, 1, 2)), "teacher_balance") == 6  # 4 + 2 | 2


def _fairness_problem(weights: Weights):
    """Room for two of four classes; community 2's classes are farther away."""
    slot = hours([MONDAY], 9, 10) | hours([TUESDAY], 9, 10)
    return make_problem(
        spaces=(make_space(1, venue_id=10),),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=tuple(
            make_class(i, allowed_units=slot, community_id=community, preferred_region_ids=frozenset({community}))
            for i, community in ((1, 1), (2, 1), (3, 2), (4, 2))
        ),
        travel_km={(1, 10): 1.0, (2, 10): 5.0},
        weights=weights,
    )


def test_fairness_places_one_class_of_each_community():
    problem = _fairness_problem(Weights())
    solution = solved(problem)
    assert {problem.class_by_id[c].community_id for c in placed_ids(solution)} == {1, 2}
    assert penalties(problem, solution.assignments)["fairness"] == 0


def test_fairness_ignored_favours_the_nearer_community():
    problem = _fairness_problem(Weights(fairness=0))
    solution = solved(problem)
    assert placed_ids(solution) == {1, 2}
    assert penalties(problem, solution.assignments)["fairness"] == 100


def _skipped_problem(*blocked_spaces: int):
    blocked = {(MONDAY, at(9)): frozenset({3})}
    slot = hours([MONDAY], 9, 10)
    return make_problem(
        spaces=tuple(make_space(i, open_units=slot, blocked=blocked if i in blocked_spaces else {}) for i in (1, 2)),
        classes=(make_class(allowed_units=slot),),
    )


def test_skipped_weeks_avoided_in_a_free_space():
    assert _penalty(_skipped_problem(1), "skipped_weeks") == 0


def test_skipped_weeks_penalised_per_week():
    assert _penalty(_skipped_problem(1, 2), "skipped_weeks") == 1
