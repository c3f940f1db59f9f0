"""Short solves through scheduling's own solver: every lecture placed, no hard violation (the
costs depend on the machine's speed, so only the scorer's hard side is asserted)."""

import pytest

from booking.cli import main
from integrations.ctt import read_solution, score, solve_instance, write_solution

from .cbctt_data import DATA, instance


@pytest.mark.parametrize(("name", "seconds"), [("toy", 2.0), ("comp01", 6.0)])
def test_short_solve_is_feasible(name, seconds):
    inst = instance(name)
    lectures = solve_instance(inst, time_limit_s=seconds)
    result = score(inst, read_solution(write_solution(inst, lectures), inst))
    assert result.violations == 0
    assert len(lectures) == sum(course.lectures for course in inst.courses)


def test_cli_scores_a_solution_file(capsys):
    assert main(["ctt", "score", str(DATA / "comp01.ctt"), str(DATA / "solutions" / "comp01-UD2.sol")]) == 0
    assert "violations 0" in capsys.readouterr().out


def test_cli_score_fails_on_hard_violations(capsys):
    toy = str(DATA / "toy.ctt")
    assert main(["ctt", "score", toy, str(DATA / "solutions" / "toy-itc2007-techreport.sol")]) == 1
    assert "violations 5" in capsys.readouterr().out
