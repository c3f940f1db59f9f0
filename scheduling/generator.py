"""A seeded, district-scale random problem for benchmarks and sanity checks (pure: ``random.Random``).

The district has towns on a 30 km square, each with villages; venues are schools (open to
residents on weekday evenings and weekends), community schools, study rooms, sports centres and
village learning points, plus a district community college. Classes follow their target group:
elderly in the daytime, rural residents in the evening, children after school and at weekends,
working adults in the evening and at weekends. Schools close for the national-day week and the
exam week; some spaces carry standing bookings (unusable) or occasional ones (skipped weeks).
"""

import math
import random
from dataclasses import dataclass, replace

from .problem import ClassOffer, Problem, Space, Teacher, Unit

GRID_MINUTES = 30
TOWNS = 10
VILLAGES_PER_TOWN = 3
MAX_TRAVEL_KM = 8.0


@dataclass(frozen=True)
class _Room:
    kind: str
    capacity: int
    features: frozenset[str]
    courts: int = 0


def _room(kind: str, capacity: int, *features: str, courts: int = 0) -> _Room:
    return _Room(kind, capacity, frozenset(features), courts)


VENUE_ROOMS = {
    "school": (
        _room("classroom", 45, "projector"),
        _room("classroom", 45, "projector"),
        _room("music_room", 40, "piano"),
        _room("hall", 200, "open_floor", courts=2),
        _room("computer_lab", 40, "computers", "projector"),
    ),
    "community_school": (
        _room("classroom", 40, "projector", "step_free"),
        _room("classroom", 30, "step_free"),
        _room("computer_lab", 30, "computers", "projector", "step_free"),
        _room("kitchen", 16, "stove", "step_free"),
        _room("activity_room", 40, "open_floor", "mirror", "step_free", "piano"),
    ),
    "study_room": (_room("reading_room", 30, "projector", "step_free"), _room("seminar_room", 20, "step_free")),
    "sports_centre": (
        _room("gym", 60, "open_floor", "mirror", "step_free"),
        _room("hall", 150, "open_floor", courts=2),
    ),
    "learning_point": (_room("activity_room", 25, "step_free", "open_floor"),),
}
COLLEGE_ROOMS = (
    *VENUE_ROOMS["community_school"],
    _room("classroom", 60, "projector", "step_free"),
    _room("music_room", 40, "piano", "step_free"),
    _room("computer_lab", 40, "computers", "projector", "step_free"),
)
TOWN_VENUES = ("community_school", "school", "study_room", "learning_point", "sports_centre", "learning_point")

WEEKDAYS, WEEKEND, EVERY_DAY = range(5), range(5, 7), range(7)


def _hours(days: range, *windows: tuple[float, float]) -> frozenset[Unit]:
    """Units of the given days inside the given (from hour, to hour) windows."""
    per_hour = 60 // GRID_MINUTES
    return frozenset(
        (day, unit)
        for day in days
        for start, end in windows
        for unit in range(round(start * per_hour), round(end * per_hour))
    )


OPENING_HOURS = {
    "school": _hours(WEEKDAYS, (18, 21.5)) | _hours(WEEKEND, (8, 18)),
    "community_school": _hours(range(6), (8.5, 21)),
    "study_room": _hours(EVERY_DAY, (9, 21)),
    "sports_centre": _hours(EVERY_DAY, (7, 22)),
    "learning_point": _hours(WEEKDAYS, (9, 11.5), (14, 17), (19, 21)) | _hours(range(5, 6), (9, 12)),
    "college": _hours(EVERY_DAY, (8, 21.5)),
}

# category -> (skill, required kind, required features)
CATEGORIES = {
    "calligraphy": ("calligraphy", None, ()),
    "painting": ("painting", None, ()),
    "taichi": ("taichi", None, ("open_floor",)),
    "dance": ("dance", None, ("open_floor", "mirror")),
    "fitness": ("fitness", None, ("open_floor",)),
    "health": ("health", None, ("projector",)),
    "law": ("law", None, ("projector",)),
    "finance": ("finance", None, ("projector",)),
    "english": ("english", None, ()),
    "agriculture": ("agriculture", None, ("projector",)),
    "smartphone": ("computing", "computer_lab", ()),
    "coding": ("computing", "computer_lab", ()),
    "ecommerce": ("ecommerce", "computer_lab", ()),
    "cooking": ("cooking", "kitchen", ()),
    "singing": ("music", None, ("piano",)),
    "music": ("music", None, ("piano",)),
    "chess": ("chess", None, ()),
    "handicraft": ("handicraft", None, ()),
    "parenting": ("parenting", None, ()),
}
SKILLS = sorted({skill for skill, _, _ in CATEGORIES.values()})

