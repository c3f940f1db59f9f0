from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

DEFAULT_TIMEZONE = "Asia/Shanghai"


class VenueKind(StrEnum):
    school = "school"
    library = "library"
    study_room = "study_room"
    sports_venue = "sports_venue"
    community_centre = "community_centre"
    community_school = "community_school"
    learning_point = "learning_point"
    community_college = "community_college"


class Venue(SQLModel, table=True):
    __tablename__ = "venues"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    kind: VenueKind = Field(sa_type=String(40), index=True)
    region_id: int = Field(foreign_key="regions.id", index=True, ondelete="RESTRICT")
    owner_id: int = Field(foreign_key="organisations.id", index=True, ondelete="RESTRICT")
    address: str = Field(default="", max_length=500)
    latitude: float | None = None
    longitude: float | None = None
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=64)
    # Closed on the public holidays (and substituted days off) of ``country`` (ISO 3166 alpha-2).
    closes_on_public_holidays: bool = False
    country: str = Field(default="CN", max_length=2)
