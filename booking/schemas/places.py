"""Regions, organisations, venues and spaces: create / update / public families."""

from sqlmodel import Field, SQLModel

from booking.models import DEFAULT_TIMEZONE, OrganisationKind, RegionLevel, SpaceKind, VenueKind
from booking.rules.credits import Rounding
from booking.schemas.common import BufferMinutes, CountryCode, Features, Name, TimeZoneName


class RegionCreate(SQLModel):
    name: Name
    level: RegionLevel
    parent_id: int | None = None


class RegionUpdate(SQLModel):
    name: Name | None = None
    parent_id: int | None = None


class RegionPublic(RegionCreate):
    id: int


class OrganisationCreate(SQLModel):
    name: Name
    kind: OrganisationKind
    region_id: int | None = None
    # The learning-credit scheme of its classes: attended hours per credit, points per hour, rounding.
    hours_per_credit: float = Field(default=16.0, gt=0, le=1000)
    points_per_hour: float = Field(default=1.0, ge=0, le=100)
    credit_rounding: Rounding = Rounding.down_to_half


class OrganisationUpdate(SQLModel):
    name: Name | None = None
    kind: OrganisationKind | None = None
    region_id: int | None = None
    hours_per_credit: float | None = Field(default=None, gt=0, le=1000)
    points_per_hour: float | None = Field(default=None, ge=0, le=100)
    credit_rounding: Rounding | None = None


class OrganisationPublic(OrganisationCreate):
    id: int


class VenueCreate(SQLModel):
    name: Name
    kind: VenueKind
    region_id: int
    owner_id: int
    address: str = Field(default="", max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    timezone: TimeZoneName = DEFAULT_TIMEZONE
    closes_on_public_holidays: bool = False
    country: CountryCode = "CN"


class VenueUpdate(SQLModel):
    name: Name | None = None
    kind: VenueKind | None = None
    region_id: int | None = None
    owner_id: int | None = None
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    timezone: TimeZoneName | None = None
    closes_on_public_holidays: bool | None = None
    country: CountryCode | None = None


class VenuePublic(VenueCreate):
    id: int


class SpaceCreate(SQLModel):
    name: Name
    kind: SpaceKind
    capacity: int = Field(ge=0, le=100_000)
    features: Features = Field(default_factory=list)
    parent_id: int | None = None
    buffer_before_min: BufferMinutes = 0
    buffer_after_min: BufferMinutes = 0


class SpaceUpdate(SQLModel):
    name: Name | None = None
    kind: SpaceKind | None = None
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    features: Features | None = None
    buffer_before_min: BufferMinutes | None = None
    buffer_after_min: BufferMinutes | None = None


class SpacePublic(SpaceCreate):
    id: int
    venue_id: int
    # Ids of this space's children; a space with children is divisible.
    child_ids: list[int] = Field(default_factory=list)
