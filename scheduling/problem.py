"""Plain data in and out of the allocator: frozen dataclasses, tuples, frozensets and mappings.

Time is a weekly grid. A *unit* is ``(weekday, index)`` with weekday 0 = Monday … 6 = Sunday and
index 0 … ``units_per_day - 1`` counting ``grid_minutes`` slots from midnight. A session of
``length_units`` starting at unit ``s`` occupies ``s … s + length_units - 1`` of one day; it never
crosses midnight. Weeks of the term are indexed 0 … ``weeks - 1``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Literal

Unit = tuple[int, int]
"""(weekday 0=Mon..6, unit index within the day)."""


def _empty_mapping() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class Space:
    id: int
    venue_id: int
    region_id: int
    capacity: int
    kind: str
    features: frozenset[str] = frozenset()
    leaves: frozenset[int] = frozenset()
    """Leaf-space ids this space occupies; empty means the space is a leaf and occupies itself."""
    open_units: frozenset[Unit] = frozenset()
    blocked: Mapping[Unit, frozenset[int]] = field(default_factory=_empty_mapping)
    """For open units: the week indexes in which the unit cannot be used."""

    @property
    def occupied_leaves(self) -> frozenset[int]:
        return self.leaves or frozenset({self.id})


@dataclass(frozen=True)
class Teacher:
    id: int
    skills: frozenset[str] = frozenset()
    available_units: frozenset[Unit] = frozenset()
    max_minutes_per_week: int = 0
    home_region_id: int | None = None
    refused_venue_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ClassOffer:
    id: int
    sessions_per_week: int
    length_units: int
    learners: int
    required_features: frozenset[str] = frozenset()
    allowed_kinds: frozenset[str] = frozenset()
    """Space kinds the class accepts; empty means any kind."""
    required_skill: str | None = None
    fixed_teacher_id: int | None = None
    preferred_region_ids: frozenset[int] = frozenset()
    allowed_units: frozenset[Unit] = frozenset()
    """Every unit of every session must be in this set."""
    cohorts: frozenset[str] = frozenset()
    """Classes sharing a cohort share learners, so their sessions never overlap."""
    community_id: int | None = None
    min_weekdays: int | None = None
    """None: every session on its own weekday (a hard rule). A number: sessions may share a weekday
    (never overlapping), and each weekday short of this many costs ``Weights.short_weekdays``."""


@dataclass(frozen=True)
class Lock:
    """A session kept exactly as given; if that is impossible the class is unplaced (``lock_infeasible``)."""

    class_id: int
    session_index: int
    weekday: int
    start_unit: int
    space_id: int
    teacher_id: int


@dataclass(frozen=True)
class Forbid:
    """Rules out every session of the class that matches all the fields given (None matches anything)."""

    class_id: int
    space_id: int | None = None
    teacher_id: int | None = None
    weekday: int | None = None
    start_unit: int | None = None

    def matches(self, class_id: int, weekday: int, start_unit: int, space_id: int, teacher_id: int) -> bool:
        return (
            self.class_id == class_id
            and self.space_id in (None, space_id)
            and self.teacher_id in (None, teacher_id)
            and self.weekday in (None, weekday)
            and self.start_unit in (None, start_unit)
        )


@dataclass(frozen=True)
class Weights:
    travel: int = 1
    same_space: int = 5
    cohort_compactness: int = 2
    teacher_balance: int = 1
    fairness: int = 10
    skipped_weeks: int = 3
    short_weekdays: int = 5
    isolated_sessions: int = 0
    over_capacity: int = 1


@dataclass(frozen=True)
class Problem:
    grid_minutes: int
    weeks: int
    spaces: tuple[Space, ...]
    teachers: tuple[Teacher, ...]
    classes: tuple[ClassOffer, ...]
    locks: tuple[Lock, ...] = ()
    forbids: tuple[Forbid, ...] = ()
    weights: Weights = field(default_factory=Weights)
    travel_km: Mapping[tuple[int, int], float] = field(default_factory=_empty_mapping)
    """(preferred region id, venue id) -> learners' travel in km; missing means 0."""
    venue_travel_minutes: Mapping[tuple[int, int], int] = field(default_factory=_empty_mapping)
    """(venue a, venue b) -> a teacher's travel in minutes; missing (both ways) means 0."""
    max_blocked_share: float = 0.25
    max_travel_km: float | None = None
    """If set, a class only uses venues within this distance of one of its preferred regions
    (classes without preferred regions go anywhere): keeps the model to realistic choices."""
    soft_capacity: bool = False
    """If set, a space too small for a class may still host it: each learner without a seat costs
    ``Weights.over_capacity`` per session. Otherwise capacity is a hard rule."""

    def __post_init__(self) -> None:
        if self.grid_minutes <= 0 or 1440 % self.grid_minutes:
            raise ValueError(f"grid_minutes must divide a day, got {self.grid_minutes}")
        if self.weeks <= 0:
            raise ValueError(f"weeks must be positive, got {self.weeks}")
        for kind, items in (("space", self.spaces), ("teacher", self.teachers), ("class", self.classes)):
            ids = [item.id for item in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {kind} ids")
        for offer in self.classes:
            if offer.sessions_per_week <= 0 or not 0 < offer.length_units <= self.units_per_day:
                raise ValueError(f"class {offer.id}: sessions_per_week and length_units must be positive within a day")

    @property
    def units_per_day(self) -> int:
        return 1440 // self.grid_minutes

    @cached_property
    def space_by_id(self) -> Mapping[int, Space]:
        return MappingProxyType({space.id: space for space in self.spaces})

    @cached_property
    def teacher_by_id(self) -> Mapping[int, Teacher]:
        return MappingProxyType({teacher.id: teacher for teacher in self.teachers})

    @cached_property
    def class_by_id(self) -> Mapping[int, ClassOffer]:
        return MappingProxyType({offer.id: offer for offer in self.classes})

    @cached_property
    def _starts_cache(self) -> dict:
        return {}

    def starts_within(self, units: frozenset[Unit], length_units: int) -> frozenset[Unit]:
        """The starts of sessions of ``length_units`` lying wholly in ``units`` (remembered per set:
        spaces and teachers share a handful of opening hours)."""
        key = (id(units), length_units)
        cached = self._starts_cache.get(key)
        if cached is None or cached[0] is not units:
            starts = frozenset(
                (day, unit) for day, unit in units if all((day, unit + i) in units for i in range(1, length_units))
            )
            cached = self._starts_cache[key] = (units, starts)
        return cached[1]

    def locks_of(self, class_id: int) -> tuple[Lock, ...]:
        return tuple(lock for lock in self.locks if lock.class_id == class_id)

    def forbids_of(self, class_id: int) -> tuple[Forbid, ...]:
        return tuple(forbid for forbid in self.forbids if forbid.class_id == class_id)


@dataclass(frozen=True)
class Assignment:
    class_id: int
    session_index: int
    weekday: int
    start_unit: int
    space_id: int
    teacher_id: int
    skipped_weeks: tuple[int, ...] = ()
    """Weeks of the term in which the session cannot take place (its units are blocked)."""


@dataclass(frozen=True)
class Unplaced:
    class_id: int
    reasons: tuple[str, ...]
    """Stable snake_case codes, most fundamental first (see ``scheduling.explain``)."""
    detail: str = ""


Status = Literal["optimal", "feasible", "infeasible", "unknown"]


@dataclass(frozen=True)
class Solution:
    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    status: Status
    objective: float | None
    """placement weight × placement units left out + weighted soft penalties (``scheduling.objective``)."""
    bound: float | None
    wall_time_s: float
    first_feasible_s: float | None
    placed_count: int
    placed_bound: int | None = None
    """At most this many classes can be placed by any plan (``scheduling.bound`` or CP-SAT's bound)."""
    method: str = "whole_model"
    """How the term was solved: ``whole_model`` (one CP-SAT model), ``neighbourhoods`` (too big for
    one: ``scheduling.neighbourhoods``), ``greedy`` (the limit ended with the greedy plan) or
    ``time_first`` (``scheduling.time_first``)."""


@dataclass(frozen=True)
class Progress:
    objective: float
    bound: float
    elapsed_s: float
    placed: int
    stage: str = ""
    """What the solver is doing: ``greedy``, ``bound``, ``placement``, ``quality``, ``neighbourhoods``, …"""
    placed_bound: int | None = None


@dataclass(frozen=True)
class Violation:
    code: str
    class_id: int | None
    detail: str
