"""Residents, enrolment policies, applications and published draws, as the API reads and writes them."""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, field_validator, model_validator
from sqlmodel import Field, SQLModel

from booking.models import Application, ApplicationState, Channel, EnrolmentMode, Outcome, Tier
from booking.schemas.accounts import USERNAME, email_field

ID_NUMBER = re.compile(r"^\d{17}[\dX]$")  # a mainland resident identity card number


def _id_number(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not ID_NUMBER.match(value):
        raise ValueError("an ID number is 17 digits and a final digit or X")
    return value


IdNumber = Annotated[str | None, AfterValidator(_id_number)]


class ResidentProfile(SQLModel):
    """A resident's own profile. ``id_number`` is never stored: only a salted hash and its last four digits."""

    display_name: str = Field(min_length=1, max_length=200)
    home_region_id: int
    birth_year: int = Field(ge=1900, le=2100)
    phone: str | None = Field(default=None, max_length=30, schema_extra={"pattern": r"^[0-9+\- ]{5,30}$"})
    id_number: IdNumber = Field(default=None, description="kept only as a salted SHA-256 and its last four digits")


class CounterRegistration(ResidentProfile):
    """A resident registered at an organisation's counter: an account they can later sign in to."""

    username: str = Field(schema_extra={"pattern": USERNAME}, description="3–100 of a-z 0-9 _ . -")
    password: str | None = Field(default=None, min_length=8, max_length=200)
    email: str | None = email_field()


class ResidentPublic(SQLModel):
    user_id: int
    public_id: str
    display_name: str
    home_region_id: int
    birth_year: int
    phone: str | None
    id_type: str
    id_last4: str | None


class AgentCreate(SQLModel):
    username: str = Field(min_length=1, max_length=100, description="the account that may act for you")


class AgentPublic(SQLModel):
    agent_user_id: int
    username: str
    display_name: str
    created_at: datetime


class PolicyWrite(SQLModel):
    """How a class gives out its seats. The draw's seed is made by the service, never sent."""

    opens_at: datetime
    closes_at: datetime
    seats: int = Field(ge=1, le=10_000)
    mode: EnrolmentMode = EnrolmentMode.lottery
    tiers: list[Tier] = Field(
        default_factory=lambda: [Tier.preferred_region, Tier.new_to_class, Tier.everyone], min_length=1, max_length=3
    )
    term_limit: int = Field(default=3, ge=1, le=20, description="seats a resident may hold per term")
    min_learners: int = Field(default=0, ge=0, le=10_000)
    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)
    completion_percent: int = Field(default=80, ge=1, le=100)

    @field_validator("tiers")
    @classmethod
    def _distinct(cls, tiers: list[Tier]) -> list[Tier]:
        if len(set(tiers)) != len(tiers):
            raise ValueError("each tier at most once")
        return tiers

    @model_validator(mode="after")
    def _window(self) -> "PolicyWrite":
        for name in ("opens_at", "closes_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} needs a UTC offset")
        if self.opens_at >= self.closes_at:
            raise ValueError("opens_at must be before closes_at")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age above max_age")
        return self


class PolicyPublic(SQLModel):
    class_id: int
    opens_at: datetime
    closes_at: datetime
    seats: int
    enrolled: int
    seats_left: int
    mode: EnrolmentMode
    tiers: list[str]
    term_limit: int
    min_learners: int
    min_age: int | None
    max_age: int | None
    completion_percent: int
    seed_commitment: str
    seed: str | None = Field(description="revealed at the draw")
    drawn_at: datetime | None
    below_minimum: bool = Field(description="drawn (or closed) with fewer learners than min_learners")
    outcome: Outcome | None


class ApplicationCreate(SQLModel):
    resident_id: str | None = Field(
        default=None, description="the resident's public id, when an agent or the counter applies for them"
    )


class ApplicationPublic(SQLModel):
    id: str = Field(description="the application's public id, as listed in the published draw")
    class_id: int
    resident_id: str
    term_start: date
    state: ApplicationState
    tier: int
    rank: int | None
    waitlist_position: int | None = None
    class_title: str | None = Field(default=None, description="given in lists of a resident's applications")
    channel: Channel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls, application: Application, resident_public_id: str, waitlist_position: int | None = None
    ) -> "ApplicationPublic":
        return cls(
            id=application.public_id,
            class_id=application.class_id,
            resident_id=resident_public_id,
            term_start=application.term_start,
            state=application.state,
            tier=application.tier,
            rank=application.rank,
            waitlist_position=waitlist_position,
            channel=application.channel,
            created_at=application.created_at,
            updated_at=application.updated_at,
        )


class RosterEntry(ApplicationPublic):
    """An application as the class's staff see it: with the resident's name."""

    display_name: str


class DrawEntry(SQLModel):
    rank: int
    application: str
    tier: int
    outcome: str


class DrawPublic(SQLModel):
    class_id: int
    algorithm: str
    seed_commitment: str
    seed: str | None
    drawn_at: datetime | None
    seats: int
    tiers: list[str]
    ranked: list[DrawEntry]


class OutcomeDecision(SQLModel):
    decision: Outcome
