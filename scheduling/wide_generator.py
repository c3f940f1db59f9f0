"""A seeded district of the shape real data has (pure: ``random.Random``): wide windows, several
acceptable space kinds, many small venues, holidays. The ``wide`` and ``city`` profiles of
``bench/allocation.py``; ``scheduling.generator`` keeps the older, narrower district.

- Towns, each with communities, on a square; venues of six kinds spread over the communities,
  every space with its own opening hours (a school's rooms open after school and at weekends,
  a sports hall from early morning, a library's reading room during the day…).
- Two public holidays close every venue for whole days (a three-day break in week 4 and a
  Monday in week 9); some spaces carry standing bookings (unusable units) or occasional ones.
- Classes follow their target group with windows that span most of the day on all seven days
  (elderly 08:30–17:00, adults and parents evenings and weekends, children after school and at
  weekends); most are content with any of two or three space kinds; 30 % share a cohort.
- Teachers have 1–3 skills, are available 3–6 days a week from 08:00, 13:00 or 17:00 until
  21:00, for 4–10 hours a week; 40 % are volunteers (evenings and weekends only).
"""

import math
import random
from dataclasses import dataclass

from .problem import ClassOffer, Problem, Space, Teacher, Unit

GRID_MINUTES = 30
PER_HOUR = 60 // GRID_MINUTES
MAX_TRAVEL_KM = 10.0
EVERY_DAY, WEEKDAYS, WEEKEND = range(7), range(5), range(5, 7)


def _hours(days: range | tuple[int, ...], start: float, end: float) -> frozenset[Unit]:
    return frozenset((d, u) for d in days for u in range(round(start * PER_HOUR), round(end * PER_HOUR)))


# space kind -> (capacity range, features)
SPACE_KINDS = {
    "classroom": ((30, 50), ("projector",)),
    "seminar_room": ((12, 24), ("projector", "step_free")),
    "reading_room": ((20, 40), ("step_free",)),
    "computer_lab": ((24, 40), ("computers", "projector")),
    "music_room": ((20, 40), ("piano",)),
    "art_room": ((16, 30), ("sink",)),
    "dance_studio": ((20, 40), ("open_floor", "mirror", "step_free")),
    "activity_room": ((20, 40), ("open_floor", "step_free")),
    "gym": ((40, 80), ("open_floor",)),
    "hall": ((80, 200), ("open_floor", "projector", "step_free")),
    "court": ((20, 40), ("open_floor",)),
    "kitchen": ((10, 18), ("stove", "step_free")),
    "meeting_room": ((10, 20), ("projector",)),
    "multipurpose_room": ((25, 45), ("projector", "open_floor", "step_free")),
}

# venue kind -> (share, space kinds it has, opening hours of its spaces)
VENUE_KINDS = {
    "school": (
        0.25,
        ("classroom", "classroom", "music_room", "computer_lab", "gym", "art_room"),
        _hours(WEEKDAYS, 17.5, 21.5) | _hours(WEEKEND, 8, 18),
    ),
    "community_school": (
        0.2,
        ("multipurpose_room", "kitchen", "computer_lab", "activity_room", "classroom"),
        _hours(EVERY_DAY, 8.5, 21),
    ),
    "library": (0.15, ("reading_room", "seminar_room", "meeting_room"), _hours(range(1, 7), 9, 20.5)),
    "study_room": (0.15, ("reading_room", "seminar_room"), _hours(EVERY_DAY, 8, 21.5)),
    "sports_centre": (0.1, ("gym", "hall", "dance_studio"), _hours(EVERY_DAY, 7, 22)),
    "learning_point": (0.15, ("activity_room",), _hours(EVERY_DAY, 8.5, 11.5) | _hours(EVERY_DAY, 13.5, 21)),
}

