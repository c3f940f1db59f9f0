from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList, UTCDateTime


class IdempotencyKey(SQLModel, table=True):
    """The first response to a create request, replayed when the same key comes again."""

    __tablename__ = "idempotency_keys"

    scope: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response: Any = Field(default=None, sa_column=Column(JSONList, nullable=True))
    created_at: datetime = Field(sa_type=UTCDateTime)
