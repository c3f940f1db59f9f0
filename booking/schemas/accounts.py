from datetime import datetime
from typing import Any

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from booking.models import Role, TokenKind

USERNAME = r"^[a-z0-9][a-z0-9_.-]{2,99}$"
# A mail address: an ASCII local part (RFC 5322's atext and dots) and a domain of labels, one dot at
# least. Whether the server delivers to it is its business; this keeps out what cannot be an address.
EMAIL = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
EMAIL_DESCRIPTION = "mail about your bookings and classes, with calendar invitations, goes here"


def email_field() -> Any:
    """An optional mail address, checked against ``EMAIL``."""
    return Field(default=None, max_length=254, schema_extra={"pattern": EMAIL}, description=EMAIL_DESCRIPTION)


ORGANISATION_ROLES = frozenset({Role.venue_manager, Role.organiser, Role.teacher})


class GrantCreate(SQLModel):
    """A role and its scope: an organisation for venue managers, organisers and teachers; a region
    (or none: the whole district) for district administrators; optionally a region for residents."""

    role: Role
    organisation_id: int | None = None
    region_id: int | None = None

    @model_validator(mode="after")
    def _scoped(self):
        if self.role in ORGANISATION_ROLES and (self.organisation_id is None or self.region_id is not None):
            raise ValueError(f"a {self.role} grant names an organisation_id and no region_id")
        if self.role not in ORGANISATION_ROLES and self.organisation_id is not None:
            raise ValueError(f"a {self.role} grant names no organisation_id")
        return self


class UserCreate(GrantCreate):
    username: str = Field(schema_extra={"pattern": USERNAME}, description="3–100 of a-z 0-9 _ . -")
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(default="", max_length=200)
    email: str | None = email_field()


class ProfileUpdate(SQLModel):
    """Your own name and mail address; a field left out stays as it is, ``email: null`` removes it."""

    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = email_field()


class SignIn(SQLModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)


class TokenIssued(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None = None


class ApiTokenCreate(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="default: never expires")


class ApiTokenPublic(SQLModel):
    id: int
    name: str
    kind: TokenKind
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    access_token: str = Field(description="shown once; only its hash is kept")


class GrantPublic(SQLModel):
    id: int
    role: Role
    organisation_id: int | None
    region_id: int | None


class UserPublic(SQLModel):
    id: int
    username: str
    display_name: str
    email: str | None
    grants: list[GrantPublic]
