"""One feasible and one infeasible case per hard rule: the rule lets a plan through when it can,
and leaves the class unplaced with the right reason when it cannot."""

from scheduling import Weights

from .builders import (
    at,
    hours,
    make_class,
    make_problem,
    make_space,
    make_teacher,
    placed_ids,
    reasons_of,
    sessions_of,
    solved,
)

MONDAY, TUESDAY, WEDNESDAY = 0, 1, 2


def test_capacity_fits():
    problem = make_problem(spaces=(make_space(capacity=30),), classes=(make_class(learners=30),))
    assert placed_ids(solved(problem)) == {1}


def test_capacity_too_small():
    problem = make_problem(spaces=(make_space(capacity=30),), classes=(make_class(learners=31),))
    assert reasons_of(solved(problem), 1) == ("no_space_fits",)


def test_features_present():
    problem = make_problem(
        spaces=(make_space(1), make_space(2, features=frozenset({"piano", "step_free"}))),
        classes=(make_class(required_features=frozenset({"piano"})),),
    )
    assert [a.space_id for a in solved(problem).assignments] == [2]


def test_features_missing():
    problem = make_problem(
        spaces=(make_space(features=frozenset({"projector"})),),
        classes=(make_class(required_features=frozenset({"piano"})),),
    )
    assert reasons_of(solved(problem), 1) == ("no_space_fits",)


def test_kind_matches():
    problem = make_problem(
        spaces=(make_space(1), make_space(2, kind="kitchen")),
        classes=(make_class(allowed_kinds=frozenset({"kitchen"})),),
    )
    assert [a.space_id for a in solved(problem).assignments] == [2]


def test_kind_differs():
    problem = make_problem(
        spaces=(make_space(kind="classroom"),), classes=(make_class(allowed_kinds=frozenset({"kitchen"})),)
    )
    assert reasons_of(solved(problem), 1) == ("no_space_fits",)


def test_max_travel_km_within_reach():
    problem = make_problem(
        spaces=(make_space(1, venue_id=10), make_space(2, venue_id=20)),
        classes=(make_class(preferred_region_ids=frozenset({1})),),
        travel_km={(1, 10): 12.0, (1, 20): 4.0},
        max_travel_km=5.0,
    )
    assert [a.space_id for a in solved(problem).assignments] == [2]


def test_max_travel_km_out_of_reach():
    problem = make_problem(
        spaces=(make_space(1, venue_id=10),),
        classes=(make_class(preferred_region_ids=frozenset({1})),),
        travel_km={(1, 10): 12.0},
        max_travel_km=5.0,
    )
    assert reasons_of(solved(problem), 1) == ("no_space_fits",)


def test_skill_held():
    problem = make_problem(
        teachers=(make_teacher(1, skills=frozenset({"music"})), make_teacher(2, skills=frozenset({"art"}))),
    )
    assert [a.teacher_id for a in solved(problem).assignments] == [2]


def test_skill_missing():
    problem = make_problem(teachers=(make_teacher(skills=frozenset({"music"})),))
    assert reasons_of(solved(problem), 1) == ("no_qualified_teacher",)


def test_fixed_teacher_teaches_without_the_skill():
    problem = make_problem(
        teachers=(make_teacher(1), make_teacher(2, skills=frozenset())),
        classes=(make_class(fixed_teacher_id=2),),
    )
    assert [a.teacher_id for a in solved(problem).assignments] == [2]


def test_fixed_teacher_missing():
    problem = make_problem(classes=(make_class(fixed_teacher_id=99),))
    assert reasons_of(solved(problem), 1) == ("no_qualified_teacher",)


def test_teacher_available():
    problem = make_problem(teachers=(make_teacher(available_units=hours([TUESDAY], 9, 11)),))
    (session,) = solved(problem).assignments
    assert (session.weekday, session.start_unit) in {(TUESDAY, at(9)), (TUESDAY, at(9.5)), (TUESDAY, at(10))}


def test_teacher_unavailable_when_the_class_is_allowed():
    problem = make_problem(
        teachers=(make_teacher(available_units=hours([TUESDAY], 9, 11)),),
        classes=(make_class(allowed_units=hours([MONDAY], 9, 11)),),
    )
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def test_teacher_weekly_minutes_hold_every_session():
    problem = make_problem(
        teachers=(make_teacher(max_minutes_per_week=120),),
        classes=(make_class(sessions_per_week=2, length_units=2),),
    )
    assert len(solved(problem).assignments) == 2


def test_teacher_weekly_minutes_too_few_for_the_class():
    problem = make_problem(
        teachers=(make_teacher(max_minutes_per_week=90),),
        classes=(make_class(sessions_per_week=2, length_units=2),),
    )
    assert reasons_of(solved(problem), 1) == ("no_qualified_teacher",)


