from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel


class OrganisationKind(StrEnum):
    school = "school"
    library = "library"
    study_room_operator = "study_room_operator"
    sports_centre = "sports_centre"
    community_centre = "community_centre"
    community_college = "community_college"
    community_school = "community_school"
    learning_point = "learning_point"
    university = "university"
    company = "company"
    ngo = "ngo"
    learning_group = "learning_group"
    government = "government"


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    kind: OrganisationKind = Field(sa_type=String(40), index=True)
    region_id: int | None = Field(default=None, foreign_key="regions.id", index=True, ondelete="RESTRICT")
