"""CB-CTT (ITC-2007 Track 3, curriculum-based course timetabling): read and write its files,
score solutions under UD2, and solve instances with ``scheduling``'s own solver.

    instance = read_instance(Path("comp01.ctt").read_text())
    lectures = read_solution(Path("comp01.sol").read_text(), instance)
    print(score(instance, lectures).summary())
"""

from .instance import (
    Course,
    CttFormatError,
    Curriculum,
    Instance,
    Lecture,
    Room,
    read_instance,
    read_solution,
    write_solution,
)
from .solving import solve_instance
from .ud2 import Ud2Score, score

__all__ = [
    "Course",
    "CttFormatError",
    "Curriculum",
    "Instance",
    "Lecture",
    "Room",
    "Ud2Score",
    "read_instance",
    "read_solution",
    "score",
    "solve_instance",
    "write_solution",
]