def test_teacher_weekly_minutes_shared_between_classes():
    problem = make_problem(
        teachers=(make_teacher(max_minutes_per_week=90),),
        spaces=(make_space(1), make_space(2)),
        classes=(make_class(1), make_class(2)),
        weights=Weights(teacher_balance=0),  # the balance term's bound would also cap the load
    )
    solution = solved(problem)
    assert solution.placed_count == 1
    (unplaced,) = solution.unplaced
    assert unplaced.reasons == ("conflicts",)
    assert str(({1, 2} - {unplaced.class_id}).pop()) in unplaced.detail


def test_refused_venue_avoided():
    problem = make_problem(
        spaces=(make_space(1, venue_id=10), make_space(2, venue_id=20)),
        teachers=(make_teacher(refused_venue_ids=frozenset({10})),),
        classes=(make_class(preferred_region_ids=frozenset({1})),),
        travel_km={(1, 10): 1.0, (1, 20): 9.0},  # the refused venue would be the learners' choice
    )
    assert [a.space_id for a in solved(problem).assignments] == [2]


def test_refused_venue_is_the_only_one():
    problem = make_problem(
        spaces=(make_space(1, venue_id=10),),
        teachers=(make_teacher(refused_venue_ids=frozenset({10})),),
    )
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def test_space_open():
    problem = make_problem(spaces=(make_space(open_units=hours([WEDNESDAY], 18, 19)),))
    (session,) = solved(problem).assignments
    assert (session.weekday, session.start_unit) == (WEDNESDAY, at(18))


def test_space_closed_when_the_class_is_allowed():
    problem = make_problem(
        spaces=(make_space(open_units=hours([WEDNESDAY], 18, 21)),),
        classes=(make_class(allowed_units=hours([WEDNESDAY], 9, 12)),),
    )
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def test_blocked_in_few_weeks_is_used_and_skipped():
    blocked = {(MONDAY, at(18)): frozenset({2, 7, 9})}  # 3 of 12 weeks: at the 25 % share
    problem = make_problem(
        spaces=(make_space(open_units=hours([MONDAY], 18, 19), blocked=blocked),),
    )
    (session,) = solved(problem).assignments
    assert session.skipped_weeks == (2, 7, 9)


def test_blocked_in_too_many_weeks_is_unusable():
    blocked = {(MONDAY, at(18)): frozenset({2, 7}), (MONDAY, at(18.5)): frozenset({3, 9})}
    problem = make_problem(
        spaces=(make_space(open_units=hours([MONDAY], 18, 19), blocked=blocked),),
    )
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def test_space_no_overlap_when_there_is_time_for_both():
    problem = make_problem(
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=hours([MONDAY], 9, 11)),
            make_class(2, allowed_units=hours([MONDAY], 9, 11)),
        ),
    )
    first, second = sorted(solved(problem).assignments, key=lambda a: a.start_unit)
    assert first.start_unit + 2 <= second.start_unit


def test_space_no_overlap_leaves_one_class_out():
    problem = make_problem(
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=hours([MONDAY], 9, 10)),
            make_class(2, allowed_units=hours([MONDAY], 9, 10)),
        ),
    )
    solution = solved(problem)
    assert solution.placed_count == 1
    assert solution.unplaced[0].reasons == ("conflicts",)


def test_courts_of_a_divisible_hall_are_used_side_by_side():
    hall = make_space(1, capacity=100, kind="hall", leaves=frozenset({2, 3}))
    courts = (make_space(2, venue_id=1, kind="court"), make_space(3, venue_id=1, kind="court"))
    slot = hours([MONDAY], 9, 10)
    problem = make_problem(
        spaces=(hall, *courts),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=slot, allowed_kinds=frozenset({"court"})),
            make_class(2, allowed_units=slot),
        ),
    )
    assert {a.space_id for a in solved(problem).assignments} == {2, 3}


def test_divisible_hall_holds_its_courts():
    hall = make_space(1, capacity=100, kind="hall", leaves=frozenset({2, 3}))
    courts = (make_space(2, venue_id=1, kind="court"), make_space(3, venue_id=1, kind="court"))
    slot = hours([MONDAY], 9, 10)
    problem = make_problem(
        spaces=(hall, *courts),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(make_class(1, allowed_units=slot, learners=80), make_class(2, allowed_units=slot)),
    )
    solution = solved(problem)
    assert solution.placed_count == 1
    assert solution.unplaced[0].reasons == ("conflicts",)


