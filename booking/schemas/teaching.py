"""Teachers, community classes and allocations (solver runs)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from booking.models import AllocationStatus, SpaceKind
from booking.schemas.calendars import Clock
from booking.schemas.common import Features, Name

MAX_TERM_DAYS = 366


class TeacherKind(StrEnum):
    staff = "staff"
    volunteer = "volunteer"


class WeeklyWindow(SQLModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    opens: Clock
    closes: Clock


Windows = Annotated[list[WeeklyWindow], Field(max_length=50)]
Ids = Annotated[list[int], Field(max_length=100)]


class TeacherCreate(SQLModel):
    name: Name
    kind: TeacherKind = TeacherKind.staff
    organisation_id: int | None = None
    skills: Features = Field(default_factory=list)
    availability: Windows = Field(default_factory=list, description="weekly local windows; empty = any time")
    max_minutes_per_week: int = Field(default=600, ge=0, le=7 * 24 * 60)
    home_region_id: int | None = None
    refused_venue_ids: Ids = Field(default_factory=list)
    display_name: str = Field(default="", max_length=100, description="shown in the public catalogue, e.g. 王老师")
    user_id: int | None = Field(default=None, description="the account that teaches as this teacher")


class TeacherUpdate(SQLModel):
    name: Name | None = None
    kind: TeacherKind | None = None
    organisation_id: int | None = None
    # Lists may be left out (unchanged), never null: the columns hold lists.
    skills: Features = Field(default=None)
    availability: Windows = Field(default=None)
    max_minutes_per_week: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    home_region_id: int | None = None
    refused_venue_ids: Ids = Field(default=None)
    display_name: str | None = Field(default=None, max_length=100)
    user_id: int | None = None


class TeacherPublic(TeacherCreate):
    id: int


def _distinct_kinds(kinds: list[SpaceKind]) -> list[SpaceKind]:
    """The space kinds a class accepts are a set: like features, a repeated kind is removed, not
    refused, and the list comes back sorted."""
    return sorted(set(kinds))


SpaceKinds = Annotated[list[SpaceKind], Field(max_length=20), AfterValidator(_distinct_kinds)]

# "invalid_request:" makes this message the problem's detail (see booking/api/problems.py).
REQUIRED_KIND_REPLACED = (
    "invalid_request: required_kind was replaced by allowed_kinds, a list of space kinds (empty = any kind); "
    'send e.g. "allowed_kinds": ["kitchen"]'
)


class ClassRequest(SQLModel):
    """A class's create or update body. Unknown fields are ignored, but ``required_kind`` is refused:
    a client that still sent it would otherwise get a class that accepts any kind of space."""

    @model_validator(mode="before")
    @classmethod
    def _no_required_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and "required_kind" in data:
            raise PydanticCustomError("invalid_request", REQUIRED_KIND_REPLACED)
        return data


class ClassCreate(ClassRequest):
    title: Name
    category: str = Field(default="", max_length=100)
    target_group: str = Field(default="", max_length=100, description="e.g. elderly, youth, rural residents")
    organisation_id: int
    term_start: date
    term_end: date
    sessions_per_week: int = Field(default=1, ge=1, le=7)
    session_minutes: int = Field(default=90, ge=15, le=8 * 60)
    learners: int = Field(default=10, ge=1, le=10_000)
    required_features: Features = Field(default_factory=list)
    allowed_kinds: SpaceKinds = Field(default_factory=list, description="space kinds it accepts; empty = any kind")
    required_skill: str | None = Field(default=None, max_length=100)
    fixed_teacher_id: int | None = None
    preferred_region_ids: Ids = Field(default_factory=list)
    allowed_windows: Windows = Field(default_factory=list, description="weekly local windows; empty = any time")
    cohorts: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=20)] = Field(
        default_factory=list, description="classes sharing a cohort share learners and never overlap"
    )

    @field_validator("term_end")
    @classmethod
    def _term(cls, term_end: date, info: ValidationInfo) -> date:
        return check_term(info.data.get("term_start"), term_end)


def check_term(term_start: date | None, term_end: date) -> date:
    if term_start is not None and term_end < term_start:
        raise ValueError("term_end must not be before term_start")
    if term_start is not None and (term_end - term_start).days >= MAX_TERM_DAYS:
        raise ValueError(f"a term may last at most {MAX_TERM_DAYS} days")
    return term_end


class ClassUpdate(ClassRequest):
    title: Name | None = None
    category: str | None = Field(default=None, max_length=100)
    target_group: str | None = Field(default=None, max_length=100)
    sessions_per_week: int | None = Field(default=None, ge=1, le=7)
    session_minutes: int | None = Field(default=None, ge=15, le=8 * 60)
    learners: int | None = Field(default=None, ge=1, le=10_000)
    # Lists may be left out (unchanged), never null: the columns hold lists ([] already means any).
    required_features: Features = Field(default=None)
    allowed_kinds: SpaceKinds = Field(default=None)
    required_skill: str | None = Field(default=None, max_length=100)
    fixed_teacher_id: int | None = None
    preferred_region_ids: Ids = Field(default=None)
    allowed_windows: Windows = Field(default=None)
    cohorts: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=20)] = Field(default=None)


class ClassPublic(ClassCreate):
    id: int


class LockIn(SQLModel):
    """Keep a class's sessions as the parent allocation placed them (all, or one ``session_index``)."""

    class_id: int
    session_index: int | None = Field(default=None, ge=0, le=6)


