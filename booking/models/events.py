"""What happened to bookings: the audit trail people read, and the outbox machines read."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList, UTCDateTime


class EventKind(StrEnum):
    requested = "requested"
    confirmed = "confirmed"
    rejected = "rejected"
    cancelled = "cancelled"
    released = "released"
    moved = "moved"
    added = "added"  # a session re-added to a series
    checked_in = "checked_in"
    updated = "updated"  # title or attendees changed


class BookingEvent(SQLModel, table=True):
    """One state change of a booking or of some of its occurrences: who, when, from, to, why."""

    __tablename__ = "booking_events"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", index=True, ondelete="CASCADE")
    kind: EventKind = Field(sa_type=String(20))
    occurrence_ids: list[int] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str | None = Field(default=None, max_length=20)
    reason: str = Field(default="", max_length=500)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    at: datetime = Field(sa_type=UTCDateTime)


class OutboxMessage(SQLModel, table=True):
    """A booking or enrolment event waiting to be delivered (mail, webhooks), written in the same transaction."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=50)  # e.g. "booking.confirmed", "enrolment.promoted"
    # No foreign keys: a message outlives what it talks about. A booking's or a class's.
    booking_id: int | None = Field(default=None, index=True)
    class_id: int | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONList, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
