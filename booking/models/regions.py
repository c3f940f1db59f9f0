from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel


class RegionLevel(StrEnum):
    district = "district"
    town = "town"
    community = "community"


# The level a region's parent must have; a district is a root.
PARENT_LEVEL: dict[RegionLevel, RegionLevel | None] = {
    RegionLevel.district: None,
    RegionLevel.town: RegionLevel.district,
    RegionLevel.community: RegionLevel.town,
}


class Region(SQLModel, table=True):
    __tablename__ = "regions"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    level: RegionLevel = Field(sa_type=String(20))
    parent_id: int | None = Field(default=None, foreign_key="regions.id", index=True, ondelete="RESTRICT")
