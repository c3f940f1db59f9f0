"""People who sign in, what they may act as, and their tokens."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from booking.models.base import UTCDateTime


class Role(StrEnum):
    district_admin = "district_admin"  # scoped to a region subtree
    venue_manager = "venue_manager"  # staff of an organisation that owns venues
    organiser = "organiser"  # member of a booking organisation
    teacher = "teacher"
    resident = "resident"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    display_name: str = Field(default="", max_length=200)
    # Where mail about their bookings and classes goes (with calendar invitations); None: no mail.
    email: str | None = Field(default=None, max_length=254)
    is_active: bool = True
    failed_logins: int = 0
    # Sign-in attempts are refused until then, after repeated failures.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class RoleGrant(SQLModel, table=True):
    """A role a user holds, scoped to an organisation or a region where the role needs one."""

    __tablename__ = "role_grants"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=String(30))
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", ondelete="CASCADE")
    region_id: int | None = Field(default=None, foreign_key="regions.id", ondelete="CASCADE")


class TokenKind(StrEnum):
    session = "session"  # from signing in; expires
    api = "api"  # long-lived, for integrations; listed and revocable
    feed = "feed"  # the key of a person's private calendar feed; not valid for the API


class ApiToken(SQLModel, table=True):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(default="", max_length=100)
    kind: TokenKind = Field(sa_type=String(10))
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