class ForbidIn(SQLModel):
    """Rule out, for a class, a space, a teacher, a weekday, a start time — or a combination."""

    class_id: int
    space_id: int | None = None
    teacher_id: int | None = None
    weekday: int | None = Field(default=None, ge=0, le=6)
    start: Clock | None = None


class WeightsIn(SQLModel):
    travel: int = Field(default=1, ge=0, le=1000)
    same_space: int = Field(default=5, ge=0, le=1000)
    cohort_compactness: int = Field(default=2, ge=0, le=1000)
    teacher_balance: int = Field(default=1, ge=0, le=1000)
    fairness: int = Field(default=10, ge=0, le=1000)
    skipped_weeks: int = Field(default=3, ge=0, le=1000)


class AllocationCreate(SQLModel):
    term_start: date
    term_end: date
    class_ids: Annotated[list[int], Field(max_length=1000)] | None = Field(
        default=None, description="default: every class whose term overlaps this one"
    )
    time_limit_s: float = Field(default=20.0, ge=1.0, le=600.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    weights: WeightsIn = Field(default_factory=WeightsIn)
    from_allocation_id: int | None = Field(default=None, description="re-run: keeps its locks and forbids")
    region_id: int | None = Field(
        default=None,
        description="whose run this is: the district administrators of this region's subtree run and see it; "
        "default the whole district (district-wide administrators only)",
    )
    locks: Annotated[list[LockIn], Field(max_length=1000)] = Field(default_factory=list)
    forbids: Annotated[list[ForbidIn], Field(max_length=1000)] = Field(default_factory=list)

    @field_validator("term_end")
    @classmethod
    def _term(cls, term_end: date, info: ValidationInfo) -> date:
        return check_term(info.data.get("term_start"), term_end)


class AllocationPublic(SQLModel):
    id: int
    status: AllocationStatus
    region_id: int | None = None
    term_start: date
    term_end: date
    class_ids: list[int]
    time_limit_s: float
    seed: int
    weights: dict[str, Any]
    locks: list[dict[str, Any]]
    forbids: list[dict[str, Any]]
    parent_id: int | None
    progress: dict[str, Any] | None = Field(description="while running: objective, bound, elapsed_s, placed")
    result: dict[str, Any] | None = Field(description="when done: classes with their weekly pattern, unplaced")
    commit_report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