# target group -> (share, time-band choices, categories, learners range, extra required features)
GROUPS = {
    "elderly": (
        0.35,
        (_hours(WEEKDAYS, (8.5, 11.5)), _hours(WEEKDAYS, (14, 17))),
        ("calligraphy", "painting", "taichi", "health", "smartphone", "singing", "handicraft", "chess"),
        (12, 30),
        ("step_free",),
    ),
    "rural": (
        0.2,
        (_hours(EVERY_DAY, (18.5, 21)), _hours(WEEKEND, (9, 12)), _hours(WEEKEND, (14, 17))),
        ("agriculture", "ecommerce", "law", "health", "cooking", "dance"),
        (15, 35),
        (),
    ),
    "children": (
        0.25,
        (_hours(WEEKDAYS, (16, 18.5)), _hours(WEEKEND, (8.5, 11.5)), _hours(WEEKEND, (14, 17.5))),
        ("music", "painting", "dance", "chess", "english", "coding", "calligraphy"),
        (10, 30),
        (),
    ),
    "adults": (
        0.2,
        (_hours(WEEKDAYS, (18.5, 21.5)), _hours(WEEKEND, (9, 12)), _hours(WEEKEND, (14, 17))),
        ("english", "finance", "fitness", "dance", "cooking", "parenting", "law"),
        (12, 30),
        (),
    ),
}

# teacher profile -> (share, available units, weekly minutes range)
TEACHER_PROFILES = {
    "staff": (0.3, _hours(WEEKDAYS, (8, 21.5)) | _hours(range(5, 6), (8, 17)), (720, 960)),
    "volunteer": (0.4, _hours(WEEKDAYS, (16, 21.5)) | _hours(WEEKEND, (8, 18)), (300, 600)),
    "retired": (0.3, _hours(WEEKDAYS, (8, 17.5)), (420, 720)),
}


def district_problem(
    seed: int = 0, classes: int = 300, spaces: int = 150, teachers: int = 100, weeks: int = 12
) -> Problem:
    rng = random.Random(seed)
    places = _regions(rng)
    venues, space_list = _venues_and_spaces(rng, places, spaces, weeks)
    offers = _classes(rng, classes)
    teacher_list = _teachers(rng, venues, teachers, _skill_demand(offers))
    return Problem(
        grid_minutes=GRID_MINUTES,
        weeks=weeks,
        spaces=tuple(space_list),
        teachers=tuple(teacher_list),
        classes=tuple(_with_some_fixed_teachers(rng, offers, teacher_list)),
        max_travel_km=MAX_TRAVEL_KM,
        travel_km={
            (region, venue): round(1.3 * math.dist(places[region], where), 1)
            for region in places
            for venue, (where, _) in venues.items()
        },
        venue_travel_minutes={
            (a, b): 5 * math.ceil((10 + 2 * math.dist(wa, wb)) / 5)
            for a, (wa, _) in venues.items()
            for b, (wb, _) in venues.items()
            if a < b
        },
    )


def _regions(rng: random.Random) -> dict[int, tuple[float, float]]:
    """Region id -> position (km): towns 1..TOWNS, villages 10·town + 1..VILLAGES_PER_TOWN."""
    places = {}
    for town in range(1, TOWNS + 1):
        centre = (rng.uniform(0, 30), rng.uniform(0, 30))
        places[town] = centre
        for village in range(1, VILLAGES_PER_TOWN + 1):
            places[10 * town + village] = (centre[0] + rng.uniform(-3, 3), centre[1] + rng.uniform(-3, 3))
    return places


def _venues_and_spaces(
    rng: random.Random, places: dict[int, tuple[float, float]], count: int, weeks: int
) -> tuple[dict[int, tuple[tuple[float, float], str]], list[Space]]:
    venues: dict[int, tuple[tuple[float, float], str]] = {}
    spaces: list[Space] = []
    plan = [(1, "college", COLLEGE_ROOMS)]
    for round_ in range(100):
        for town in range(1, TOWNS + 1):
            kind = TOWN_VENUES[round_ % len(TOWN_VENUES)]
            region = town if kind != "learning_point" else 10 * town + 1 + round_ % VILLAGES_PER_TOWN
            plan.append((region, kind, VENUE_ROOMS[kind]))
    for region, kind, rooms in plan:
        if len(spaces) >= count:
            break
        venue_id = len(venues) + 1
        x, y = places[region]
        venues[venue_id] = ((x + rng.uniform(-1, 1), y + rng.uniform(-1, 1)), kind)
        for room in rooms:
            if len(spaces) >= count:
                break
            spaces.extend(_room_spaces(rng, len(spaces) + 1, venue_id, region, kind, room, count - len(spaces), weeks))
    return venues, spaces


