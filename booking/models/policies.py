"""Booking policies of a venue or a space. A space's policy overrides its venue's field by field."""

from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList


class Approval(StrEnum):
    auto = "auto"  # a request that passes every rule is confirmed at once
    manual = "manual"  # a request waits, pending, until a manager approves it


class Policy(SQLModel, table=True):
    """Rules for booking a venue's spaces or one space. A None field is not set here and is
    inherited (space → the spaces it is part of → venue); unset everywhere means no limit."""

    __tablename__ = "policies"

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int | None = Field(default=None, foreign_key="venues.id", unique=True, ondelete="CASCADE")
    space_id: int | None = Field(default=None, foreign_key="spaces.id", unique=True, ondelete="CASCADE")
    approval: Approval | None = Field(default=None, sa_type=String(10))
    min_duration_min: int | None = None
    max_duration_min: int | None = None
    slot_step_min: int | None = None  # sessions start on multiples of this from local midnight
    lead_time_min: int | None = None  # a session must be booked at least this long before it starts
    horizon_days: int | None = None  # and start at most this many days ahead
    cancellation_notice_min: int | None = None
    allowed_organisation_ids: list[int] | None = Field(default=None, sa_column=Column(JSONList, nullable=True))
    allowed_organisation_kinds: list[str] | None = Field(default=None, sa_column=Column(JSONList, nullable=True))
    max_bookings_per_week: int | None = None  # sessions per organisation, local ISO week
    max_minutes_per_week: int | None = None
    max_bookings_per_month: int | None = None
    max_minutes_per_month: int | None = None
    checkin_required: bool | None = None
    checkin_opens_before_min: int | None = None  # check-in opens this long before the start
    checkin_closes_after_min: int | None = None  # and closes this long after; then the session is released

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RULE_FIELDS}


RULE_FIELDS: tuple[str, ...] = tuple(name for name in Policy.model_fields if name not in ("id", "venue_id", "space_id"))
