"""Webhooks: the endpoints organisations (or the district) register, and each message's delivery
to each endpoint with its attempts: the delivery log."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList, UTCDateTime


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    # None: the district's own endpoint, told of everything.
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))  # empty: all
    secret: str = Field(max_length=100)  # signs every delivery; shown once, when the endpoint is made
    description: str = Field(default="", max_length=200)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeliveryState(StrEnum):
    pending = "pending"  # waiting for its turn or its next attempt
    delivered = "delivered"  # the endpoint answered 2xx
    dead = "dead"  # retried for a day without success; kept with its last error


class WebhookDelivery(SQLModel, table=True):
    """One outbox message for one endpoint. Messages about one booking (or class) reach an
    endpoint in the order they were written: one waits while an earlier one is pending."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "message_id", name="uq_webhook_deliveries_message"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id", index=True, ondelete="CASCADE")
    message_id: int  # the outbox message's id, also the webhook-id's number
    topic: str = Field(max_length=50)
    subject: str = Field(max_length=40)  # "booking:12" or "class:7": what the order is kept for
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONList, nullable=False))
    state: DeliveryState = Field(default=DeliveryState.pending, sa_type=String(20), index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
