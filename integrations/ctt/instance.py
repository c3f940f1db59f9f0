"""CB-CTT (ITC-2007 Track 3) files as plain data: ``.ctt`` instances and ``.sol`` solutions.

Parsing splits on whitespace, so TABs, runs of spaces and trailing spaces are all accepted.
Solution lines are kept the way the official validator keeps them: a line naming an unknown
course or room, or a day or period out of range, is dropped, and so is a second line for the
same course at the same period (that lecture then counts as missing).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property


class CttFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Course:
    id: str
    teacher: str
    lectures: int
    min_working_days: int
    students: int


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True)
class Curriculum:
    id: str
    courses: tuple[str, ...]


@dataclass(frozen=True)
class Instance:
    name: str
    days: int
    periods_per_day: int
    courses: tuple[Course, ...]
    rooms: tuple[Room, ...]
    curricula: tuple[Curriculum, ...]
    unavailable: frozenset[tuple[str, int]]
    """(course id, period) pairs; a period is ``day * periods_per_day + timeslot``."""

    @property
    def periods(self) -> int:
        return self.days * self.periods_per_day

    @cached_property
    def course_by_id(self) -> dict[str, Course]:
        return {course.id: course for course in self.courses}

    @cached_property
    def room_by_id(self) -> dict[str, Room]:
        return {room.id: room for room in self.rooms}


@dataclass(frozen=True)
class Lecture:
    course: str
    room: str
    period: int


HEADER_KEYS = ("Name", "Courses", "Rooms", "Days", "Periods_per_day", "Curricula", "Constraints")
SECTIONS = ("COURSES:", "ROOMS:", "CURRICULA:", "UNAVAILABILITY_CONSTRAINTS:")


def read_instance(text: str) -> Instance:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    header = _header(lines[: len(HEADER_KEYS)])
    rows = _sections(lines[len(HEADER_KEYS) :])
    counts = dict(zip(SECTIONS, ("Courses", "Rooms", "Curricula", "Constraints"), strict=True))
    for section, key in counts.items():
        if len(rows[section]) != int(header[key]):
            raise CttFormatError(f"{key}: header says {header[key]}, section {section} has {len(rows[section])} lines")
    days, per_day = int(header["Days"]), int(header["Periods_per_day"])
    courses = tuple(_course(row) for row in rows["COURSES:"])
    known = {course.id for course in courses}
    curricula = tuple(_curriculum(row, known) for row in rows["CURRICULA:"])
    unavailable = frozenset(_unavailability(row, known, days, per_day) for row in rows["UNAVAILABILITY_CONSTRAINTS:"])
    return Instance(
        name=header["Name"],
        days=days,
        periods_per_day=per_day,
        courses=courses,
        rooms=tuple(Room(row[0], int(row[1])) for row in rows["ROOMS:"]),
        curricula=curricula,
        unavailable=unavailable,
    )


def _header(lines: list[list[str]]) -> dict[str, str]:
    header = {}
    for expected, fields in zip(HEADER_KEYS, lines, strict=True):
        if len(fields) != 2 or fields[0] != f"{expected}:":
            raise CttFormatError(f"expected header line {expected!r}, got {' '.join(fields)!r}")
        header[expected] = fields[1]
    return header


def _sections(lines: list[list[str]]) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {}
    current = None
    for fields in lines:
        if fields == ["END."]:
            break
        if len(fields) == 1 and fields[0] in SECTIONS:
            current = rows.setdefault(fields[0], [])
        elif current is None:
            raise CttFormatError(f"data outside a section: {' '.join(fields)!r}")
        else:
            current.append(fields)
    missing = [section for section in SECTIONS if section not in rows]
    if missing:
        raise CttFormatError(f"missing sections: {', '.join(missing)}")
    return rows


def _course(fields: list[str]) -> Course:
    if len(fields) != 5:
        raise CttFormatError(f"a course line has 5 fields: {' '.join(fields)!r}")
    course_id, teacher, lectures, min_days, students = fields
    return Course(course_id, teacher, int(lectures), int(min_days), int(students))


def _curriculum(fields: list[str], known: set[str]) -> Curriculum:
    members = tuple(fields[2:])
    if len(members) != int(fields[1]) or not set(members) <= known:
        raise CttFormatError(f"curriculum line with a wrong count or unknown courses: {' '.join(fields)!r}")
    return Curriculum(fields[0], members)


def _unavailability(fields: list[str], known: set[str], days: int, per_day: int) -> tuple[str, int]:
    course, day, slot = fields[0], int(fields[1]), int(fields[2])
    if course not in known or not (0 <= day < days and 0 <= slot < per_day):
        raise CttFormatError(f"unavailability out of range: {' '.join(fields)!r}")
    return course, day * per_day + slot


def read_solution(text: str, instance: Instance) -> tuple[Lecture, ...]:
    lectures, seen = [], set()
    for fields in (line.split() for line in text.splitlines()):
        if len(fields) < 4:
            continue
        course, room, day, slot = fields[0], fields[1], int(fields[2]), int(fields[3])
        if course not in instance.course_by_id or room not in instance.room_by_id:
            continue
        if not (0 <= day < instance.days and 0 <= slot < instance.periods_per_day):
            continue
        period = day * instance.periods_per_day + slot
        if (course, period) in seen:
            continue
        seen.add((course, period))
        lectures.append(Lecture(course, room, period))
    return tuple(lectures)


def write_solution(instance: Instance, lectures: Iterable[Lecture]) -> str:
    per_day = instance.periods_per_day
    order = {course.id: index for index, course in enumerate(instance.courses)}
    ordered = sorted(lectures, key=lambda lecture: (order[lecture.course], lecture.period))
    return "".join(f"{x.course} {x.room} {x.period // per_day} {x.period % per_day}\n" for x in ordered)
