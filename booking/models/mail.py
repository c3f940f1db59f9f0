"""Mail to people: one row per mail, rendered once when its outbox message is fanned out, with the
state of its sending (the same states as a webhook delivery)."""

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from booking.models.base import UTCDateTime
from booking.models.webhooks import DeliveryState


class MailDelivery(SQLModel, table=True):
    """One mail to one person about one booking. Mails to a person about one booking go in the
    order they were written: one waits while an earlier one is pending."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (UniqueConstraint("message_id", "user_id", "booking_id", name="uq_mail_deliveries_message"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int  # the outbox message's id
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    booking_id: int = 0  # what the mail (and its invitation) is about; 0: a class without sessions yet
    topic: str = Field(max_length=50)
    to_address: str = Field(max_length=254)
    content: str = Field(sa_type=Text)  # the whole message (RFC 5322), as sent
    state: DeliveryState = Field(default=DeliveryState.pending, sa_type=String(20), index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
