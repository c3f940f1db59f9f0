"""The UD2 (ITC-2007 Track 3) cost of a CB-CTT solution, from the instance and the lectures alone.

Independent of the solver: it knows nothing about ``scheduling``'s model and is what every
figure printed for CB-CTT is measured with. The rules are restated in
``bench/cb-ctt/SCORING.md``; one function per rule below. Soft terms are reported already
weighted, as the official validator prints them.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from .instance import Instance, Lecture

MIN_WORKING_DAYS_WEIGHT = 5
ISOLATED_LECTURE_WEIGHT = 2
ROOM_STABILITY_WEIGHT = 1
ROOM_CAPACITY_WEIGHT = 1


@dataclass(frozen=True)
class Ud2Score:
    lectures: int
    conflicts: int
    availability: int
    room_occupation: int
    room_capacity: int
    min_working_days: int
    curriculum_compactness: int
    room_stability: int

    @property
    def violations(self) -> int:
        return self.lectures + self.conflicts + self.availability + self.room_occupation

    @property
    def cost(self) -> int:
        return self.room_capacity + self.min_working_days + self.curriculum_compactness + self.room_stability

    def summary(self) -> str:
        return (
            f"violations {self.violations} (lectures {self.lectures}, conflicts {self.conflicts}, "
            f"availability {self.availability}, room occupation {self.room_occupation}); "
            f"cost {self.cost} (room capacity {self.room_capacity}, min working days {self.min_working_days}, "
            f"curriculum compactness {self.curriculum_compactness}, room stability {self.room_stability})"
        )


def score(instance: Instance, lectures: Iterable[Lecture]) -> Ud2Score:
    """Lectures as ``read_solution`` keeps them: known courses and rooms, one per course and period."""
    lectures = tuple(lectures)
    periods = _periods_of(lectures)
    return Ud2Score(
        lectures=missing_or_extra_lectures(instance, periods),
        conflicts=conflicts(instance, periods),
        availability=unavailable_lectures(instance, lectures),
        room_occupation=room_occupation(lectures),
        room_capacity=ROOM_CAPACITY_WEIGHT * students_over_capacity(instance, lectures),
        min_working_days=MIN_WORKING_DAYS_WEIGHT * working_days_short(instance, periods),
        curriculum_compactness=ISOLATED_LECTURE_WEIGHT * isolated_lectures(instance, periods),
        room_stability=ROOM_STABILITY_WEIGHT * extra_rooms(lectures),
    )


def _periods_of(lectures: tuple[Lecture, ...]) -> dict[str, set[int]]:
    periods = defaultdict(set)
    for lecture in lectures:
        periods[lecture.course].add(lecture.period)
    return periods


def missing_or_extra_lectures(instance: Instance, periods: dict[str, set[int]]) -> int:
    return sum(abs(course.lectures - len(periods.get(course.id, ()))) for course in instance.courses)


def conflicting_pairs(instance: Instance) -> set[frozenset[str]]:
    """Unordered pairs of courses sharing a curriculum or a teacher."""
    groups = [curriculum.courses for curriculum in instance.curricula]
    by_teacher = defaultdict(list)
    for course in instance.courses:
        by_teacher[course.teacher].append(course.id)
    groups.extend(by_teacher.values())
    return {frozenset(pair) for group in groups for pair in combinations(set(group), 2)}


def conflicts(instance: Instance, periods: dict[str, set[int]]) -> int:
    return sum(len(periods.get(a, set()) & periods.get(b, set())) for a, b in conflicting_pairs(instance))


def unavailable_lectures(instance: Instance, lectures: tuple[Lecture, ...]) -> int:
    return sum((lecture.course, lecture.period) in instance.unavailable for lecture in lectures)


def room_occupation(lectures: tuple[Lecture, ...]) -> int:
    held = Counter((lecture.room, lecture.period) for lecture in lectures)
    return sum(count - 1 for count in held.values())


def students_over_capacity(instance: Instance, lectures: tuple[Lecture, ...]) -> int:
    return sum(
        max(0, instance.course_by_id[x.course].students - instance.room_by_id[x.room].capacity) for x in lectures
    )


def working_days_short(instance: Instance, periods: dict[str, set[int]]) -> int:
    per_day = instance.periods_per_day
    return sum(
        max(0, course.min_working_days - len({p // per_day for p in periods.get(course.id, ())}))
        for course in instance.courses
    )


def isolated_lectures(instance: Instance, periods: dict[str, set[int]]) -> int:
    """Per curriculum, lectures at a period with no lecture of the curriculum in the slot before
    or after on the same day; a period holding several of its lectures counts each of them."""
    per_day = instance.periods_per_day
    isolated = 0
    for curriculum in instance.curricula:
        busy = Counter(p for course in curriculum.courses for p in periods.get(course, ()))
        for period, count in busy.items():
            slot = period % per_day
            before = slot > 0 and busy[period - 1] > 0
            after = slot < per_day - 1 and busy[period + 1] > 0
            if not before and not after:
                isolated += count
    return isolated


def extra_rooms(lectures: tuple[Lecture, ...]) -> int:
    rooms = defaultdict(set)
    for lecture in lectures:
        rooms[lecture.course].add(lecture.room)
    return sum(len(used) - 1 for used in rooms.values())
