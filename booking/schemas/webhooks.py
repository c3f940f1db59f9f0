"""Webhook endpoints and their delivery log."""

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator
from sqlmodel import SQLModel

from booking.models import DeliveryState, EventKind
from booking.services.events import PUBLISHED

# Every topic a message can have: a booking's published changes and enrolment's news.
TOPICS = frozenset({f"booking.{kind.value}" for kind in EventKind if kind in PUBLISHED}) | {
    "enrolment.promoted",
    "enrolment.drawn",
    "enrolment.cancelled",
}
MAX_TOPICS = len(TOPICS)


class EndpointCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=8, max_length=2000, description="http(s); must reach the public internet")]
    organisation_id: int | None = Field(default=None, description="none: the district's endpoint, told of everything")
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS, description="empty: every topic")
    description: str = Field(default="", max_length=200)

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, topics: list[str]) -> list[str]:
        unknown = sorted(set(topics) - TOPICS)
        if unknown:
            raise ValueError(f"unknown topics {unknown}; known: {sorted(TOPICS)}")
        return sorted(set(topics))


class EndpointPublic(SQLModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int | None
    url: str
    topics: list[str]
    description: str
    created_at: datetime


class EndpointCreated(EndpointPublic):
    secret: str = Field(description="signs every delivery (Standard Webhooks); shown only now")


class DeliveryPublic(SQLModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: int
    topic: str
    subject: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
