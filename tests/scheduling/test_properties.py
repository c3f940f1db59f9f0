"""Properties over small random terms: every plan validates, and more resources never place fewer
classes (compared only between runs proven optimal, where "how many" is well defined)."""

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduling import ClassOffer, Forbid, Lock, Problem, Space, Teacher

from .builders import solved

GRID_MINUTES = 60  # 24 units a day keeps the random terms tiny
DAYS = (0, 1, 2)
SKILLS = ("art", "music")
KINDS = ("room", "lab")
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def windows(draw, earliest: int = 8, latest: int = 14, longest: int = 6) -> frozenset[tuple[int, int]]:
    """Simplest draws (which Hypothesis favours) are the widest: every day, the longest span."""
    closed = draw(st.sets(st.sampled_from(DAYS), max_size=len(DAYS) - 1))
    start = draw(st.integers(earliest, latest))
    end = start + longest - draw(st.integers(0, longest - 1))
    return frozenset((day, unit) for day in DAYS if day not in closed for unit in range(start, end))


@st.composite
def opening_hours(draw) -> frozenset[tuple[int, int]]:
    """Long days, at most one day off: spaces and teachers are rarely what is missing."""
    off = draw(st.sets(st.sampled_from(DAYS), max_size=1))
    start, end = draw(st.integers(8, 10)), draw(st.integers(16, 20))
    return frozenset((day, unit) for day in DAYS if day not in off for unit in range(start, end))


@st.composite
def spaces(draw, space_id: int) -> Space:
    opening = draw(opening_hours())
    blocked = {}
    if draw(st.booleans()):
        blocked[draw(st.sampled_from(sorted(opening)))] = frozenset(
            draw(st.sets(st.integers(0, 7), min_size=1, max_size=3))
        )
    return Space(
        id=space_id,
        venue_id=draw(st.integers(1, 2)),
        region_id=1,
        capacity=draw(st.sampled_from((40, 20, 10))),
        kind=draw(st.sampled_from(KINDS)),
        open_units=opening,
        blocked=blocked,
    )


@st.composite
def teachers(draw, teacher_id: int) -> Teacher:
    return Teacher(
        id=teacher_id,
        skills=frozenset(draw(st.sampled_from((SKILLS, SKILLS[:1], SKILLS[1:])))),
        available_units=draw(opening_hours()),
        max_minutes_per_week=60 * draw(st.integers(2, 6)),
        refused_venue_ids=frozenset(draw(st.sampled_from(((), (), (), (2,))))),
    )


@st.composite
def classes(draw, class_id: int) -> ClassOffer:
    return ClassOffer(
        id=class_id,
        sessions_per_week=draw(st.integers(1, 2)),
        length_units=draw(st.integers(1, 2)),
        learners=draw(st.sampled_from((5, 15, 20))),
        allowed_kinds=frozenset(draw(st.sets(st.sampled_from(KINDS), max_size=2))),
        required_skill=draw(st.sampled_from(SKILLS)),
        allowed_units=draw(windows(longest=4)),
        cohorts=frozenset(draw(st.sets(st.just("east"), max_size=1))),
        community_id=draw(st.integers(1, 2)),
        preferred_region_ids=frozenset({1}),
    )


@st.composite
def forbids(draw, class_count: int) -> Forbid:
    maybe = st.none() | st.integers(1, 3)
    return Forbid(
        class_id=draw(st.integers(1, class_count)),
        space_id=draw(maybe),
        teacher_id=draw(maybe),
        weekday=draw(st.none() | st.sampled_from(DAYS)),
    )


@st.composite
def problems(draw) -> Problem:
    def some(strategy, low: int, high: int) -> tuple:
        return tuple(draw(strategy(i)) for i in range(1, draw(st.integers(low, high)) + 1))

    offered = some(classes, 1, 4)
    return Problem(
        grid_minutes=GRID_MINUTES,
        weeks=8,
        spaces=some(spaces, 1, 3),
        teachers=some(teachers, 1, 3),
        classes=offered,
        forbids=tuple(draw(st.lists(forbids(len(offered)), max_size=2))),
        travel_km={(1, 1): 2.0, (1, 2): 7.0},
        venue_travel_minutes={(1, 2): draw(st.sampled_from((0, 30, 90)))},
    )


def _more_teacher_minutes(problem: Problem) -> Problem:
    return replace(
        problem, teachers=tuple(replace(t, max_minutes_per_week=t.max_minutes_per_week + 120) for t in problem.teachers)
    )


def _one_more_space(problem: Problem) -> Problem:
    copy = replace(problem.spaces[0], id=max(s.id for s in problem.spaces) + 1, blocked={})
    return replace(problem, spaces=(*problem.spaces, copy))


def _wider_class_windows(problem: Problem) -> Problem:
    wider = frozenset((day, unit) for day in DAYS for unit in range(8, 21))
    return replace(problem, classes=tuple(replace(c, allowed_units=c.allowed_units | wider) for c in problem.classes))


@PROPERTY_SETTINGS
@given(problems())
def test_every_plan_validates(problem: Problem):
    solution = solved(problem, time_limit_s=2.0)
    assert solution.placed_count + len(solution.unplaced) == len(problem.classes)
    if solution.status == "optimal":  # then no class could have been added to the plan as it is
        assert all("not_found_in_time" not in u.reasons for u in solution.unplaced)


@PROPERTY_SETTINGS
@given(problems(), st.sampled_from((_more_teacher_minutes, _one_more_space, _wider_class_windows)))
def test_relaxing_never_places_fewer(problem: Problem, relax):
    before, after = solved(problem, time_limit_s=2.0), solved(relax(problem), time_limit_s=2.0)
    assume(before.status == after.status == "optimal")
    assert after.placed_count >= before.placed_count


@PROPERTY_SETTINGS
@given(problems())
def test_locking_a_plan_keeps_it(problem: Problem):
    first = solved(problem, time_limit_s=2.0)
    locks = tuple(
        Lock(a.class_id, a.session_index, a.weekday, a.start_unit, a.space_id, a.teacher_id) for a in first.assignments
    )
    again = solved(replace(problem, locks=locks), time_limit_s=2.0)
    assume(first.status == again.status == "optimal")
    assert again.assignments == first.assignments
