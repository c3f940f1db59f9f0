"""What a single session must satisfy, as pure predicates over the problem's data.

The candidate filter (what the model may choose from), the validator (what a solution must
respect) and the explainer all read these, so "fits" means one thing everywhere. Pairwise
rules (overlaps, travel, weekly minutes) are encoded separately by the model and re-checked
independently by the validator.
"""

from .problem import ClassOffer, Problem, Space, Teacher, Unit


def session_units(weekday: int, start_unit: int, length_units: int) -> tuple[Unit, ...]:
    return tuple((weekday, unit) for unit in range(start_unit, start_unit + length_units))


def fits_in_day(problem: Problem, start_unit: int, length_units: int) -> bool:
    return 0 <= start_unit and start_unit + length_units <= problem.units_per_day


def space_misfits(problem: Problem, space: Space, offer: ClassOffer) -> tuple[str, ...]:
    """Why the space can never host the class: ``capacity``, ``features``, ``kind``, ``too_far``
    (empty if it fits)."""
    misfits = []
    if space.capacity < offer.learners and not problem.soft_capacity:
        misfits.append("capacity")
    if not offer.required_features <= space.features:
        misfits.append("features")
    if offer.allowed_kinds and space.kind not in offer.allowed_kinds:
        misfits.append("kind")
    if (
        problem.max_travel_km is not None
        and learner_distance_km(problem, offer, space.venue_id) > problem.max_travel_km
    ):
        misfits.append("too_far")
    return tuple(misfits)


def learners_without_seat(space: Space, offer: ClassOffer) -> int:
    """Learners over the space's capacity (a cost only when ``Problem.soft_capacity`` allows it)."""
    return max(0, offer.learners - space.capacity)


def session_minutes(problem: Problem, offer: ClassOffer) -> int:
    return offer.length_units * problem.grid_minutes


def teacher_is_qualified(problem: Problem, teacher: Teacher, offer: ClassOffer) -> bool:
    """The fixed teacher if the class names one, otherwise anyone with the skill; either way one
    session must fit in the teacher's weekly minutes."""
    if offer.fixed_teacher_id is not None:
        qualified = teacher.id == offer.fixed_teacher_id
    else:
        qualified = offer.required_skill is None or offer.required_skill in teacher.skills
    return qualified and session_minutes(problem, offer) <= teacher.max_minutes_per_week


def all_within(units: tuple[Unit, ...], allowed: frozenset[Unit]) -> bool:
    return all(unit in allowed for unit in units)


def blocked_weeks(space: Space, units: tuple[Unit, ...]) -> frozenset[int]:
    """Weeks in which at least one unit of the session is blocked: the session is skipped then."""
    weeks: frozenset[int] = frozenset()
    for unit in units:
        weeks |= space.blocked.get(unit, frozenset())
    return weeks


def blocked_too_often(problem: Problem, weeks: frozenset[int]) -> bool:
    """A session skipped in more than ``max_blocked_share`` of the term is not worth holding.

    Applied to the union over the session's units, which implies the per-unit rule.
    """
    return len(weeks) > problem.max_blocked_share * problem.weeks


def teacher_travel_minutes(problem: Problem, from_venue: int, to_venue: int) -> int:
    """Minutes a teacher needs between venues; a pair given one way only counts both ways."""
    if from_venue == to_venue:
        return 0
    table = problem.venue_travel_minutes
    return table.get((from_venue, to_venue), table.get((to_venue, from_venue), 0))


def learner_distance_km(problem: Problem, offer: ClassOffer, venue_id: int) -> float:
    """Km from the class's nearest preferred region to the venue; 0 without preferred regions."""
    if not offer.preferred_region_ids:
        return 0.0
    return min(problem.travel_km.get((region, venue_id), 0.0) for region in offer.preferred_region_ids)


def learner_travel_km(problem: Problem, offer: ClassOffer, venue_id: int) -> int:
    """The travel penalty of one session: ``learner_distance_km`` rounded to whole km."""
    return round(learner_distance_km(problem, offer, venue_id))
