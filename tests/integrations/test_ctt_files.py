import re

import pytest

from integrations.ctt import CttFormatError, Lecture, read_instance, read_solution, write_solution

from .cbctt_data import DATA, INSTANCES, instance

# Lectures column of bench/cb-ctt/README.md: a figure the header does not give.
TOTAL_LECTURES = {"comp01": 160, "comp05": 152, "comp07": 434, "comp12": 218, "comp21": 327}


def header_counts(name: str) -> dict[str, int]:
    text = (DATA / f"{name}.ctt").read_text()
    return {key: int(value) for key, value in re.findall(r"^(\w+):\s+(\d+)\s*$", text, re.MULTILINE)}


@pytest.mark.parametrize("name", [*INSTANCES, "toy"])
def test_reader_counts_match_the_header(name):
    header, read = header_counts(name), instance(name)
    assert len(read.courses) == header["Courses"]
    assert len(read.rooms) == header["Rooms"]
    assert len(read.curricula) == header["Curricula"]
    assert len(read.unavailable) == header["Constraints"]
    assert (read.days, read.periods_per_day) == (header["Days"], header["Periods_per_day"])
    if name in TOTAL_LECTURES:
        assert sum(course.lectures for course in read.courses) == TOTAL_LECTURES[name]


def test_reader_accepts_tabs_and_runs_of_spaces():
    toy = instance("toy")
    assert toy.room_by_id["A"].capacity == 32
    assert ("ArcTec", 4 * 4 + 3) in toy.unavailable
    assert toy.course_by_id["TecCos"].lectures == 5
    assert toy.curricula[1].courses == ("TecCos", "Geotec")


def test_reader_rejects_a_header_count_that_disagrees_with_its_section():
    text = (DATA / "toy.ctt").read_text().replace("Rooms: 2", "Rooms: 3")
    with pytest.raises(CttFormatError, match="Rooms"):
        read_instance(text)


def test_solution_reader_drops_what_the_validator_drops():
    toy = instance("toy")
    text = "SceCosC A 0 0\nSceCosC B 0 0\nNoSuch A 0 1\nSceCosC Z 0 1\nSceCosC A 9 0\nSceCosC A 0 1   \n"
    assert read_solution(text, toy) == (Lecture("SceCosC", "A", 0), Lecture("SceCosC", "A", 1))


def test_written_solution_reads_back():
    toy = instance("toy")
    lectures = (Lecture("Geotec", "B", 7), Lecture("SceCosC", "A", 13))
    text = write_solution(toy, lectures)
    assert text == "SceCosC A 3 1\nGeotec B 1 3\n"
    assert set(read_solution(text, toy)) == set(lectures)
