import pytest

from integrations.ctt import Lecture, read_solution, score

from .cbctt_data import DATA, best_known_rows, instance


def scored(name: str, solution_file: str):
    inst = instance(name)
    return score(inst, read_solution((DATA / solution_file).read_text(), inst))


def test_toy_worked_example_of_the_tech_report():
    result = scored("toy", "solutions/toy-itc2007-techreport.sol")
    assert (result.lectures, result.conflicts, result.availability, result.room_occupation) == (0, 3, 0, 2)
    assert result.room_capacity == 8
    assert result.min_working_days == 15
    assert result.curriculum_compactness == 4
    assert result.room_stability == 3
    assert (result.violations, result.cost) == (5, 30)


@pytest.mark.parametrize("row", best_known_rows(), ids=lambda row: row["instance"])
def test_every_best_known_solution_scores_its_published_cost(row):
    result = scored(row["instance"], row["ub_solution_file"])
    assert result.violations == 0
    assert result.room_capacity == int(row["ub_rc"])
    assert result.min_working_days == int(row["ub_mwd"])
    assert result.curriculum_compactness == int(row["ub_cc"])
    assert result.room_stability == int(row["ub_rs"])
    assert result.cost == int(row["ub_ud2"])


def test_comp03_own_public_solution_scores_64():
    assert scored("comp03", "solutions/comp03-UD2.sol").cost == 64


def test_missing_and_unavailable_lectures_are_hard_violations():
    toy = instance("toy")
    result = score(toy, (Lecture("TecCos", "B", 2 * 4 + 0),))
    assert result.availability == 1
    assert result.lectures == 16 - 1


def test_three_conflicting_lectures_in_one_period_count_one_per_pair():
    toy = instance("toy")  # SceCosC, ArcTec and TecCos share Cur1
    result = score(toy, (Lecture("SceCosC", "A", 0), Lecture("ArcTec", "B", 0), Lecture("TecCos", "B", 0)))
    assert result.conflicts == 3
    assert result.room_occupation == 1


def test_a_lecture_with_a_curriculum_neighbour_is_not_isolated_but_one_across_days_is():
    toy = instance("toy")  # 4 periods a day: period 3 ends day 0, period 4 starts day 1
    together = score(toy, (Lecture("SceCosC", "B", 0), Lecture("ArcTec", "B", 1)))
    apart = score(toy, (Lecture("SceCosC", "B", 3), Lecture("ArcTec", "B", 4)))
    assert together.curriculum_compactness == 0
    assert apart.curriculum_compactness == 2 * 2