def test_teacher_no_overlap_with_a_second_teacher():
    slot = hours([MONDAY], 9, 10)
    problem = make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(make_class(1, allowed_units=slot), make_class(2, allowed_units=slot)),
    )
    assert {a.teacher_id for a in solved(problem).assignments} == {1, 2}


def test_teacher_no_overlap_with_one_teacher():
    slot = hours([MONDAY], 9, 10)
    problem = make_problem(
        spaces=(make_space(1), make_space(2)),
        classes=(make_class(1, allowed_units=slot), make_class(2, allowed_units=slot)),
    )
    solution = solved(problem)
    assert solution.placed_count == 1
    assert solution.unplaced[0].reasons == ("conflicts",)


def _two_classes_at_one_slot(cohort_1: str, cohort_2: str):
    slot = hours([MONDAY], 9, 10)
    return make_problem(
        weights=Weights(cohort_compactness=0),  # the idle-unit term would also forbid the overlap
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=slot, cohorts=frozenset({cohort_1})),
            make_class(2, allowed_units=slot, cohorts=frozenset({cohort_2})),
        ),
    )


def test_different_cohorts_may_overlap():
    assert solved(_two_classes_at_one_slot("elderly-east", "youth-east")).placed_count == 2


def test_shared_cohort_never_overlaps():
    solution = solved(_two_classes_at_one_slot("elderly-east", "elderly-east"))
    assert solution.placed_count == 1
    assert solution.unplaced[0].reasons == ("conflicts",)


def test_allowed_units_respected():
    problem = make_problem(classes=(make_class(allowed_units=hours([WEDNESDAY], 10, 11)),))
    (session,) = solved(problem).assignments
    assert (session.weekday, session.start_unit) == (WEDNESDAY, at(10))


def test_allowed_units_too_short_for_a_session():
    problem = make_problem(classes=(make_class(allowed_units=hours([WEDNESDAY], 10, 10.5)),))
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def test_session_never_crosses_midnight():
    late = hours([MONDAY], 23.5, 24) | hours([TUESDAY], 0, 0.5)
    problem = make_problem(
        spaces=(make_space(open_units=late),),
        teachers=(make_teacher(available_units=late),),
        classes=(make_class(allowed_units=late),),
    )
    assert reasons_of(solved(problem), 1) == ("no_common_time",)


def _back_to_back_at_two_venues(second_starts_at: float, travel: dict):
    """One teacher: class 1 at venue 10 from 09:00 to 10:00, class 2 at venue 20 an hour long."""
    return make_problem(
        spaces=(make_space(1, venue_id=10), make_space(2, venue_id=20, kind="lab")),
        classes=(
            make_class(1, allowed_units=hours([MONDAY], 9, 10), allowed_kinds=frozenset({"classroom"})),
            make_class(
                2,
                allowed_units=hours([MONDAY], second_starts_at, second_starts_at + 1),
                allowed_kinds=frozenset({"lab"}),
            ),
        ),
        venue_travel_minutes=travel,
    )


def test_teacher_travel_fits_in_the_gap():
    assert solved(_back_to_back_at_two_venues(10.5, {(10, 20): 30})).placed_count == 2


def test_teacher_travel_does_not_fit_in_the_gap():
    solution = solved(_back_to_back_at_two_venues(10.5, {(10, 20): 40}))
    assert solution.placed_count == 1
    assert solution.unplaced[0].reasons == ("conflicts",)


def test_teacher_travel_given_one_way_counts_both_ways():
    assert solved(_back_to_back_at_two_venues(10, {(20, 10): 15})).placed_count == 1


def test_teacher_travel_earlier_session_at_the_far_venue():
    problem = _back_to_back_at_two_venues(8, {(10, 20): 30})  # class 2 08:00-09:00, then class 1
    assert solved(problem).placed_count == 1


def test_sessions_on_distinct_weekdays():
    problem = make_problem(classes=(make_class(sessions_per_week=2, allowed_units=hours([MONDAY, TUESDAY], 9, 12)),))
    assert sorted(a.weekday for a in solved(problem).assignments) == [MONDAY, TUESDAY]


def test_not_enough_weekdays_for_the_sessions():
    problem = make_problem(classes=(make_class(sessions_per_week=2, allowed_units=hours([MONDAY], 9, 12)),))
    assert reasons_of(solved(problem), 1) == ("not_enough_days",)


def test_class_is_placed_whole_or_not_at_all():
    """Two sessions needed, the space is open on two days but free on only one of them."""
    problem = make_problem(
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, allowed_units=hours([MONDAY], 9, 10)),
            make_class(2, sessions_per_week=2, allowed_units=hours([MONDAY, TUESDAY], 9, 10)),
        ),
    )
    solution = solved(problem)
    assert len(sessions_of(solution, 2)) in (0, 2)
    assert solution.placed_count == 1
