"""Booking policies: the rules a venue or space sets itself, and the rules that apply after inheritance."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator
from sqlmodel import SQLModel

from booking.models import Approval, OrganisationKind

MINUTES_PER_DAY = 24 * 60
# Caps keep every value inside a 32-bit column and a timedelta; none is a real policy's limit.
MAX_MINUTES = 366 * MINUTES_PER_DAY
MAX_HORIZON_DAYS = 10 * 366
MAX_SESSIONS = 100_000
MAX_LISTED = 1000


def _dividing_the_day(step: int) -> int:
    if MINUTES_PER_DAY % step:
        raise ValueError(f"slot_step_min must divide a day ({MINUTES_PER_DAY} minutes) evenly, e.g. 15, 30 or 60")
    return step


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


Minutes = Annotated[int, Field(ge=0, le=MAX_MINUTES)]
Sessions = Annotated[int, Field(ge=0, le=MAX_SESSIONS)]
SlotStep = Annotated[int, Field(ge=1, le=MINUTES_PER_DAY), AfterValidator(_dividing_the_day)]
OrganisationIds = Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=MAX_LISTED), AfterValidator(_unique)]
OrganisationKinds = Annotated[list[OrganisationKind], AfterValidator(_unique)]


class PolicyRules(SQLModel):
    """The rules one venue or space sets; a null rule is inherited (space → the spaces it is part of →
    venue), and unset everywhere means no limit. A PUT replaces every rule: leave one out to unset it.

    An empty allow-list is a set rule that lets nobody through it: with both lists empty, only the
    place's staff can book.
    """

    model_config = ConfigDict(extra="forbid")

    approval: Approval | None = Field(default=None, description="auto: confirmed at once; manual: a manager decides")
    min_duration_min: Minutes | None = None
    max_duration_min: Minutes | None = None
    slot_step_min: SlotStep | None = Field(default=None, description="sessions start and end on multiples of this")
    lead_time_min: Minutes | None = Field(default=None, description="book at least this long before the start")
    horizon_days: Annotated[int, Field(ge=0, le=MAX_HORIZON_DAYS)] | None = Field(
        default=None, description="sessions start at most this many days ahead"
    )
    cancellation_notice_min: Minutes | None = None
    allowed_organisation_ids: OrganisationIds | None = Field(
        default=None, description="with allowed_organisation_kinds: who may book; either list admits"
    )
    allowed_organisation_kinds: OrganisationKinds | None = None
    max_bookings_per_week: Sessions | None = Field(default=None, description="per organisation, local ISO week")
    max_minutes_per_week: Minutes | None = None
    max_bookings_per_month: Sessions | None = Field(default=None, description="per organisation, calendar month")
    max_minutes_per_month: Minutes | None = None
    checkin_required: bool | None = Field(default=None, description="unchecked sessions are released")
    checkin_opens_before_min: Minutes | None = Field(default=None, description="default 15; used with check-in")
    checkin_closes_after_min: Minutes | None = Field(default=None, description="default 15; used with check-in")

    @field_validator("max_duration_min")
    @classmethod
    def _not_below_the_minimum(cls, maximum: int | None, info: ValidationInfo) -> int | None:
        minimum = info.data.get("min_duration_min")
        if maximum is not None and minimum is not None and maximum < minimum:
            raise ValueError("max_duration_min must not be less than min_duration_min")
        return maximum


class EffectiveRules(SQLModel):
    """The rules that apply once inheritance is resolved; null means no limit (for check-in times: 15)."""

    approval: Approval
    min_duration_min: int | None
    max_duration_min: int | None
    slot_step_min: int | None
    lead_time_min: int | None
    horizon_days: int | None
    cancellation_notice_min: int | None
    allowed_organisation_ids: list[int] | None
    allowed_organisation_kinds: list[OrganisationKind] | None
    max_bookings_per_week: int | None
    max_minutes_per_week: int | None
    max_bookings_per_month: int | None
    max_minutes_per_month: int | None
    checkin_required: bool
    checkin_opens_before_min: int | None
    checkin_closes_after_min: int | None


class PolicyPublic(SQLModel):
    holder: Literal["venue", "space"]
    holder_id: int
    own: PolicyRules
    effective: EffectiveRules
