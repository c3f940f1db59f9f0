"""Why a class is unplaced: stages in order, blocking classes named."""

from scheduling import Assignment, Forbid, explain

from .builders import at, hours, make_class, make_problem, make_space, make_teacher

MONDAY = 0


def test_space_and_teacher_reasons_together():
    problem = make_problem(classes=(make_class(learners=99, required_skill="pottery"),))
    unplaced = explain(problem, 1, [])
    assert unplaced.reasons == ("no_space_fits", "no_qualified_teacher")
    assert "seats 99" in unplaced.detail and "pottery" in unplaced.detail


def test_static_reasons_come_before_time():
    problem = make_problem(classes=(make_class(learners=99, allowed_units=frozenset()),))
    assert explain(problem, 1, []).reasons == ("no_space_fits",)


def test_no_common_time_mentions_forbids():
    problem = make_problem(forbids=(Forbid(class_id=1),))
    unplaced = explain(problem, 1, [])
    assert unplaced.reasons == ("no_common_time",)
    assert "forbids" in unplaced.detail


def test_conflicts_name_the_blocking_classes():
    slot = hours([MONDAY], 9, 10)
    problem = make_problem(
        spaces=(make_space(1), make_space(2)),
        teachers=(make_teacher(1), make_teacher(2)),
        classes=(
            make_class(7, allowed_units=slot),
            make_class(8, allowed_units=slot),
            make_class(9, allowed_units=slot),
        ),
    )
    placed = [Assignment(7, 0, MONDAY, at(9), 1, 1), Assignment(8, 0, MONDAY, at(9), 2, 2)]
    unplaced = explain(problem, 9, placed)
    assert unplaced.reasons == ("conflicts",)
    assert "7, 8" in unplaced.detail


def test_a_class_that_fits_around_the_plan_was_not_found_in_time():
    problem = make_problem(spaces=(make_space(1), make_space(2)), classes=(make_class(1), make_class(2)))
    placed = [Assignment(1, 0, MONDAY, at(9), 1, 1)]
    assert explain(problem, 2, placed).reasons == ("not_found_in_time",)


def test_own_sessions_do_not_block_the_class():
    problem = make_problem(classes=(make_class(allowed_units=hours([MONDAY], 9, 10)),))
    placed = [Assignment(1, 0, MONDAY, at(9), 1, 1)]
    assert explain(problem, 1, placed).reasons == ("not_found_in_time",)
