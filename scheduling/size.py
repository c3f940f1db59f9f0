"""How big a term is, known before anything big is built.

Two figures decide how a term is solved (``scheduling.solve``):

- **choices**: the (start, space) pairs the candidates would enumerate, estimated from each
  class's allowed starts and fitting spaces without enumerating them. Above ``CHOICE_LIMIT`` the
  term is refused with ``ProblemTooLarge`` before any memory is spent on it.
- **model booleans**: the variables one CP-SAT model over the candidates would have (a start, a
  space per usable space and a teacher per (qualified teacher, venue) for every option). Up to
  ``MODEL_BUDGET`` the whole term is one model; above it the term is planned by neighbourhoods
  (``scheduling.neighbourhoods``), each one model under the budget.
"""

from collections.abc import Iterable

from .candidates import ClassCandidates
from .problem import ClassOffer, Problem
from .rules import space_misfits

MODEL_BUDGET = 50_000
"""Booleans in one CP-SAT model (about 0.5 GB of solver memory with two workers). The older
district profile's 158,000 took 1.7 GB and placed 294 of 300 in 60 s where neighbourhoods place
295, the most any plan can (its bound), using 0.2 GB."""
CHOICE_LIMIT = 6_000_000
"""Estimated (start, space) choices of a term: its candidates then take about 1.5 GB at most."""


class ProblemTooLarge(ValueError):
    """The term is beyond what one solver process can hold; ``figures`` say by how much."""

    code = "problem_too_large"

    def __init__(self, figures: dict[str, int]) -> None:
        self.figures = figures
        super().__init__(
            f"the term would need about {figures['choices']:,} (time, space) choices, more than the "
            f"{figures['choice_limit']:,} one solver run can hold ({figures['classes']} classes, "
            f"{figures['spaces']} spaces, {figures['teachers']} teachers): plan it in parts (by region or by term)"
        )


def estimated_choices(problem: Problem) -> int:
    """Σ over classes of allowed starts × fitting spaces: an upper bound on the (start, space)
    choices the candidates will hold (opening hours and blocked weeks only remove some)."""
    return sum(
        len(problem.starts_within(offer.allowed_units, offer.length_units)) * _fitting_spaces(problem, offer)
        for offer in problem.classes
    )


def check_size(problem: Problem) -> int:
    """The estimated choices; raises ``ProblemTooLarge`` above ``CHOICE_LIMIT``."""
    choices = estimated_choices(problem)
    if choices > CHOICE_LIMIT:
        raise ProblemTooLarge(
            {
                "choices": choices,
                "choice_limit": CHOICE_LIMIT,
                "classes": len(problem.classes),
                "spaces": len(problem.spaces),
                "teachers": len(problem.teachers),
            }
        )
    return choices


def class_booleans(candidates: ClassCandidates) -> int:
    return sum(
        1 + len(option.spaces) + len(option.teachers) * len(option.spaces_at_venue) for option in candidates.options
    )


def model_booleans(candidates: Iterable[ClassCandidates]) -> int:
    return 1 + sum(class_booleans(c) for c in candidates)


def _fitting_spaces(problem: Problem, offer: ClassOffer) -> int:
    return sum(not space_misfits(problem, space, offer) for space in problem.spaces)
