"""A CB-CTT instance as ``scheduling``'s own ``Problem``, and a ``Solution`` back as lectures.

course → class (one unit long, a fixed teacher, ``min_weekdays`` = its minimum working days),
curriculum → cohort, room → space (capacity soft, as UD2 has it), period → unit ``(day, slot)``
of a one-week term, unavailability → the units missing from the class's ``allowed_units``.
Weights are UD2's; the district terms that CB-CTT does not have are switched off. Integer ids
follow the order of the instance file.
"""

from dataclasses import dataclass

from scheduling import ClassOffer, Problem, Solution, Space, Teacher, Weights

from .instance import Instance, Lecture
from .ud2 import ISOLATED_LECTURE_WEIGHT, MIN_WORKING_DAYS_WEIGHT, ROOM_CAPACITY_WEIGHT, ROOM_STABILITY_WEIGHT

GRID_MINUTES = 60
"""One unit per period; the units of a day past its last period are never allowed."""
UD2_WEIGHTS = Weights(
    travel=0,
    same_space=ROOM_STABILITY_WEIGHT,
    cohort_compactness=0,
    teacher_balance=0,
    fairness=0,
    skipped_weeks=0,
    short_weekdays=MIN_WORKING_DAYS_WEIGHT,
    isolated_sessions=ISOLATED_LECTURE_WEIGHT,
    over_capacity=ROOM_CAPACITY_WEIGHT,
)


@dataclass(frozen=True)
class Converted:
    problem: Problem
    course_ids: tuple[str, ...]
    """class id i is course ``course_ids[i]``."""
    room_ids: tuple[str, ...]
    """space id i is room ``room_ids[i]``."""


def to_problem(instance: Instance) -> Converted:
    per_day = instance.periods_per_day
    week = frozenset((p // per_day, p % per_day) for p in range(instance.periods))
    teacher_ids = {name: index for index, name in enumerate(dict.fromkeys(c.teacher for c in instance.courses))}
    cohorts_of: dict[str, set[str]] = {course.id: set() for course in instance.courses}
    for curriculum in instance.curricula:
        for course_id in curriculum.courses:
            cohorts_of[course_id].add(curriculum.id)
    classes = tuple(
        ClassOffer(
            id=index,
            sessions_per_week=course.lectures,
            length_units=1,
            learners=course.students,
            fixed_teacher_id=teacher_ids[course.teacher],
            allowed_units=frozenset(
                (p // per_day, p % per_day)
                for p in range(instance.periods)
                if (course.id, p) not in instance.unavailable
            ),
            cohorts=frozenset(cohorts_of[course.id]),
            min_weekdays=course.min_working_days,
        )
        for index, course in enumerate(instance.courses)
    )
    spaces = tuple(
        Space(id=index, venue_id=0, region_id=0, capacity=room.capacity, kind="room", open_units=week)
        for index, room in enumerate(instance.rooms)
    )
    most_minutes = GRID_MINUTES * instance.periods
    teachers = tuple(
        Teacher(id=i, available_units=week, max_minutes_per_week=most_minutes) for i in teacher_ids.values()
    )
    problem = Problem(
        grid_minutes=GRID_MINUTES,
        weeks=1,
        spaces=spaces,
        teachers=teachers,
        classes=classes,
        weights=UD2_WEIGHTS,
        soft_capacity=True,
    )
    return Converted(problem, tuple(c.id for c in instance.courses), tuple(r.id for r in instance.rooms))


def lectures_of(converted: Converted, instance: Instance, solution: Solution) -> tuple[Lecture, ...]:
    return tuple(
        Lecture(
            course=converted.course_ids[a.class_id],
            room=converted.room_ids[a.space_id],
            period=a.weekday * instance.periods_per_day + a.start_unit,
        )
        for a in solution.assignments
    )
