"""The seeded district generator the benchmark imports: pure, sized as asked, solvable."""

from scheduling.generator import district_problem

from .builders import solved


def test_same_seed_same_problem():
    assert district_problem(seed=5, classes=30, spaces=20, teachers=12) == district_problem(
        seed=5, classes=30, spaces=20, teachers=12
    )


def test_other_seed_other_problem():
    assert district_problem(seed=5, classes=30, spaces=20, teachers=12) != district_problem(
        seed=6, classes=30, spaces=20, teachers=12
    )


def test_sizes_and_references():
    problem = district_problem(seed=1, classes=40, spaces=25, teachers=15, weeks=10)
    assert (len(problem.classes), len(problem.spaces), len(problem.teachers), problem.weeks) == (40, 25, 15, 10)
    space_ids = {s.id for s in problem.spaces}
    assert all(s.leaves <= space_ids for s in problem.spaces)
    teacher_ids = {t.id for t in problem.teachers}
    assert all(c.fixed_teacher_id in teacher_ids for c in problem.classes if c.fixed_teacher_id is not None)


def test_small_district_places_most_classes():
    problem = district_problem(seed=2, classes=40, spaces=30, teachers=20)
    solution = solved(problem, time_limit_s=10.0)  # proven optimal in about 2.5 s
    assert solution.placed_count >= 0.75 * len(problem.classes)