def _room_spaces(
    rng: random.Random,
    next_id: int,
    venue_id: int,
    region: int,
    venue_kind: str,
    room: _Room,
    room_left: int,
    weeks: int,
) -> list[Space]:
    """The room, and its courts if it is divisible and there is room for them."""
    courts = room.courts if room.courts < room_left else 0
    court_ids = frozenset(range(next_id + 1, next_id + 1 + courts))
    hours = OPENING_HOURS[venue_kind]
    blocked = _blocked(rng, venue_kind, hours, weeks)
    hall = Space(next_id, venue_id, region, room.capacity, room.kind, room.features, court_ids, hours, blocked)
    court_spaces = [
        Space(court, venue_id, region, room.capacity // 2, "court", room.features, frozenset(), hours, blocked)
        for court in sorted(court_ids)
    ]
    return [hall, *court_spaces]


def _blocked(rng: random.Random, venue_kind: str, hours: frozenset[Unit], weeks: int) -> dict[Unit, frozenset[int]]:
    blocked: dict[Unit, set[int]] = {}
    if venue_kind == "school":
        for unit in hours:  # national-day week, and the exam week on weekdays
            blocked.setdefault(unit, set()).add(min(4, weeks - 1))
            if unit[0] < 5:
                blocked[unit].add(weeks - 1)
    ordered = sorted(hours)
    for _ in range(rng.randint(0, 3)):
        day, unit = rng.choice(ordered)
        standing = rng.random() < 0.4
        weeks_hit = set(range(weeks)) if standing else set(rng.sample(range(weeks), rng.randint(1, 2)))
        for u in range(unit, unit + rng.randint(2, 6)):
            if (day, u) in hours:
                blocked.setdefault((day, u), set()).update(weeks_hit)
    return {unit: frozenset(w) for unit, w in blocked.items()}


def _skill_demand(offers: list[ClassOffer]) -> dict[str, int]:
    """Teaching units a week asked for each skill."""
    demand = dict.fromkeys(SKILLS, 0)
    for offer in offers:
        demand[offer.required_skill] += offer.sessions_per_week * offer.length_units
    return demand


def _teachers(rng: random.Random, venues: dict, count: int, demand: dict[str, int]) -> list[Teacher]:
    """Teachers recruited for what the term offers: skill slots dealt in proportion to demand."""
    profiles = list(TEACHER_PROFILES)
    shares = [TEACHER_PROFILES[p][0] for p in profiles]
    skill_counts = [2] * count
    total = sum(demand.values())
    slots = [skill for skill in SKILLS for _ in range(max(1, round(sum(skill_counts) * demand[skill] / total)))]
    rng.shuffle(slots)
    teachers = []
    for teacher_id, skill_count in enumerate(skill_counts, start=1):
        profile = rng.choices(profiles, shares)[0]
        _, available, (low, high) = TEACHER_PROFILES[profile]
        skills = {slots.pop() for _ in range(skill_count) if slots} or {rng.choice(SKILLS)}
        refused = frozenset(rng.sample(sorted(venues), 2)) if rng.random() < 0.1 else frozenset()
        teachers.append(
            Teacher(
                id=teacher_id,
                skills=frozenset(skills),
                available_units=available,
                max_minutes_per_week=30 * rng.randint(low // 30, high // 30),
                home_region_id=rng.randint(1, TOWNS),
                refused_venue_ids=refused,
            )
        )
    return teachers


def _classes(rng: random.Random, count: int) -> list[ClassOffer]:
    groups = list(GROUPS)
    shares = [GROUPS[g][0] for g in groups]
    offers = []
    for class_id in range(1, count + 1):
        group = rng.choices(groups, shares)[0]
        _, bands, categories, (low, high), extra = GROUPS[group]
        allowed = rng.choice(bands)
        weekly = 1 if all(day in WEEKEND for day, _ in allowed) else rng.choices((1, 2, 3), (0.5, 0.4, 0.1))[0]
        skill, kind, features = CATEGORIES[rng.choice(categories)]
        town = rng.randint(1, TOWNS)
        village = 10 * town + rng.randint(1, VILLAGES_PER_TOWN)
        learners = rng.randint(low, high) if kind != "kitchen" else rng.randint(8, 16)
        offers.append(
            ClassOffer(
                id=class_id,
                sessions_per_week=weekly,
                length_units=rng.choices((2, 3, 4), (0.2, 0.5, 0.3))[0],
                learners=learners,
                required_features=frozenset((*features, *extra)),
                allowed_kinds=frozenset({kind}) if kind else frozenset(),
                required_skill=skill,
                preferred_region_ids=frozenset({village} if rng.random() < 0.7 else {village, town}),
                allowed_units=allowed,
                cohorts=frozenset({f"{group}-{town}"})
                if group in ("elderly", "children") and rng.random() < 0.3
                else frozenset(),
                community_id=town,
            )
        )
    return offers


def _with_some_fixed_teachers(
    rng: random.Random, offers: list[ClassOffer], teachers: list[Teacher]
) -> list[ClassOffer]:
    """About one class in twelve keeps the teacher who taught it last term (at these hours)."""
    fixed = []
    for offer in offers:
        qualified = [
            t.id for t in teachers if offer.required_skill in t.skills and offer.allowed_units <= t.available_units
        ]
        if qualified and rng.random() < 0.08:
            offer = replace(offer, fixed_teacher_id=rng.choice(qualified))
        fixed.append(offer)
    return fixed
