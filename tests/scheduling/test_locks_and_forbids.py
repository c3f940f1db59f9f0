"""Staff decisions on a re-run: locks are kept exactly, forbids are never matched."""

from dataclasses import replace

from scheduling import Forbid, Lock

from .builders import at, hours, make_class, make_problem, make_space, make_teacher, placed_ids, reasons_of, solved

MONDAY, TUESDAY, FRIDAY = 0, 1, 4


def _term():
    return make_problem(
        spaces=(make_space(1), make_space(2), make_space(3)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, sessions_per_week=2, allowed_units=hours(range(5), 9, 12)),
            make_class(2, allowed_units=hours(range(5), 9, 12)),
            make_class(3, length_units=3, allowed_units=hours(range(5), 18, 21)),
        ),
    )


def _as_locks(assignments):
    return tuple(
        Lock(a.class_id, a.session_index, a.weekday, a.start_unit, a.space_id, a.teacher_id) for a in assignments
    )


def test_lock_kept_exactly():
    lock = Lock(class_id=1, session_index=1, weekday=FRIDAY, start_unit=at(10.5), space_id=3, teacher_id=2)
    solution = solved(replace(_term(), locks=(lock,)))
    assert _as_locks(a for a in solution.assignments if a.session_index == 1 and a.class_id == 1) == (lock,)


def test_resolve_with_every_assignment_locked_gives_the_same_plan():
    first = solved(_term())
    again = solved(replace(_term(), locks=_as_locks(first.assignments)))
    assert again.assignments == first.assignments


def test_lock_on_a_space_too_small_is_infeasible():
    problem = replace(
        _term(),
        spaces=(make_space(1), make_space(2), make_space(3, capacity=5)),
        locks=(Lock(class_id=2, session_index=0, weekday=MONDAY, start_unit=at(9), space_id=3, teacher_id=1),),
    )
    solution = solved(problem)
    assert reasons_of(solution, 2) == ("lock_infeasible",)
    assert placed_ids(solution) == {1, 3}


def test_locks_that_collide_leave_one_class_out():
    clash = {"weekday": MONDAY, "start_unit": at(9), "space_id": 1}
    problem = replace(
        _term(),
        locks=(
            Lock(class_id=1, session_index=0, teacher_id=1, **clash),
            Lock(class_id=2, session_index=0, teacher_id=2, **clash),
        ),
    )
    solution = solved(problem)
    (unplaced,) = solution.unplaced
    assert unplaced.reasons == ("lock_infeasible", "conflicts")


def test_two_locks_on_one_weekday_are_infeasible():
    problem = replace(
        _term(),
        locks=(
            Lock(class_id=1, session_index=0, weekday=MONDAY, start_unit=at(9), space_id=1, teacher_id=1),
            Lock(class_id=1, session_index=1, weekday=MONDAY, start_unit=at(11), space_id=1, teacher_id=1),
        ),
    )
    assert reasons_of(solved(problem), 1) == ("lock_infeasible",)


def test_forbidden_space_avoided_on_a_rerun():
    first = solved(_term())
    used = next(a for a in first.assignments if a.class_id == 3)
    again = solved(replace(_term(), forbids=(Forbid(class_id=3, space_id=used.space_id),)))
    assert next(a for a in again.assignments if a.class_id == 3).space_id != used.space_id


def test_forbidden_teacher_at_a_time_avoided():
    forbid = Forbid(class_id=2, teacher_id=1, weekday=MONDAY)
    problem = replace(
        _term(), teachers=(make_teacher(1), make_teacher(2, available_units=hours([MONDAY]))), forbids=(forbid,)
    )
    (session,) = (a for a in solved(problem).assignments if a.class_id == 2)
    assert not forbid.matches(2, session.weekday, session.start_unit, session.space_id, session.teacher_id)


def test_forbidden_space_teacher_pair_avoided():
    problem = make_problem(
        spaces=(make_space(1, venue_id=10), make_space(2, venue_id=20)),
        teachers=(make_teacher(1), make_teacher(2, skills=frozenset())),
        classes=(make_class(preferred_region_ids=frozenset({1})),),
        travel_km={(1, 10): 1.0, (1, 20): 9.0},  # the forbidden space would be the learners' choice
        forbids=(Forbid(class_id=1, space_id=1, teacher_id=1), Forbid(class_id=1, space_id=2, teacher_id=2)),
    )
    assert [(a.space_id, a.teacher_id) for a in solved(problem).assignments] == [(2, 1)]


def test_every_choice_forbidden_leaves_the_class_out():
    problem = replace(_term(), forbids=tuple(Forbid(class_id=3, weekday=day) for day in range(7)))
    assert reasons_of(solved(problem), 3) == ("no_common_time",)


def test_locked_class_kept_even_if_dropping_it_would_place_two():
    monday = hours([MONDAY], 9, 12)
    problem = make_problem(
        spaces=(make_space(open_units=monday),),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(1, length_units=6, allowed_units=monday),
            make_class(2, allowed_units=hours([MONDAY], 9, 10)),
            make_class(3, allowed_units=hours([MONDAY], 11, 12)),
        ),
        locks=(Lock(class_id=1, session_index=0, weekday=MONDAY, start_unit=at(9), space_id=1, teacher_id=1),),
    )
    assert placed_ids(solved(problem)) == {1}