# category -> (skill, acceptable space kinds, required features)
CATEGORIES = {
    "calligraphy": ("calligraphy", ("classroom", "art_room", "reading_room"), ()),
    "painting": ("painting", ("art_room", "classroom", "multipurpose_room"), ()),
    "taichi": ("taichi", ("gym", "activity_room", "dance_studio", "hall"), ("open_floor",)),
    "dance": ("dance", ("dance_studio", "activity_room", "multipurpose_room"), ("open_floor",)),
    "fitness": ("fitness", ("gym", "dance_studio", "court"), ("open_floor",)),
    "health": ("health", ("classroom", "seminar_room", "multipurpose_room"), ("projector",)),
    "law": ("law", ("classroom", "seminar_room", "meeting_room"), ("projector",)),
    "finance": ("finance", ("classroom", "seminar_room", "meeting_room"), ("projector",)),
    "english": ("english", ("classroom", "seminar_room", "reading_room"), ()),
    "smartphone": ("computing", ("computer_lab", "classroom", "seminar_room"), ()),
    "coding": ("computing", ("computer_lab",), ()),
    "cooking": ("cooking", ("kitchen",), ()),
    "singing": ("music", ("music_room", "multipurpose_room", "activity_room"), ()),
    "instrument": ("music", ("music_room",), ("piano",)),
    "chess": ("chess", ("reading_room", "activity_room", "classroom"), ()),
    "handicraft": ("handicraft", ("art_room", "activity_room", "multipurpose_room"), ()),
    "parenting": ("parenting", ("seminar_room", "classroom", "meeting_room"), ()),
    "reading": ("reading", ("reading_room", "seminar_room"), ()),
}
SKILLS = sorted({skill for skill, _, _ in CATEGORIES.values()})

# target group -> (share, allowed windows, categories, learners range, extra features)
GROUPS = {
    "elderly": (
        0.4,
        _hours(EVERY_DAY, 8.5, 17),
        ("calligraphy", "painting", "taichi", "health", "smartphone", "singing", "handicraft", "chess", "dance"),
        (10, 30),
        ("step_free",),
    ),
    "adults": (
        0.25,
        _hours(EVERY_DAY, 18, 21.5) | _hours(WEEKEND, 9, 17),
        ("english", "finance", "fitness", "dance", "cooking", "law", "reading", "smartphone"),
        (10, 30),
        (),
    ),
    "parents": (
        0.15,
        _hours(EVERY_DAY, 18.5, 21.5) | _hours(WEEKEND, 9, 17),
        ("parenting", "health", "cooking", "reading"),
        (10, 25),
        (),
    ),
    "children": (
        0.2,
        _hours(WEEKDAYS, 16, 20) | _hours(WEEKEND, 8.5, 17),
        ("instrument", "painting", "dance", "chess", "english", "coding", "calligraphy", "reading"),
        (8, 25),
        (),
    ),
}


@dataclass(frozen=True)
class WideDistrict:
    """The problem and what it leaves out, for loading the same district elsewhere (the API)."""

    problem: Problem
    places: dict[int, tuple[float, float]]
    """Region id -> position (km): towns 1.., communities 100·town + n."""
    venues: dict[int, tuple[tuple[float, float], int, str]]
    """Venue id -> (position, community, venue kind)."""
    holidays: tuple[tuple[int, tuple[int, ...]], ...]
    """(week, weekdays) every venue is closed."""
    volunteers: frozenset[int]
    """Teacher ids of the volunteers."""


def wide_district(
    seed: int = 0,
    *,
    classes: int = 300,
    teachers: int = 100,
    venues: int = 99,
    spaces: int = 178,
    towns: int = 8,
    communities: int = 50,
    weeks: int = 12,
) -> WideDistrict:
    """The district of issue-sized data: 300 classes, 100 teachers, 99 venues, 178 spaces by default."""
    rng = random.Random(seed)
    places = _places(rng, towns, communities)
    venue_list = _venues(rng, places, venues, towns)
    space_list = _spaces(rng, venue_list, spaces, weeks)
    offers = _classes(rng, classes, places, towns)
    teacher_list, volunteers = _teachers(rng, teachers, offers, towns)
    problem = Problem(
        grid_minutes=GRID_MINUTES,
        weeks=weeks,
        spaces=tuple(space_list),
        teachers=tuple(teacher_list),
        classes=tuple(offers),
        max_travel_km=MAX_TRAVEL_KM,
        travel_km={
            (region, venue_id): round(1.3 * math.dist(places[region], where), 1)
            for region in places
            for venue_id, (where, _, _) in venue_list.items()
        },
        venue_travel_minutes={
            (a, b): 5 * math.ceil((10 + 3 * math.dist(wa, wb)) / 5)
            for a, (wa, _, _) in venue_list.items()
            for b, (wb, _, _) in venue_list.items()
            if a < b
        },
    )
    return WideDistrict(problem, places, venue_list, tuple(_holidays(weeks)), frozenset(volunteers))


def wide_problem(seed: int = 0, **sizes: int) -> Problem:
    """``wide_district``'s problem (sizes as there)."""
    return wide_district(seed, **sizes).problem


def city_problem(seed: int = 0) -> Problem:
    """A city term: 1,000 classes, 300 teachers, 500 spaces in 280 venues over 20 towns."""
    return wide_problem(seed, classes=1000, teachers=300, venues=280, spaces=500, towns=20, communities=140)


def _places(rng: random.Random, towns: int, communities: int) -> dict[int, tuple[float, float]]:
    """Region id -> position (km): towns 1..towns, communities 100·town + n, on a square that grows
    with the number of towns (about 12 km between town centres)."""
    side = 12 * math.sqrt(towns)
    places: dict[int, tuple[float, float]] = {}
    for town in range(1, towns + 1):
        places[town] = (rng.uniform(0, side), rng.uniform(0, side))
    for n in range(communities):
        town = n % towns + 1
        cx, cy = places[town]
        places[100 * town + n // towns + 1] = (cx + rng.uniform(-4, 4), cy + rng.uniform(-4, 4))
    return places


def _venues(
    rng: random.Random, places: dict[int, tuple[float, float]], count: int, towns: int
) -> dict[int, tuple[tuple[float, float], int, str]]:
    """Venue id -> (position, community, kind), spread over the communities."""
    communities = sorted(r for r in places if r > towns)
    kinds = list(VENUE_KINDS)
    shares = [VENUE_KINDS[k][0] for k in kinds]
    venues = {}
    for venue_id in range(1, count + 1):
        community = communities[(venue_id - 1) % len(communities)]
        x, y = places[community]
        venues[venue_id] = ((x + rng.uniform(-1, 1), y + rng.uniform(-1, 1)), community, rng.choices(kinds, shares)[0])
    return venues


def _spaces(rng: random.Random, venues: dict, count: int, weeks: int) -> list[Space]:
    """At least one space per venue, the rest dealt to venues at random from their kind's rooms;
    each space's hours are its venue kind's, trimmed or stretched a little."""
    rooms = {venue_id: [VENUE_KINDS[kind][1][0]] for venue_id, (_, _, kind) in venues.items()}
    extra = count - len(rooms)
    venue_ids = sorted(venues)
    while extra > 0:
        venue_id = rng.choice(venue_ids)
        options = VENUE_KINDS[venues[venue_id][2]][1]
        if len(rooms[venue_id]) < len(options) + 1:
            rooms[venue_id].append(options[len(rooms[venue_id]) % len(options)])
            extra -= 1
    holidays = _holidays(weeks)
    spaces = []
    for venue_id in venue_ids:
        _, community, venue_kind = venues[venue_id]
        for kind in rooms[venue_id]:
            (low, high), features = SPACE_KINDS[kind]
            if rng.random() < 0.5:  # on the ground floor, or with a lift
                features = (*features, "step_free")
            hours = _own_hours(rng, VENUE_KINDS[venue_kind][2])
            blocked = _blocked(rng, hours, holidays, weeks)
            spaces.append(
                Space(
                    id=len(spaces) + 1,
                    venue_id=venue_id,
                    region_id=community,
                    capacity=rng.randint(low, high),
                    kind=kind,
                    features=frozenset(features),
                    open_units=hours,
                    blocked=blocked,
                )
            )
    return spaces


def _own_hours(rng: random.Random, hours: frozenset[Unit]) -> frozenset[Unit]:
    """A space's own hours: its venue kind's, sometimes closed one weekday, opening later or closing earlier."""
    own = set(hours)
    if rng.random() < 0.3:
        closed = rng.randrange(7)
        own = {(d, u) for d, u in own if d != closed}
    shift = rng.choice((0, 0, 1, 2))
    if shift:
        first = {d: min(u for dd, u in own if dd == d) for d in {d for d, _ in own}}
        own = {(d, u) for d, u in own if u >= first[d] + shift} if rng.random() < 0.5 else own
    return frozenset(own)


def _holidays(weeks: int) -> list[tuple[int, tuple[int, ...]]]:
    """(week, weekdays) every venue is closed: a three-day break in week 4 and a Monday in week 9."""
    return [(week, days) for week, days in ((3, (0, 1, 2)), (8, (0,))) if week < weeks]


def _blocked(
    rng: random.Random, hours: frozenset[Unit], holidays: list[tuple[int, tuple[int, ...]]], weeks: int
) -> dict[Unit, frozenset[int]]:
    blocked: dict[Unit, set[int]] = {}
    for week, days in holidays:
        for unit in hours:
            if unit[0] in days:
                blocked.setdefault(unit, set()).add(week)
    ordered = sorted(hours)
    for _ in range(rng.randint(0, 3)):
        day, start = rng.choice(ordered)
        weeks_hit = set(range(weeks)) if rng.random() < 0.4 else set(rng.sample(range(weeks), rng.randint(1, 2)))
        for unit in range(start, start + rng.randint(2, 6)):
            if (day, unit) in hours:
                blocked.setdefault((day, unit), set()).update(weeks_hit)
    return {unit: frozenset(w) for unit, w in blocked.items()}


def _classes(rng: random.Random, count: int, places: dict, towns: int) -> list[ClassOffer]:
    groups = list(GROUPS)
    shares = [GROUPS[g][0] for g in groups]
    communities = sorted(r for r in places if r > towns)
    offers = []
    for class_id in range(1, count + 1):
        group = rng.choices(groups, shares)[0]
        _, window, categories, (low, high), extra = GROUPS[group]
        skill, kinds, features = CATEGORIES[rng.choice(categories)]
        community = rng.choice(communities)
        town = community // 100
        accepted = frozenset(kinds if rng.random() < 0.85 else kinds[:1])
        offers.append(
            ClassOffer(
                id=class_id,
                sessions_per_week=rng.choices((1, 2, 3), (0.55, 0.35, 0.1))[0],
                length_units=rng.choices((2, 3, 4), (0.4, 0.4, 0.2))[0],
                learners=rng.randint(low, high) if "kitchen" not in kinds else rng.randint(6, 12),
                required_features=frozenset((*features, *extra)),
                allowed_kinds=accepted,
                required_skill=skill,
                preferred_region_ids=frozenset({community} if rng.random() < 0.7 else {community, town}),
                allowed_units=window,
                cohorts=frozenset({f"{group}-{community}"}) if rng.random() < 0.3 else frozenset(),
                community_id=community,
            )
        )
    return offers


def _teachers(rng: random.Random, count: int, offers: list[ClassOffer], towns: int) -> tuple[list[Teacher], set[int]]:
    """Skills dealt in proportion to the term's demand; 40 % volunteers (evenings and weekends)."""
    demand = dict.fromkeys(SKILLS, 0)
    for offer in offers:
        demand[offer.required_skill] += offer.sessions_per_week * offer.length_units
    skills, weights = list(demand), [demand[s] + 1 for s in demand]
    teachers, volunteers = [], set()
    for teacher_id in range(1, count + 1):
        volunteer = rng.random() < 0.4
        if volunteer:
            volunteers.add(teacher_id)
        own_skills = set(rng.choices(skills, weights, k=rng.randint(1, 3)))
        days = tuple(sorted(rng.sample(range(7), rng.randint(3, 6))))
        start = 17 if volunteer else rng.choice((8, 13, 17))
        available = _hours(days, start, 21)
        if volunteer:
            available |= _hours(tuple(d for d in days if d in WEEKEND), 8, 21)
        teachers.append(
            Teacher(
                id=teacher_id,
                skills=frozenset(own_skills),
                available_units=available,
                max_minutes_per_week=60 * rng.randint(4, 10),
                home_region_id=rng.randint(1, towns),
            )
        )
    return teachers, volunteers
